"""A job's summary, pure: per task group how many allocations are queued, starting,
running, failed, complete or lost, and the job's status (pending, running, dead), computed
from its allocations, their observed statuses and its evaluations, as Nomad shows them in
`job status` and `/v1/job/<id>/summary`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.model.alloc_status import client_status, is_terminal
from reconciler.model.ids import AllocId
from reconciler.model.job import Job
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    DesiredStatus,
    EvalStatus,
    Evaluation,
    JobStatus,
)

__all__ = ["GroupSummary", "JobSummary", "client_status", "summarize"]


@dataclass
class GroupSummary:
    queued: int = 0
    starting: int = 0
    running: int = 0
    failed: int = 0
    complete: int = 0
    lost: int = 0
    unknown: int = 0  # on a disconnected node, waiting for it (`disconnect`)

    def to_nomad(self) -> dict[str, int]:
        return {
            "Queued": self.queued,
            "Starting": self.starting,
            "Running": self.running,
            "Failed": self.failed,
            "Complete": self.complete,
            "Lost": self.lost,
            "Unknown": self.unknown,
        }

    def count(self, cs: str, desired: str) -> None:
        """One allocation in client status `cs` (a pending one only while it should run)."""
        if cs == ClientStatus.PENDING:
            if desired == DesiredStatus.RUN:
                self.starting += 1
        elif cs == ClientStatus.RUNNING:
            self.running += 1
        elif cs == ClientStatus.FAILED:
            self.failed += 1
        elif cs == ClientStatus.COMPLETE:
            self.complete += 1
        elif cs == ClientStatus.LOST:
            self.lost += 1
        elif cs == ClientStatus.UNKNOWN:
            self.unknown += 1


@dataclass
class JobSummary:
    status: JobStatus = JobStatus.PENDING
    groups: dict[str, GroupSummary] = field(default_factory=dict)


def summarize(
    job: Job | None,
    allocs: Iterable[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    evals: Iterable[Evaluation] = (),
    *,
    stopped: bool = False,
) -> JobSummary:
    out = JobSummary()
    if job is not None:
        for tg in job.task_groups:
            out.groups[tg.name] = GroupSummary()
    any_live = False
    any_alloc = False
    for a in allocs:
        any_alloc = True
        out.groups.setdefault(a.task_group, GroupSummary()).count(
            client_status(a, statuses), a.desired_status
        )
        if not is_terminal(a, statuses):
            any_live = True
    evals = list(evals)
    _set_queued(out, evals)
    pending_eval = any(e.status in (EvalStatus.PENDING, EvalStatus.BLOCKED) for e in evals)
    if any_live or (job is not None and job.is_template() and not stopped):
        out.status = JobStatus.RUNNING  # a periodic or parameterized job runs until stopped
    elif pending_eval and not stopped:
        out.status = JobStatus.PENDING
    elif any_alloc or evals or stopped:
        out.status = JobStatus.DEAD
    return out


def _set_queued(out: JobSummary, evals: list[Evaluation]) -> None:
    """Queued instances as the latest evaluation and every blocked one left them."""
    latest = max(evals, key=lambda e: e.create_time, default=None)
    for e in evals:
        if e.status == EvalStatus.BLOCKED or (latest is not None and e.id == latest.id):
            for grp, n in e.queued_allocations.items():
                out.groups.setdefault(grp, GroupSummary()).queued = n
