"""Allocation health within a deployment (pure): Nomad's health watcher as a function.

`health_check = "task_states"`: healthy once every task of the group has been running for
`min_healthy_time`. `"checks"`: the same, and every service check of the allocation passing
for that long (a group without checks falls back to task states). `"manual"`: never judged.
Unhealthy if the allocation fails (or a task dies) before, or is not healthy by
`healthy_deadline` after it was created. A verdict is final.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.model.alloc_health import checks_passing, expected_checks, tasks_running_since
from reconciler.model.alloc_status import finished_for_deployment
from reconciler.model.ids import AllocId
from reconciler.model.job import SECOND, HealthCheck, Job, TaskGroup, UpdateStrategy
from reconciler.model.objects import (
    Allocation,
    AllocHealth,
    AllocStatus,
    DesiredStatus,
)
from reconciler.model.services import CheckStatus


@dataclass(frozen=True)
class Judgement:
    health: AllocHealth
    look_again_at: float | None  # when the verdict may change without any event


def judge(
    alloc: Allocation,
    status: AllocStatus | None,
    checks: list[CheckStatus],
    group: TaskGroup,
    upd: UpdateStrategy,
    prev: AllocHealth | None,
    *,
    now: float,
) -> Judgement:
    prev = prev or AllocHealth()
    if prev.healthy is not None:
        return Judgement(prev, None)
    if upd.health_check == HealthCheck.MANUAL or alloc.desired_status != DesiredStatus.RUN:
        return Judgement(prev, None)
    if finished_for_deployment(alloc, status):  # COMPLETE counts as failed here
        return Judgement(dataclasses.replace(prev, healthy=False, timestamp=now), None)
    deadline = alloc.create_time + upd.healthy_deadline / SECOND if upd.healthy_deadline else None
    since = tasks_running_since(group, status)
    if since is not None and upd.health_check == HealthCheck.CHECKS and expected_checks(group) > 0:
        passing = checks_passing(group, checks)
        # when checks started passing is not recorded by the registrar: remember when we saw it
        since = max(since, prev.passing_since or now) if passing else None
    if since is None:
        if deadline is not None and now >= deadline:
            return Judgement(dataclasses.replace(prev, healthy=False, passing_since=0.0, timestamp=now), None)
        return Judgement(dataclasses.replace(prev, passing_since=0.0), deadline)
    ready_at = since + upd.min_healthy_time / SECOND
    if now >= ready_at:
        return Judgement(dataclasses.replace(prev, healthy=True, passing_since=since, timestamp=now), None)
    if deadline is not None and now >= deadline:
        return Judgement(dataclasses.replace(prev, healthy=False, passing_since=since, timestamp=now), None)
    nxt = ready_at if deadline is None else min(ready_at, deadline)
    return Judgement(dataclasses.replace(prev, passing_since=since), nxt)


def judge_all(
    job: Job,
    allocs: list[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    checks: Mapping[str, list[CheckStatus]],
    prev: Mapping[str, AllocHealth],
    *,
    now: float,
) -> tuple[dict[str, AllocHealth], float | None]:
    """Health of every allocation of a deployment, and the earliest time to look again."""
    out: dict[str, AllocHealth] = {}
    nxt: float | None = None
    for a in allocs:
        g = job.group(a.task_group)
        upd = job.update_for(g) if g is not None else None
        if g is None or upd is None:
            continue
        j = judge(a, statuses.get(a.id), checks.get(a.id, []), g, upd, prev.get(a.id), now=now)
        out[a.id] = j.health
        if j.look_again_at is not None:
            nxt = j.look_again_at if nxt is None else min(nxt, j.look_again_at)
    return out, nxt
