"""Disconnected clients, pure and table-driven: the `unknown` state, the replacement's
timing, the window's end, and which copy survives a reconnect (Nomad's `disconnect` block
and reconnecting picker). No etcd: `reconcile` and `decide` are plain functions. Reading
the block from a job file is tests/spec/test_disconnect_block.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from controllers.scheduler.decide import decide
from controllers.scheduler.disconnect import pick
from controllers.scheduler.reconcile import reconcile
from reconciler.model.disconnect import awaits_reconnect
from reconciler.model.job import (
    SECOND,
    DisconnectStrategy,
    Job,
    ReconcileOption,
    ReschedulePolicy,
    UpdateStrategy,
)
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    Deployment,
    DeploymentGroupState,
    DesiredStatus,
    NodeStatus,
    TaskState,
)
from tests.scheduler.factories import mock_alloc, mock_job, mock_node, mock_status, nodes_map

NOW = 1_000_000.0
MIN = 60.0
WINDOW = DisconnectStrategy(lost_after=5 * 60 * SECOND)
NO_DELAY = ReschedulePolicy(delay=0, delay_function="constant")


def _job(
    count: int = 1,
    *,
    disconnect: DisconnectStrategy | None = WINDOW,
    reschedule: ReschedulePolicy | None = NO_DELAY,
    **group: Any,
) -> Job:
    job = mock_job(count)
    g = dataclasses.replace(job.task_groups[0], disconnect=disconnect, reschedule=reschedule, **group)
    return dataclasses.replace(job, task_groups=[g])


JOB = _job()
UP = mock_node("n1")
AWAY = mock_node("n1", status=NodeStatus.DISCONNECTED)
DOWN = mock_node("n1", status=NodeStatus.DOWN)
OTHER = mock_node("n2")


def _unknown(since: float = NOW - MIN, **kw: Any) -> Allocation:
    return mock_alloc(JOB, 0, client_status=ClientStatus.UNKNOWN, disconnected_at=since, **kw)


@dataclass
class Case:
    id: str
    job: Job
    allocs: list[Allocation]
    node: Any
    want: dict[str, int]
    running: list[str] = field(default_factory=lambda: ["a-web-0-0-n1"])  # the agent says running
    followup: float | None = None
    check: Callable[[Any], bool] | None = None
    version: int = 0


ORIGINAL = mock_alloc(JOB, 0)
REPLACED = mock_alloc(JOB, 0, id="r0", node="n2", previous_allocation=ORIGINAL.id)

CASES = [
    Case(
        "running on a disconnected node: unknown, replaced at once (no reschedule delay)",
        JOB,
        [ORIGINAL],
        AWAY,
        {"disconnect": 1, "place": 1},
        followup=NOW + 5 * MIN,
        check=lambda r: r.place[0].previous is not None and r.place[0].previous.id == ORIGINAL.id,
    ),
    Case(
        "replace = false: unknown, no replacement, wait for the node",
        _job(disconnect=DisconnectStrategy(lost_after=5 * 60 * SECOND, replace=False)),
        [ORIGINAL],
        AWAY,
        {"disconnect": 1},
        followup=NOW + 5 * MIN,
    ),
    Case(
        "the service default reschedule delay: unknown now, replaced 30 s later",
        _job(reschedule=None),
        [ORIGINAL],
        AWAY,
        {"disconnect": 1},
        followup=NOW + 30,
    ),
    Case(
        "max_client_disconnect is the window when there is no disconnect block",
        _job(disconnect=None, max_client_disconnect=2 * 60 * SECOND),
        [ORIGINAL],
        AWAY,
        {"disconnect": 1, "place": 1},
        followup=NOW + 2 * MIN,
    ),
    Case(
        "no window: a disconnected node's allocations are lost and replaced",
        _job(disconnect=None),
        [ORIGINAL],
        AWAY,
        {"lost": 1, "stop": 1, "place": 1},
    ),
    Case(
        "pending on a disconnected node: lost",
        JOB,
        [ORIGINAL],
        AWAY,
        {"lost": 1, "stop": 1, "place": 1},
        running=[],
    ),
    Case(
        "unknown with its replacement running: left alone until the window ends",
        JOB,
        [_unknown(), dataclasses.replace(REPLACED, previous_allocation=ORIGINAL.id)],
        AWAY,
        {},
        running=["r0"],
        followup=NOW + 4 * MIN,
    ),
    Case(
        "unknown without a replacement (placement failed): replaced now",
        JOB,
        [_unknown()],
        AWAY,
        {"place": 1},
        followup=NOW + 4 * MIN,
    ),
    Case(
        "unknown past lost_after: lost; its running replacement is not doubled",
        JOB,
        [_unknown(since=NOW - 6 * MIN), REPLACED],
        AWAY,
        {"lost": 1, "stop": 1},
        running=["r0"],
    ),
    Case(
        "unknown past lost_after without a replacement (replace = false): lost and replaced",
        _job(disconnect=DisconnectStrategy(lost_after=5 * 60 * SECOND, replace=False)),
        [_unknown(since=NOW - 6 * MIN)],
        AWAY,
        {"lost": 1, "stop": 1, "place": 1},
    ),
    Case(
        "unknown on a node gone down, replace = false: still waits",
        _job(disconnect=DisconnectStrategy(lost_after=5 * 60 * SECOND, replace=False)),
        [_unknown()],
        DOWN,
        {},
        followup=NOW + 4 * MIN,
    ),
    Case(
        "stop_on_client_after: lost on a down node, held until its client stopped it",
        _job(disconnect=DisconnectStrategy(stop_on_client_after=2 * 60 * SECOND)),
        [ORIGINAL],
        mock_node("n1", status=NodeStatus.DOWN, modify_time=NOW - MIN),
        {},
        followup=NOW + MIN + 5,  # and the default kill_timeout
    ),
    Case(
        "stop_on_client_after passed: lost and replaced",
        _job(disconnect=None, stop_after_client_disconnect=30 * SECOND),
        [ORIGINAL],
        mock_node("n1", status=NodeStatus.DOWN, modify_time=NOW - MIN),
        {"lost": 1, "stop": 1, "place": 1},
    ),
    Case(
        "reconnect without a replacement: kept, unknown cleared",
        _job(disconnect=DisconnectStrategy(lost_after=5 * 60 * SECOND, replace=False)),
        [_unknown()],
        UP,
        {"reconnect": 1},
    ),
    Case(
        "reconnect beside a replacement (best_score, neither scored): the original stays",
        JOB,
        [_unknown(), REPLACED],
        UP,
        {"reconnect": 1, "stop": 1},
        running=["a-web-0-0-n1", "r0"],
        check=lambda r: [s.alloc.id for s in r.stop] == ["r0"],
    ),
    Case(
        "reconnect, the original failed while away: it is stopped as failed, the replacement stays",
        JOB,
        [_unknown(), REPLACED],
        UP,
        {"stop": 1},
        running=["r0"],
        check=lambda r: r.stop[0].alloc.id == ORIGINAL.id and r.stop[0].client_status == ClientStatus.FAILED,
    ),
    Case(
        "reconnect of an older job version: stopped, the replacement stays",
        JOB,
        [_unknown(), dataclasses.replace(REPLACED, job_version=1)],
        UP,
        {"stop": 1},
        running=["a-web-0-0-n1", "r0"],
        check=lambda r: r.stop[0].alloc.id == ORIGINAL.id,
        version=1,
    ),
]


def _statuses(case: Case) -> dict[str, AllocStatus]:
    out = {a.id: mock_status(a, ClientStatus.PENDING) for a in case.allocs}
    for a in case.allocs:
        if a.id in case.running:
            out[a.id] = mock_status(a, ClientStatus.RUNNING)
        elif "failed" in case.id and a.id == ORIGINAL.id:
            out[a.id] = mock_status(a, ClientStatus.FAILED)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_disconnect_classification(case: Case) -> None:
    version = case.version
    r = reconcile(
        case.job,
        case.allocs,
        _statuses(case),
        nodes=nodes_map(case.node, OTHER),
        job_version=version,
        now=NOW,
    )
    got = {
        "place": len(r.place),
        "stop": len(r.stop),
        "lost": len(r.lost),
        "disconnect": len(r.disconnect),
        "reconnect": len(r.reconnect),
    }
    assert {k: v for k, v in got.items() if v} == case.want
    assert r.followup_at() == case.followup
    if case.check is not None:
        assert case.check(r), r


def _scored(a: Allocation, score: float | None, started: float = 0.0, running: bool = True) -> Any:
    st = AllocStatus(
        alloc_id=a.id,
        node_id=a.node_id,
        client_status=ClientStatus.RUNNING if running else ClientStatus.PENDING,
        task_states={"server": TaskState(started_at=started)} if started else {},
    )
    return dataclasses.replace(a, score=score), st


@pytest.mark.parametrize(
    ("option", "original", "replacement", "winner"),
    [
        # (score, started at, running) of each copy
        (ReconcileOption.BEST_SCORE, (0.5, 10.0, True), (0.7, 20.0, True), "replacement"),
        (ReconcileOption.BEST_SCORE, (0.7, 10.0, True), (0.5, 20.0, True), "original"),
        (ReconcileOption.BEST_SCORE, (0.5, 10.0, True), (0.7, 0.0, False), "original"),  # not running
        (ReconcileOption.BEST_SCORE, (0.5, 10.0, False), (0.7, 0.0, False), "replacement"),
        (ReconcileOption.BEST_SCORE, (None, 10.0, True), (0.1, 20.0, True), "replacement"),
        (ReconcileOption.BEST_SCORE, (0.1, 10.0, True), (None, 20.0, True), "original"),
        (ReconcileOption.BEST_SCORE, (None, 10.0, True), (None, 20.0, True), "original"),
        (ReconcileOption.KEEP_ORIGINAL, (0.1, 10.0, True), (0.9, 20.0, True), "original"),
        (ReconcileOption.KEEP_REPLACEMENT, (0.9, 10.0, True), (0.1, 20.0, True), "replacement"),
        (ReconcileOption.LONGEST_RUNNING, (0.1, 10.0, True), (0.9, 20.0, True), "original"),
        (ReconcileOption.LONGEST_RUNNING, (0.9, 30.0, True), (0.1, 20.0, True), "replacement"),
        (ReconcileOption.LONGEST_RUNNING, (0.9, 0.0, True), (0.1, 20.0, True), "replacement"),
        (ReconcileOption.LONGEST_RUNNING, (0.1, 0.0, True), (0.9, 0.0, True), "replacement"),  # best score
    ],
)
def test_which_copy_survives_a_reconnect(
    option: ReconcileOption,
    original: tuple[float | None, float, bool],
    replacement: tuple[float | None, float, bool],
    winner: str,
) -> None:
    g = _job(disconnect=DisconnectStrategy(lost_after=60 * SECOND, reconcile=option)).task_groups[0]
    o, o_st = _scored(ORIGINAL, *original)
    r, r_st = _scored(REPLACED, *replacement)
    kept = pick(g, o, r, {o.id: o_st, r.id: r_st})
    assert kept is (o if winner == "original" else r)


def test_a_newer_replacement_always_wins() -> None:
    g = _job(disconnect=DisconnectStrategy(lost_after=60 * SECOND, reconcile=ReconcileOption.KEEP_ORIGINAL))
    newer = dataclasses.replace(REPLACED, job_version=1)
    assert pick(g.task_groups[0], ORIGINAL, newer, {}) is newer


def test_decide_marks_unknown_then_clears_it_on_reconnect() -> None:
    """The writes: unknown with the time and the replacement named; on reconnect the
    original's unknown is cleared and the replacement stopped. The count never grows."""
    job = _job(2)
    allocs = [mock_alloc(job, 0), mock_alloc(job, 1, node="n2")]
    statuses = {a.id: mock_status(a, ClientStatus.RUNNING) for a in allocs}
    nodes = nodes_map(AWAY, OTHER)
    d = decide(job, 0, allocs, allocs, statuses, nodes, eval_id="e1", now=NOW)
    assert len(d.new_allocs) == 1
    assert d.new_allocs[0].node_id == "n2"
    marked = {a.id: a for a in d.updated_allocs}[allocs[0].id]
    assert marked.client_status == ClientStatus.UNKNOWN
    assert marked.disconnected_at == NOW
    assert marked.next_allocation == d.new_allocs[0].id
    assert marked.desired_status == DesiredStatus.RUN
    assert d.followup_at == NOW + 5 * MIN
    # the node heartbeats again: one copy of index 0 survives (neither has a better score
    # over the other here: the original stays)
    now = NOW + MIN
    state = [marked, allocs[1], dataclasses.replace(d.new_allocs[0], score=None)]
    statuses.update({a.id: mock_status(a, ClientStatus.RUNNING) for a in state})
    d2 = decide(job, 0, state, state, statuses, nodes_map(UP, OTHER), eval_id="e2", now=now)
    changed = {a.id: a for a in d2.updated_allocs}
    assert not d2.new_allocs
    assert changed[marked.id].client_status is None
    assert changed[marked.id].desired_status == DesiredStatus.RUN
    assert changed[d.new_allocs[0].id].desired_status == DesiredStatus.STOP
    # and a third look changes nothing
    settled = [changed[marked.id], allocs[1], changed[d.new_allocs[0].id]]
    d3 = decide(job, 0, settled, settled, statuses, nodes_map(UP, OTHER), eval_id="e3", now=now)
    assert not d3.new_allocs
    assert not d3.updated_allocs


