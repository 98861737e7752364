"""Evaluation bookkeeping after a decision (`evals.eval_updates`), table-driven: which
evaluations are written, with which status, and when a follow-up is created."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from controllers.scheduler.buckets import ReconcileResult
from controllers.scheduler.decide import Decision
from controllers.scheduler.evals import MAX_PLACED_IDS, eval_updates
from reconciler.model.objects import EvalStatus, Evaluation, JobRecord
from reconciler.model.plan import AllocMetric
from tests.scheduler.factories import mock_alloc, mock_job

NOW = 1000.0
JOB = mock_job(3)
RECORD = JobRecord(namespace="default", id="web", version=2, job=JOB, spec_hash="h")
STOPPED = dataclasses.replace(RECORD, stop=True)


def ev(id: str, status: str = EvalStatus.PENDING, **kw: Any) -> Evaluation:
    return Evaluation(
        id=id,
        namespace="default",
        job_id="web",
        triggered_by="job-register",
        status=status,
        create_time=NOW - 10,
        **kw,
    )


def decision(
    placed: int = 0, updated: int = 0, failed: bool = False, followup_at: float | None = None
) -> Decision:
    return Decision(
        ReconcileResult(),
        new_allocs=[mock_alloc(JOB, i, id=f"n{i}") for i in range(placed)],
        updated_allocs=[mock_alloc(JOB, i, id=f"u{i}") for i in range(updated)],
        failed={"web": AllocMetric(nodes_evaluated=1)} if failed else {},
        queued={"web": 1} if failed else {},
        followup_at=followup_at,
    )


def run(
    d: Decision,
    *,
    record: JobRecord | None = RECORD,
    due: Sequence[Evaluation] = (),
    blocked: Sequence[Evaluation] = (),
    future: Sequence[Evaluation] = (),
    eval_id: str = "e1",
    deployment_id: str = "",
) -> list[tuple[str, str, str]]:
    out = eval_updates(
        namespace="default",
        job_id="web",
        record=record,
        decision=d,
        due=due,
        blocked=blocked,
        future=future,
        eval_id=eval_id,
        followup_id="f1",
        deployment_id=deployment_id,
        now=NOW,
    )
    return [(e.id, e.status, e.status_description) for e in out]


SUPERSEDED = "superseded by a newer evaluation"
REMAINING = "created to place remaining allocations"
DELAYED = "created for delayed rescheduling"


@pytest.mark.parametrize(
    ("d", "kw", "expected"),
    [
        (decision(placed=3), {"due": [ev("e1")]}, [("e1", "complete", "")]),
        (decision(), {"due": [ev("e1")]}, [("e1", "complete", "")]),
        (decision(placed=1, failed=True), {"due": [ev("e1")]}, [("e1", "blocked", REMAINING)]),
        (decision(failed=True), {"due": [ev("e1")], "record": STOPPED}, [("e1", "complete", "")]),
        (
            decision(placed=1),
            {"due": [ev("e0"), ev("e1")]},
            [("e0", "complete", SUPERSEDED), ("e1", "complete", "")],
        ),
        (
            decision(placed=1),
            {"due": [ev("e1")], "blocked": [ev("b0", EvalStatus.BLOCKED)]},
            [("e1", "complete", ""), ("b0", "complete", SUPERSEDED)],
        ),
        (decision(), {}, []),
        (decision(updated=1), {"eval_id": "drift"}, [("drift", "complete", "")]),
        (decision(failed=True), {"eval_id": "drift"}, [("drift", "blocked", REMAINING)]),
        (
            decision(followup_at=NOW + 30),
            {"due": [ev("e1")]},
            [("e1", "complete", ""), ("f1", "pending", DELAYED)],
        ),
        (
            decision(followup_at=NOW + 30),
            {"due": [ev("e1")], "future": [ev("w", wait_until=NOW + 20)]},
            [("e1", "complete", "")],
        ),
        (
            decision(followup_at=NOW + 30),
            {"due": [ev("e1")], "future": [ev("w", wait_until=NOW + 40)]},
            [("e1", "complete", ""), ("f1", "pending", DELAYED)],
        ),
    ],
    ids=[
        "all placed: the evaluation completes",
        "nothing to do: the evaluation completes",
        "a failed placement blocks the evaluation",
        "a stopped job never blocks",
        "older due evaluations are superseded",
        "a blocked evaluation is answered too",
        "no evaluation and no change: nothing written",
        "drift without an evaluation records one",
        "a failure without an evaluation records a blocked one",
        "a delayed reschedule gets a follow-up",
        "an earlier waiting evaluation covers the follow-up",
        "a later waiting evaluation does not",
    ],
)
def test_eval_updates(d: Decision, kw: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    assert run(d, **kw) == expected


def test_still_blocked_for_the_same_reasons_is_not_rewritten() -> None:
    d = decision(failed=True)
    metrics = {g: dataclasses.asdict(m) for g, m in d.failed.items()}
    blocked = ev("e1", EvalStatus.BLOCKED, failed_tg_allocs=metrics)
    assert run(d, blocked=[blocked]) == []
    assert run(decision(failed=True, placed=1), blocked=[blocked]) == [("e1", "blocked", REMAINING)]


def test_the_main_evaluation_carries_the_outcome() -> None:
    d = decision(placed=MAX_PLACED_IDS + 5, failed=True)
    out = eval_updates(
        namespace="default",
        job_id="web",
        record=RECORD,
        decision=d,
        due=[ev("e0"), ev("e1")],
        blocked=[],
        future=[],
        eval_id="e1",
        followup_id="f1",
        deployment_id="d1",
        now=NOW,
    )
    by_id = {e.id: e for e in out}
    main, other = by_id["e1"], by_id["e0"]
    assert len(main.placed) == MAX_PLACED_IDS
    assert main.queued_allocations == {"web": 1}
    assert main.failed_tg_allocs == {"web": dataclasses.asdict(AllocMetric(nodes_evaluated=1))}
    assert main.deployment_id == "d1"
    assert main.job_version == 2
    assert main.modify_time == NOW
    assert other.placed == []
    assert other.failed_tg_allocs == {}
    assert other.deployment_id == ""
