"""Evaluation bookkeeping after a decision, pure: which evaluations to write, and how.

The evaluation the decision ran for (`eval_id`) ends `complete`, or `blocked` with the
placement failure metrics when something could not be placed; every other due or blocked
evaluation of the job was answered by the same decision and ends `complete` ("superseded").
A decision that changed something without any evaluation (drift: a failed or lost
allocation) records one, `alloc-failure`. A failed allocation whose reschedule delay has
not passed gets a follow-up evaluation with `wait_until`, unless an earlier one is already
waiting. An evaluation still blocked for the same reasons is not rewritten. Every job
whose allocations the decision preempted gets an evaluation of its own (`preemption_evals`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from controllers.scheduler.decide import Decision
from reconciler.model.evals import new_eval
from reconciler.model.ids import DeploymentId, EvalId
from reconciler.model.objects import EvalStatus, Evaluation, JobRecord

MAX_PLACED_IDS = 1000  # an evaluation lists at most this many placed allocation ids


def eval_updates(
    *,
    namespace: str,
    job_id: str,
    record: JobRecord | None,
    decision: Decision,
    due: Sequence[Evaluation],
    blocked: Sequence[Evaluation],
    future: Sequence[Evaluation],
    eval_id: EvalId,
    followup_id: EvalId,
    deployment_id: DeploymentId = DeploymentId(""),
    now: float,
) -> list[Evaluation]:
    """The evaluations to write after `decision` (made for `eval_id`, over the job's `due`
    and `blocked` evaluations; `future` ones wait for their time). `followup_id` names a
    follow-up evaluation if one is needed; `deployment_id` (an active deployment) is
    stamped on the main evaluation."""
    d = decision
    out: list[Evaluation] = []
    metrics: dict[str, Any] = {g: dataclasses.asdict(m) for g, m in d.failed.items()}
    placed = [a.id for a in d.new_allocs[:MAX_PLACED_IDS]]
    status = (
        EvalStatus.BLOCKED if d.failed and record is not None and not record.stop else EvalStatus.COMPLETE
    )
    processed = {e.id: e for e in [*due, *blocked]}
    if not processed and (d.writes or d.failed):
        processed[eval_id] = new_eval(
            namespace, job_id, "alloc-failure", now=now, record=record, eval_id=eval_id
        )
    for e in processed.values():
        main = e.id == eval_id
        new_status = status if main else EvalStatus.COMPLETE
        desc = "" if new_status == EvalStatus.COMPLETE else "created to place remaining allocations"
        if e.status == new_status == EvalStatus.BLOCKED and not d.writes and e.failed_tg_allocs == metrics:
            continue
        out.append(
            dataclasses.replace(
                e,
                status=new_status,
                status_description=desc if main else "superseded by a newer evaluation",
                failed_tg_allocs=metrics if main else {},
                queued_allocations=dict(d.queued) if main else {},
                placed=placed if main else [],
                modify_time=now,
                job_version=record.version if record else e.job_version,
                deployment_id=deployment_id if main and deployment_id else e.deployment_id,
            )
        )
    if d.followup_at is not None and not any(f.wait_until <= d.followup_at for f in future):
        out.append(
            new_eval(
                namespace,
                job_id,
                "alloc-failure",
                now=now,
                record=record,
                wait_until=d.followup_at,
                previous_eval=eval_id,
                status_description="created for delayed rescheduling",
                eval_id=followup_id,
            )
        )
    return out


def preemption_evals(
    decision: Decision, records: Mapping[tuple[str, str], JobRecord | None], *, now: float
) -> list[Evaluation]:
    """One pending evaluation per job whose allocations the decision preempted (Nomad's plan
    applier does the same, triggered by `preemption`), so the preempted job is rescheduled
    or blocked. `records` gives each preempted job's record (its type and priority)."""
    jobs = sorted({(e.victim.namespace, e.victim.job_id) for e in decision.evictions})
    return [new_eval(ns, jid, "preemption", now=now, record=records.get((ns, jid))) for ns, jid in jobs]
