"""Preemption, pure and table-driven: the choice of which allocations to evict, placement
with it through the scheduler's one decision, the preempted jobs' evaluations, the batches a
big plan is written in, and the summary `job plan` prints. No etcd: the scheduler against a
real etcd, the API and `job plan`'s output are in test_preemption_cluster.py."""

from __future__ import annotations

import dataclasses

import pytest

from controllers.scheduler.decide import decide, decide_batches
from controllers.scheduler.evals import preemption_evals
from controllers.scheduler.preempting import JobFacts
from controllers.scheduler.preemption import (
    Candidate,
    choose_preemptions,
    net_priority,
    preemption_score,
)
from controllers.scheduler.stream import drain
from reconciler import codec
from reconciler.cli.job_cmds import preemptions_text
from reconciler.model.ids import AllocId, EvalId, NodeId
from reconciler.model.job import Job
from reconciler.model.objects import Allocation, DesiredStatus, JobRecord, Node
from tests.scheduler.factories import mock_alloc, mock_job, mock_node


def cand(
    name: str, priority: int, cpu: int, mem: int, *, group: str = "g", max_parallel: int = 0
) -> Candidate:
    return Candidate(AllocId(name), "default", f"job-{name}", group, priority, cpu, mem, max_parallel)


# (case, priority, ask (cpu, mem), free (cpu, mem), candidates, already, chosen names or None)
CHOICES: list[
    tuple[
        str,
        int,
        tuple[int, int],
        tuple[int, int],
        list[Candidate],
        dict[tuple[str, str, str], int],
        list[str] | None,
    ]
] = [
    ("nothing 10 lower", 55, (500, 500), (0, 0), [cand("a", 50, 1000, 1000)], {}, None),
    ("exactly 10 lower", 60, (500, 500), (0, 0), [cand("a", 50, 1000, 1000)], {}, ["a"]),
    ("higher is never taken", 80, (500, 500), (0, 0), [cand("a", 90, 1000, 1000)], {}, None),
    (
        "lowest priority first",
        80,
        (500, 500),
        (0, 0),
        [cand("p30", 30, 500, 500), cand("p20", 20, 500, 500)],
        {},
        ["p20"],
    ),
    (
        "the closest to the ask, not several small ones",
        80,
        (1000, 1000),
        (0, 0),
        [
            cand("s1", 20, 400, 400),
            cand("s2", 20, 400, 400),
            cand("s3", 20, 400, 400),
            cand("big", 20, 1000, 1000),
        ],
        {},
        ["big"],
    ),
    (
        "several when one is not enough",
        80,
        (800, 800),
        (0, 0),
        [cand("s1", 20, 400, 400), cand("s2", 20, 400, 400), cand("s3", 20, 400, 400)],
        {},
        ["s1", "s2"],
    ),
    (
        "free capacity counts",
        80,
        (800, 800),
        (400, 400),
        [cand("s1", 20, 400, 400), cand("s2", 20, 400, 400)],
        {},
        ["s1"],
    ),
    (
        "not enough even with every candidate",
        80,
        (2000, 2000),
        (0, 0),
        [cand("s1", 20, 400, 400), cand("s2", 75, 4000, 4000)],
        {},
        None,
    ),
    (
        "the second pass drops what a bigger one already covers",
        80,
        (1000, 1000),
        (0, 0),
        [cand("small", 20, 100, 100), cand("huge", 30, 3000, 3000)],
        {},
        ["huge"],
    ),
    (
        "max_parallel reached: another group is preferred",
        80,
        (500, 500),
        (0, 0),
        [cand("x", 20, 500, 500, group="g1", max_parallel=1), cand("y", 20, 600, 600, group="g2")],
        {("default", "job-x", "g1"): 1},
        ["y"],
    ),
    (
        "memory alone short",
        80,
        (100, 900),
        (4000, 100),
        [cand("m", 20, 10, 800)],
        {},
        ["m"],
    ),
]


@pytest.mark.parametrize(
    ("case", "priority", "ask", "free", "candidates", "already", "want"), CHOICES, ids=[c[0] for c in CHOICES]
)
def test_choose_preemptions(
    case: str,
    priority: int,
    ask: tuple[int, int],
    free: tuple[int, int],
    candidates: list[Candidate],
    already: dict[tuple[str, str, str], int],
    want: list[str] | None,
) -> None:
    got = choose_preemptions(
        priority=priority,
        ask_cpu=ask[0],
        ask_mem=ask[1],
        free_cpu=free[0],
        free_mem=free[1],
        candidates=candidates,
        already=already,
    )
    assert (sorted(c.alloc_id for c in got) if got is not None else None) == want, case


