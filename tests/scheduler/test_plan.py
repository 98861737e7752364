"""The dry-run: same decision as the controller, nothing written."""

from __future__ import annotations

from controllers.scheduler.plan import PlanCache, plan_job
from reconciler.model.job import Port
from reconciler.model.objects import AllocatedPort
from reconciler.model.plan import DesiredUpdates, PlanResult, describe_failure, scheduler_dry_run
from reconciler.store import Store
from tests.scheduler.factories import mock_alloc, mock_job, with_count
from tests.scheduler.sim import add_node, submit


def test_plan_of_a_new_job_places_everything_and_writes_nothing(store: Store) -> None:
    add_node(store, "n1")
    before = store.count(store.keys.prefix)
    res = plan_job(store, mock_job(3))
    assert store.count(store.keys.prefix) == before
    assert res.desired_tg_updates["web"].place == 3
    assert res.exit_code == 1
    assert not res.failed_tg_allocs
    assert scheduler_dry_run(res.failed_tg_allocs) == [
        "Scheduler dry-run:",
        "- All tasks successfully allocated.",
    ]


def test_plan_of_an_unchanged_job_exits_zero(store: Store) -> None:
    add_node(store, "n1")
    job = mock_job(2)
    submit(store, job)
    for i in range(2):
        a = mock_alloc(job, i, node="n1", id=f"x{i}")
        store.put(store.keys.alloc(a.id), a)
    res = plan_job(store, job)
    assert res.exit_code == 0
    assert res.desired_tg_updates["web"] == DesiredUpdates(ignore=2)
    grown = plan_job(store, with_count(job, 3))
    assert grown.desired_tg_updates["web"].words() == "(1 create, 2 in-place update)"


def test_plan_reports_a_reserved_port_collision_in_words(store: Store) -> None:
    add_node(store, "n1")
    other = mock_job(1, id="other", ports=[Port("http", static=8080)])
    a = mock_alloc(other, 0, node="n1", id="o0", ports=[AllocatedPort("http", 8080)])
    store.put(store.keys.alloc(a.id), a)
    cache = PlanCache(store).start()
    try:
        res: PlanResult = cache.plan_job(store, mock_job(4, ports=[Port("http", static=8080)]))
    finally:
        cache.stop()
    fresh = plan_job(store, mock_job(4, ports=[Port("http", static=8080)]))
    assert fresh.failed_tg_allocs == res.failed_tg_allocs  # fresh reads decide the same
    m = res.failed_tg_allocs["web"]
    assert m.coalesced_failures == 3
    assert describe_failure(m) == [
        "Resources exhausted on 1 node",
        'Dimension "network: reserved port collision http=8080" exhausted on 1 node',
    ]
    assert scheduler_dry_run(res.failed_tg_allocs)[1:3] == [
        "- WARNING: Failed to place all allocations.",
        '  Task Group "web" (failed to place 4 allocations):',
    ]
    body = res.to_nomad()
    assert body["FailedTGAllocs"]["web"]["DimensionExhausted"] == {
        "network: reserved port collision http=8080": 1
    }
    assert body["Annotations"]["DesiredTGUpdates"]["web"]["Place"] == 4


def test_the_user_storys_canary_plan_after_a_stop_reads_as_nomads(store: Store) -> None:
    """The story's history: `todo` (count 1) run and stopped, the scaled service run (5), the
    header version run over it (5 more, the older 5 stopped), then `plan` of the canary
    version. Terminal allocations are not counted, so the text is Nomad's `(1 canary, 5
    ignore)`, character for character (issue 12)."""
    from reconciler.model.objects import DesiredStatus
    from reconciler.spec import diff_jobs, load_job_file
    from reconciler.spec.plan_render import render_plan
    from tests.spec.paths import EXAMPLES, PLANS

    add_node(store, "n1")
    story = [load_job_file(EXAMPLES / f"{n}.nomad") for n in STORY_VERSIONS]
    header = story[-2]
    submit(store, header, version=len(story) - 2)
    for version, job in enumerate(story[:-1]):
        running = version == len(story) - 2
        for i in range(job.task_groups[0].count):
            a = mock_alloc(
                job,
                i,
                node="n1",
                version=version,
                id=f"v{version}-{i}",
                desired_status=DesiredStatus.RUN if running else DesiredStatus.STOP,
            )
            store.put(store.keys.alloc(a.id), a)
    res = plan_job(store, story[-1])
    text = render_plan(diff_jobs(header, story[-1]), res.desired_tg_updates, {})
    assert res.desired_tg_updates["web"].words() == "(1 canary, 5 ignore)"
    assert text.split("\n\nScheduler dry-run:")[0] + "\n" == (PLANS / "canary.txt").read_text(
        encoding="utf-8"
    )


STORY_VERSIONS = [
    "todo-java",
    "todo-java-scaled-service",
    "todo-java-scaled-service-header",
    "todo-java-scaled-service-header-canary",
]
