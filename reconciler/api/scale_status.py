"""The shape of `GET /v1/job/<id>/scale` (Nomad's JobScaleStatusResponse), pure: from a
job record, its allocations with their observed statuses, and its deployments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.model.alloc_status import client_status, is_terminal
from reconciler.model.ids import AllocId
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    Deployment,
    DesiredStatus,
    JobRecord,
)


def scale_json(
    rec: JobRecord,
    modify_index: int,
    allocs: list[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    deployments: list[Deployment],
) -> dict[str, Any]:
    current = [d for d in deployments if d.job_version == rec.version]
    newest = max(current, key=lambda d: d.create_time, default=None)
    groups: dict[str, Any] = {}
    for tg in rec.job.task_groups:
        mine = [a for a in allocs if a.task_group == tg.name]
        placed = [a for a in mine if a.desired_status == DesiredStatus.RUN and not is_terminal(a, statuses)]
        state = newest.task_groups.get(tg.name) if newest is not None else None
        groups[tg.name] = {
            "Desired": tg.count,
            "Placed": len(placed),
            "Running": sum(1 for a in placed if client_status(a, statuses) == ClientStatus.RUNNING),
            "Healthy": state.healthy_allocs if state is not None else 0,
            "Unhealthy": state.unhealthy_allocs if state is not None else 0,
            "Events": None,
        }
    return {
        "JobID": rec.id,
        "Namespace": rec.namespace,
        "JobCreateIndex": rec.create_index,
        "JobModifyIndex": modify_index,
        "JobStopped": rec.stop,
        "TaskGroups": groups,
    }