@pytest.mark.parametrize(
    ("cheaper", "dearer"),
    [([20], [60]), ([20], [20, 20, 20]), ([10, 10], [90])],
)
def test_preemption_score_prefers_fewer_and_lower_priorities(cheaper: list[int], dearer: list[int]) -> None:
    assert net_priority(cheaper) < net_priority(dearer)
    assert preemption_score(cheaper) > preemption_score(dearer)
    assert 0.0 < preemption_score(dearer) <= 1.0


# -- placement through the one decision ------------------------------------------------------


def _full_node() -> tuple[Job, list[Allocation], dict[NodeId, Node]]:
    low = mock_job(2, id="low", cpu=500, memory=256, priority=20)
    node = mock_node("n1", cpu=1000, memory=1024)
    return low, [mock_alloc(low, i, node="n1", cpu=500, memory=256) for i in range(2)], {node.id: node}


@pytest.mark.parametrize(
    ("priority", "preempt", "placed"),
    [(80, True, True), (80, False, False), (29, True, False), (30, True, True)],
)
def test_a_placement_evicts_only_when_enabled_and_10_lower(
    priority: int, preempt: bool, placed: bool
) -> None:
    _low, low_allocs, nodes = _full_node()
    high = mock_job(1, id="high", cpu=400, memory=200, priority=priority)
    d = decide(
        high,
        0,
        [],
        low_allocs,
        {},
        nodes,
        eval_id=EvalId("e1"),
        now=100.0,
        preempt=preempt,
        other_jobs={("default", "low"): JobFacts(20)},
    )
    if not placed:
        assert not d.new_allocs
        assert d.failed
        assert not d.preempted
        return
    (new,) = d.new_allocs
    (evicted,) = d.preempted  # one 500 MHz allocation frees enough for 400
    assert new.node_id == "n1"
    assert new.preempted_allocations == [evicted.id]
    assert evicted.job_id == "low"
    assert evicted.desired_status == DesiredStatus.EVICT
    assert evicted.desired_description == f"Preempted by alloc ID {new.id}"
    assert evicted.preempted_by_allocation == new.id
    assert not d.failed


def test_a_system_job_preempts_on_its_own_node() -> None:
    _low, low_allocs, nodes = _full_node()
    agent = mock_job(1, id="agent", type="system", cpu=300, memory=100, priority=90)
    d = decide(
        agent,
        0,
        [],
        low_allocs,
        {},
        nodes,
        eval_id=EvalId("e"),
        now=1.0,
        preempt=True,
        other_jobs={("default", "low"): JobFacts(20)},
    )
    assert [a.node_id for a in d.new_allocs] == ["n1"]
    assert len(d.preempted) == 1


def test_preempted_allocations_are_not_preempted_twice_in_one_plan() -> None:
    _low, low_allocs, nodes = _full_node()
    high = mock_job(2, id="high", cpu=500, memory=256, priority=80)
    d = decide(
        high,
        0,
        [],
        low_allocs,
        {},
        nodes,
        eval_id=EvalId("e"),
        now=1.0,
        preempt=True,
        other_jobs={("default", "low"): JobFacts(20)},
    )
    assert len(d.new_allocs) == 2
    assert sorted(a.id for a in d.preempted) == sorted(a.id for a in low_allocs)
    assert {a.preempted_by_allocation for a in d.preempted} == {a.id for a in d.new_allocs}


def test_each_preempted_job_gets_one_preemption_evaluation() -> None:
    low, low_allocs, nodes = _full_node()
    high = mock_job(2, id="high", cpu=500, memory=256, priority=80)
    d = decide(
        high,
        0,
        [],
        low_allocs,
        {},
        nodes,
        eval_id=EvalId("e"),
        now=1.0,
        preempt=True,
        other_jobs={("default", "low"): JobFacts(20)},
    )
    rec = JobRecord(namespace="default", id="low", version=3, job=low, spec_hash="x")
    (ev,) = preemption_evals(d, {("default", "low"): rec}, now=5.0)
    assert (ev.job_id, ev.triggered_by, ev.priority, ev.status, ev.job_version) == (
        "low",
        "preemption",
        20,
        "pending",
        3,
    )


# -- what a plan records, prints and writes in batches ------------------------------------


def test_preemption_fields_round_trip_through_the_codec() -> None:
    a = dataclasses.replace(
        mock_alloc(mock_job(1), 0), preempted_allocations=[AllocId("x")], preempted_by_allocation=AllocId("y")
    )
    assert codec.decode(codec.encode(a), Allocation) == a


