"""What every group of one job is reconciled against (`JobInput`): the job and its versions,
the allocations' statuses and checks, the nodes, the time and the update rule. Built once
per job by `reconcile`, read by its system groups, by `alloc_kinds` (the sorting) and by
every step of `reconcile_group`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controllers.scheduler.update_policy import UpdateFn
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.job import Job
from reconciler.model.objects import AllocStatus, Node
from reconciler.model.services import CheckStatus


@dataclass(frozen=True)
class JobInput:
    """What every group of one job is reconciled against."""

    job: Job
    version: int
    versions: Mapping[int, Job]
    statuses: Mapping[AllocId, AllocStatus]
    nodes: Mapping[NodeId, Node]
    now: float
    update_fn: UpdateFn
    checks: Mapping[AllocId, Sequence[CheckStatus]]
