"""When an unhealthy check restarts its task (`check_restart`, Nomad's check watcher), pure.

A check that reports critical (or warning, unless `ignore_warnings`) starts an unhealthy
spell; if it is still unhealthy `interval * (limit - 1)` later, the task is restarted, so
`limit` consecutive failing results restart it (`limit = 1`: the first one). One healthy
result ends the spell, so a flapping check never restarts anything. Results within
`grace` of the watch starting (the task started) or of the last restart are not counted:
the task gets time to come up again. The restart itself goes through the task group's
`restart` policy (it counts as a failure), as in Nomad.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model.job import SECOND, CheckRestart
from reconciler.model.services import CheckState


@dataclass(frozen=True)
class RestartWatch:
    grace_until: float = 0.0
    unhealthy_since: float | None = None


def watch_start(rule: CheckRestart, now: float) -> RestartWatch:
    """The watch of a check whose task has just started."""
    return RestartWatch(grace_until=now + rule.grace / SECOND)


def apply(
    rule: CheckRestart, interval: float, watch: RestartWatch, status: CheckState, now: float
) -> tuple[RestartWatch, bool]:
    """The watch after one reported `status`, and whether to restart the task now."""
    unhealthy = status == CheckState.CRITICAL or (status == CheckState.WARNING and not rule.ignore_warnings)
    if rule.limit <= 0 or not unhealthy:
        return RestartWatch(grace_until=watch.grace_until), False
    if now < watch.grace_until:
        return watch, False
    since = watch.unhealthy_since if watch.unhealthy_since is not None else now
    # a small slack: probes are scheduled `interval` after the previous one *finished*
    if now - since >= interval * (rule.limit - 1) - 1e-6:
        return watch_start(rule, now), True
    return RestartWatch(grace_until=watch.grace_until, unhealthy_since=since), False