@pytest.mark.parametrize(
    ("n_allocs", "n_jobs", "header"),
    [
        (3, 1, ["Alloc ID", "Job ID", "Task Group"]),
        (12, 2, ["Job ID", "Namespace", "Job Type", "Preemptions"]),
        (12, 12, ["Job Type", "Preemptions"]),
    ],
)
def test_many_preemptions_are_summarised(n_allocs: int, n_jobs: int, header: list[str]) -> None:
    preempted = [
        {
            "ID": f"a{i}",
            "Namespace": "default",
            "JobID": f"j{i % n_jobs}",
            "TaskGroup": "g",
            "JobType": "batch",
        }
        for i in range(n_allocs)
    ]
    text = preemptions_text(preempted)
    first = text.splitlines()[0]
    assert [h for h in header if h in first] == header
    assert len(text.splitlines()) == 1 + {3: 3, 2: 2, 12: 1}[n_allocs if n_jobs == 1 else n_jobs]


def test_each_batch_leads_with_the_evictions_its_placements_need() -> None:
    """Written in the yielded order, an eviction never lands after the placement it makes
    room for (a big plan's batches are separate transactions)."""
    nodes = {NodeId(f"n{i}"): mock_node(f"n{i}", cpu=1000, memory=1024) for i in range(3)}
    low = mock_job(3, id="low", cpu=1000, memory=256, priority=20)
    low_allocs = [mock_alloc(low, i, node=f"n{i}", cpu=1000, memory=256) for i in range(3)]
    high = mock_job(3, id="high", cpu=600, memory=256, priority=80)
    batches: list[list[Allocation]] = []
    d = drain(
        decide_batches(
            high,
            0,
            [],
            low_allocs,
            {},
            nodes,
            eval_id=EvalId("e"),
            now=1.0,
            preempt=True,
            other_jobs={("default", "low"): JobFacts(20)},
        ),
        batches.append,
    )
    written = [a for b in batches for a in b]
    assert len(d.new_allocs) == 3
    assert len(d.preempted) == 3
    for new in d.new_allocs:
        (victim,) = new.preempted_allocations
        assert [a.id for a in written].index(victim) < [a.id for a in written].index(new.id)
    assert {a.id for a in written} == {a.id for a in [*d.new_allocs, *d.preempted]}


@pytest.mark.parametrize(("max_parallel", "second"), [(1, "other"), (0, "low")])
def test_a_groups_migrate_max_parallel_spreads_preemptions_over_jobs(max_parallel: int, second: str) -> None:
    """Once a service group has lost `max_parallel` allocations in a plan, another job's
    allocation of the same size is preempted before it (Nomad's max_parallel penalty)."""
    node = mock_node("n1", cpu=900, memory=1024)
    low = mock_job(2, id="low", cpu=300, memory=100, priority=20)
    other = mock_job(1, id="other", cpu=300, memory=100, priority=20)
    running = [mock_alloc(low, i, cpu=300, memory=100) for i in range(2)]
    running.append(mock_alloc(other, 0, cpu=300, memory=100, id="other-0"))
    high = mock_job(2, id="high", cpu=300, memory=100, priority=80)
    facts = {
        ("default", "low"): JobFacts(20, {"web": max_parallel}),
        ("default", "other"): JobFacts(20, {"web": max_parallel}),
    }
    d = decide(
        high,
        0,
        [],
        running,
        {},
        {node.id: node},
        eval_id=EvalId("e"),
        now=1.0,
        preempt=True,
        other_jobs=facts,
    )
    assert [a.job_id for a in d.preempted] == ["low", second]


def test_room_left_by_an_eviction_is_taken_before_evicting_again() -> None:
    """The first placement evicts a big allocation; the second fits in what is left on that
    node rather than preempting on the other one."""
    nodes = {NodeId(n): mock_node(n, cpu=1000, memory=1024) for n in ("n1", "n2")}
    low = mock_job(2, id="low", cpu=1000, memory=256, priority=20)
    running = [mock_alloc(low, i, node=f"n{i + 1}", cpu=1000, memory=256) for i in range(2)]
    high = mock_job(2, id="high", cpu=300, memory=100, priority=80)
    d = decide(
        high,
        0,
        [],
        running,
        {},
        nodes,
        eval_id=EvalId("e"),
        now=1.0,
        preempt=True,
        other_jobs={("default", "low"): JobFacts(20)},
    )
    assert len(d.new_allocs) == 2
    (evicted,) = d.preempted
    assert {a.node_id for a in d.new_allocs} == {evicted.node_id}
    assert [a.preempted_allocations for a in d.new_allocs].count([]) == 1