def test_a_canary_in_progress_does_not_multiply_allocations() -> None:
    """A deployment holding its canary (not promoted) when an old allocation's node goes
    away: one replacement, and after the reconnect the group is back to count + canary."""
    job = dataclasses.replace(_job(2), update=UpdateStrategy(max_parallel=1, canary=1))
    olds = [mock_alloc(job, 0), mock_alloc(job, 1, node="n2")]
    canary = mock_alloc(job, 0, id="c0", node="n2", version=1, canary=True, deployment_id="d1")
    dep = Deployment(
        id="d1",
        namespace=job.namespace,
        job_id=job.id,
        job_version=1,
        task_groups={
            "web": DeploymentGroupState(desired_canaries=1, desired_total=2, placed_canaries=["c0"])
        },
    )
    allocs = [*olds, canary]
    statuses = {a.id: mock_status(a, ClientStatus.RUNNING) for a in allocs}
    versions = {0: job, 1: job}
    kw: dict[str, Any] = {"eval_id": "e1", "versions": versions, "deployment": dep}
    d = decide(job, 1, allocs, allocs, statuses, nodes_map(AWAY, OTHER), now=NOW, **kw)
    assert len(d.new_allocs) == 1  # the unknown one's replacement, nothing else
    live = [*[a for a in allocs if a.id not in {u.id for u in d.updated_allocs}], *d.updated_allocs]
    live += d.new_allocs
    statuses.update({a.id: mock_status(a, ClientStatus.RUNNING) for a in live})
    again = decide(job, 1, live, live, statuses, nodes_map(AWAY, OTHER), now=NOW + 1, **kw)
    assert not again.new_allocs  # a second look while away places nothing more
    back = decide(job, 1, live, live, statuses, nodes_map(UP, OTHER), now=NOW + MIN, **kw)
    stopped = {a.id for a in back.updated_allocs if a.desired_status == DesiredStatus.STOP}
    running = [a for a in live if a.id not in stopped]
    assert not back.new_allocs
    assert len(stopped) == 1
    assert sorted((a.index, a.canary) for a in running) == [(0, False), (0, True), (1, False)]


@pytest.mark.parametrize(
    ("alloc", "since", "window", "waits"),
    [
        (ORIGINAL, NOW - MIN, 120.0, True),  # not marked yet: counts from the node's departure
        (ORIGINAL, NOW - 3 * MIN, 120.0, False),
        (_unknown(since=NOW - MIN), 0.0, 120.0, True),
        (_unknown(since=NOW - 3 * MIN), 0.0, 120.0, False),
        (ORIGINAL, NOW, 0.0, False),  # no window
        (dataclasses.replace(ORIGINAL, desired_status=DesiredStatus.STOP), NOW, 120.0, False),
        (dataclasses.replace(ORIGINAL, client_status=ClientStatus.LOST), NOW, 120.0, False),
    ],
)
def test_awaits_reconnect(alloc: Allocation, since: float, window: float, waits: bool) -> None:
    assert awaits_reconnect(alloc, window, since=since, now=NOW) is waits
