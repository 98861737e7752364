"""The order the scheduler takes jobs off its queue (Nomad's evaluation broker): the highest
priority of a job's pending evaluations first, then the oldest; the ranked work queue that
hands keys out in that order."""

from __future__ import annotations

import dataclasses

import pytest

from controllers.scheduler.controller import SchedulerController
from controllers.scheduler.queue_order import DEFAULT_RANK, Rank, job_rank
from reconciler.model.evals import new_eval
from reconciler.model.job import Job
from reconciler.model.objects import EvalStatus, Evaluation, JobRecord
from reconciler.runtime.workqueue import PriorityWorkQueue
from reconciler.store import Store
from tests.scheduler.factories import mock_job
from tests.scheduler.sim import add_node, allocs, get_eval, wait_for


def ev(priority: int, created: float, status: EvalStatus = EvalStatus.PENDING) -> Evaluation:
    e = new_eval("default", "j", "job-register", now=created)
    return dataclasses.replace(e, priority=priority, status=status)


def _submit(store: Store, job: Job, *, created: float) -> str:
    rec = JobRecord(namespace=job.namespace, id=job.id, version=0, job=job, spec_hash="0")
    store.put(store.keys.job_version(job.namespace, job.id, 0), rec)
    store.put(store.keys.job(job.namespace, job.id), rec)
    e = new_eval(job.namespace, job.id, "job-register", now=created, record=rec)
    store.put(store.keys.eval(e.id), e)
    return e.id


# (case, evaluations, the job record's priority, now, rank)
RANKS: list[tuple[str, list[Evaluation], int | None, float, Rank]] = [
    ("one pending", [ev(70, 5.0)], 70, 9.0, (-70, 5.0)),
    ("the highest pending priority", [ev(40, 1.0), ev(90, 3.0)], 40, 9.0, (-90, 3.0)),
    ("the oldest at that priority", [ev(60, 4.0), ev(60, 2.0), ev(10, 1.0)], 60, 9.0, (-60, 2.0)),
    (
        "complete and blocked do not count",
        [ev(90, 1.0, EvalStatus.COMPLETE), ev(30, 2.0)],
        30,
        9.0,
        (-30, 2.0),
    ),
    ("no pending: the job's priority, queued now", [ev(90, 1.0, EvalStatus.BLOCKED)], 20, 9.0, (-20, 9.0)),
    ("no job record: the default priority", [], None, 9.0, (-50, 9.0)),
]


@pytest.mark.parametrize(("case", "evals", "job_priority", "now", "rank"), RANKS, ids=[r[0] for r in RANKS])
def test_job_rank(
    case: str, evals: list[Evaluation], job_priority: int | None, now: float, rank: Rank
) -> None:
    assert job_rank(evals, job_priority, now) == rank, case


def test_the_ranked_queue_hands_out_higher_priority_then_older_first() -> None:
    q: PriorityWorkQueue[str] = PriorityWorkQueue(default=DEFAULT_RANK)
    for key, rank in [
        ("low-old", (-20, 1.0)),
        ("high-new", (-80, 5.0)),
        ("mid", (-50, 2.0)),
        ("high-old", (-80, 3.0)),
    ]:
        q.add_ranked(key, rank)
    q.add("resync")  # never ranked: the default priority, after the ranked ones of 50
    order = [q.get(timeout=1) for _ in range(5)]
    assert order == ["high-old", "high-new", "mid", "resync", "low-old"]


def test_equal_ranks_leave_in_the_order_they_came() -> None:
    q: PriorityWorkQueue[str] = PriorityWorkQueue()
    for key in ("c", "a", "b"):
        q.add_ranked(key, (-50, 1.0))
    assert [q.get(timeout=1) for _ in range(3)] == ["c", "a", "b"]


def test_a_key_requeued_while_processing_keeps_its_rank() -> None:
    q: PriorityWorkQueue[str] = PriorityWorkQueue()
    q.add_ranked("high", (-90, 1.0))
    assert q.get(timeout=1) == "high"
    q.add("high")  # queued again while its worker holds it
    q.add_ranked("low", (-10, 0.0))
    q.done("high")
    assert [q.get(timeout=1) for _ in range(2)] == ["high", "low"]


def test_the_scheduler_places_the_higher_priority_job_first(store: Store) -> None:
    """Two jobs that each fill the only node, evaluated by a scheduler that starts with
    both pending: the priority-80 one is placed, the priority-20 one (written first) waits."""
    add_node(store, "n1", cpu=1000, memory=1024)
    low_ev = _submit(store, mock_job(1, id="low", cpu=800, memory=256, priority=20), created=1.0)
    high_ev = _submit(store, mock_job(1, id="high", cpu=800, memory=256, priority=80), created=2.0)
    sched = SchedulerController(store)
    sched.start()
    try:
        wait_for(lambda: get_eval(store, low_ev).status == "blocked", message="low blocked")
        assert get_eval(store, high_ev).status == "complete"
        assert len(allocs(store, "high")) == 1
        assert not allocs(store, "low")
    finally:
        sched.stop()
