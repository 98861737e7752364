"""The order the scheduler takes jobs off its work queue, pure: Nomad's evaluation broker
hands out the ready evaluation of the highest priority first, and of equal priorities the
oldest first.

A work-queue key is a job; its rank is that of its pending evaluations: the highest
priority among them, and the creation time of the oldest at that priority. A job queued
without a pending evaluation (a node changed, an allocation stopped) ranks at its job's
priority, created when it was queued.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.model.evals import DEFAULT_PRIORITY
from reconciler.model.objects import EvalStatus, Evaluation

Rank = tuple[int, float]  # (-priority, creation time): lower is handed out first


def job_rank(evals: Iterable[Evaluation], job_priority: int | None, now: float) -> Rank:
    """The rank of a job with `evals` (any status; only pending ones count) whose record
    has `job_priority` (None: unknown)."""
    pending = [e for e in evals if e.status == EvalStatus.PENDING]
    if not pending:
        return (-(job_priority if job_priority is not None else DEFAULT_PRIORITY), now)
    top = max(e.priority for e in pending)
    return (-top, min(e.create_time for e in pending if e.priority == top))


DEFAULT_RANK: Rank = (-DEFAULT_PRIORITY, float("inf"))
"""A key requeued before any rank was set (a resync): the default priority, after the others."""
