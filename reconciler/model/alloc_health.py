"""When an allocation is healthy (pure): shared by the deployment watcher and the drain.

Both Nomad judgements start from the same facts: every task of the group running, and with
`health_check = "checks"` every service check of the allocation passing, for
`min_healthy_time`. The deployment watcher (controllers/deployments/health.py) makes the
verdict sticky per deployment; the scheduler's migration (controllers/scheduler/migrate.py)
asks only "is this replacement healthy yet, and if not, when to look again".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.model.job import SECOND, HealthCheck, MigrateStrategy, TaskGroup
from reconciler.model.objects import AllocStatus, ClientStatus, TaskRunState
from reconciler.model.services import CheckState, CheckStatus


def _on_update(group: TaskGroup) -> dict[tuple[str, str], str]:
    """Each check's `on_update`, by (service name, check name), as its status names it."""
    services = list(group.services) + [s for t in group.tasks for s in t.services]
    return {(s.name, c.name): c.on_update for s in services for c in s.checks}


def expected_checks(group: TaskGroup) -> int:
    """The checks that count for health: all but those with `on_update = "ignore"`."""
    return sum(1 for rule in _on_update(group).values() if rule != "ignore")


def tasks_running_since(group: TaskGroup, status: AllocStatus | None) -> float | None:
    """When the last of the group's tasks started, if all of them run now."""
    if status is None or status.client_status != ClientStatus.RUNNING:
        return None
    since = 0.0
    for t in group.tasks:
        if not t.keeps_running():
            continue
        ts = status.task_states.get(t.name)
        if ts is None or ts.state != TaskRunState.RUNNING:
            return None
        since = max(since, ts.started_at)
    return since


def checks_passing(group: TaskGroup, checks: Sequence[CheckStatus]) -> bool:
    """Every check the group counts has a status, and all of them pass (a warning passes a
    check with `on_update = "ignore_warnings"`; one with "ignore" is not looked at)."""
    rules = _on_update(group)
    counted = [(c, rules.get((c.service_name, c.check_name), "require_healthy")) for c in checks]
    counted = [(c, rule) for c, rule in counted if rule != "ignore"]
    return len(counted) >= expected_checks(group) and all(
        c.status == CheckState.PASSING or (rule == "ignore_warnings" and c.status == CheckState.WARNING)
        for c, rule in counted
    )


@dataclass(frozen=True)
class Readiness:
    healthy: bool
    expired: bool  # not healthy by healthy_deadline after it was created: stop waiting for it
    look_again_at: float | None  # when the answer may change without any event


def migrate_ready(
    group: TaskGroup,
    status: AllocStatus | None,
    checks: Sequence[CheckStatus],
    policy: MigrateStrategy,
    *,
    created: float,
    now: float,
) -> Readiness:
    """Is a replacement healthy under the group's `migrate` block?

    The registrar writes a check's status when it changes, so `CheckStatus.time` is when it
    entered that state: all passing since the latest of those times.
    """
    deadline = created + policy.healthy_deadline / SECOND if policy.healthy_deadline else None
    since = tasks_running_since(group, status)
    if since is not None and policy.health_check == HealthCheck.CHECKS and expected_checks(group) > 0:
        since = max([since, *(c.time for c in checks)]) if checks_passing(group, checks) else None
    ready_at = since + policy.min_healthy_time / SECOND if since is not None else None
    if ready_at is not None and now >= ready_at:
        return Readiness(True, False, None)
    if deadline is not None and now >= deadline:
        return Readiness(False, True, None)
    times = [t for t in (ready_at, deadline) if t is not None]
    return Readiness(False, False, min(times, default=None))
