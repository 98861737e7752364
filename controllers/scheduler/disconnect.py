"""Disconnected clients in one group's reconcile (pure): Nomad's `disconnect` block.

The facts (window, expiry) are the model's (`reconciler.model.disconnect`); here:

- `replacement_due`: when an `unknown` allocation gets its replacement. With `replace`
  (the default) it is rescheduled under the group's `reschedule` policy, counting from
  when it was marked unknown (Nomad's NextRescheduleTimeByTime), so a service's default
  30 s delay applies; without `replace` it waits for its node until `lost_after`.
- `resolve_reconnects`: a node is back and its unknown allocations have replacements: the
  reconcile strategy (`pick`) says which copy stays, the other is stopped. An original
  that failed while away, or runs an older job version, is stopped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from controllers.scheduler.allocs import is_terminal
from controllers.scheduler.buckets import AllocStop
from controllers.scheduler.reschedule import eligible, reschedule_delay
from reconciler.model.ids import AllocId
from reconciler.model.job import ReconcileOption, ReschedulePolicy, TaskGroup
from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, DesiredStatus

NOT_NEEDED = "alloc not needed due to job update"
RECONNECTED = "alloc not needed due to disconnected client reconnect"
FAILED_AWAY = "alloc was rescheduled because it failed"


def replacements(a: Allocation, replaced_by: Mapping[str, Allocation]) -> Iterator[Allocation]:
    """`a`'s replacement, that one's replacement, and so on (each once)."""
    seen = {a.id}
    r = replaced_by.get(a.id)
    while r is not None and r.id not in seen:
        seen.add(r.id)
        yield r
        r = replaced_by.get(r.id)


def live_replacement(
    a: Allocation, replaced_by: Mapping[str, Allocation], statuses: Mapping[AllocId, AllocStatus]
) -> Allocation | None:
    """The copy standing in for `a` now: the first replacement in its chain still running."""
    return next((r for r in replacements(a, replaced_by) if not is_terminal(r, statuses)), None)


def replacement_due(policy: ReschedulePolicy, a: Allocation, *, since: float, now: float) -> float | None:
    """When unknown `a` (away since `since`) may be replaced, or None if its reschedule
    policy allows no more attempts."""
    if not eligible(policy, a, now):
        return None
    return since + reschedule_delay(policy, len(a.reschedule_attempts))


def back(a: Allocation) -> Allocation:
    """`a` with the scheduler's `unknown` cleared: its agent's reports count again."""
    return dataclasses.replace(a, client_status=None, disconnected_at=0.0)


def _agent_status(a: Allocation, statuses: Mapping[AllocId, AllocStatus]) -> str:
    st = statuses.get(a.id)
    return st.client_status if st is not None else ClientStatus.PENDING


def _best_score(
    original: Allocation, replacement: Allocation, statuses: Mapping[AllocId, AllocStatus]
) -> Allocation:
    """The replacement if it placed with a better score and is running (or the original
    is not); an allocation without a score loses to one with a score."""
    o, r = original.score, replacement.score
    better = r is not None and (o is None or r > o)
    running = _agent_status(replacement, statuses) == ClientStatus.RUNNING
    if better and (running or _agent_status(original, statuses) != ClientStatus.RUNNING):
        return replacement
    return original


def _started(a: Allocation, g: TaskGroup, statuses: Mapping[AllocId, AllocStatus]) -> float:
    """When the leader task started, else the oldest task (0: none has)."""
    st = statuses.get(a.id)
    if st is None:
        return 0.0
    starts = []
    for t in g.tasks:
        ts = st.task_states.get(t.name)
        at = ts.started_at if ts is not None else 0.0
        if t.leader:
            return at
        if at:
            starts.append(at)
    return min(starts, default=0.0)


def _longest_running(
    g: TaskGroup, original: Allocation, replacement: Allocation, statuses: Mapping[AllocId, AllocStatus]
) -> Allocation:
    o, r = _started(original, g, statuses), _started(replacement, g, statuses)
    if not o and not r:
        return _best_score(original, replacement, statuses)
    if not o or (r and r < o):
        return replacement
    return original


def pick(
    g: TaskGroup, original: Allocation, replacement: Allocation, statuses: Mapping[AllocId, AllocStatus]
) -> Allocation:
    """Which copy stays when `original` reconnects beside `replacement` (Nomad's
    reconnecting picker): a newer job version always wins, else `disconnect.reconcile`."""
    if replacement.job_version > original.job_version:
        return replacement
    option = g.reconcile_option()
    if option == ReconcileOption.KEEP_ORIGINAL:
        return original
    if option == ReconcileOption.KEEP_REPLACEMENT:
        return replacement
    if option == ReconcileOption.LONGEST_RUNNING:
        return _longest_running(g, original, replacement, statuses)
    return _best_score(original, replacement, statuses)


@dataclass
class Reconnects:
    keep: list[Allocation] = field(default_factory=list)  # originals back (unknown cleared)
    stop: list[AllocStop] = field(default_factory=list)  # the copies that lost

    def stopped(self) -> set[str]:
        return {s.alloc.id for s in self.stop}


def resolve_reconnects(
    g: TaskGroup,
    reconnecting: Sequence[Allocation],
    replaced_by: Mapping[str, Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    version: int,
) -> Reconnects:
    """The unknown allocations whose node is back: which stay, and what is stopped."""
    out = Reconnects()
    for a in sorted(reconnecting, key=lambda x: x.index):
        if _agent_status(a, statuses) == ClientStatus.FAILED:
            out.stop.append(AllocStop(back(a), FAILED_AWAY, ClientStatus.FAILED))
            continue
        if a.job_version < version:
            out.stop.append(AllocStop(back(a), NOT_NEEDED))
            continue
        superseded = False
        for r in replacements(a, replaced_by):
            if r.desired_status != DesiredStatus.RUN or r.id in out.stopped():
                continue
            if pick(g, a, r, statuses) is r:
                superseded = True
            elif not is_terminal(r, statuses):
                out.stop.append(AllocStop(r, RECONNECTED))
        if superseded:
            out.stop.append(AllocStop(back(a), NOT_NEEDED))
        else:
            out.keep.append(back(a))
    return out
