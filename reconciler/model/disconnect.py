"""Disconnected clients (a group's `disconnect` block, or Nomad 1.8's
`max_client_disconnect`): the facts the liveness controller and the scheduler both ask.

When a node misses its heartbeat while it runs allocations of such a group, it is marked
`disconnected` rather than `down`, and the scheduler marks those allocations `unknown`
(`Allocation.client_status`, from `disconnected_at`) instead of `lost`. An unknown
allocation waits `lost_after` for its node; past that it is lost. A node none of whose
allocations waits any more is down.
"""

from __future__ import annotations

from reconciler.model.job import SECOND, TaskGroup
from reconciler.model.objects import Allocation, ClientStatus, DesiredStatus


def window(group: TaskGroup | None) -> float:
    """Seconds an allocation of `group` may stay unknown (0: none, it is lost at once)."""
    return group.lost_after() / SECOND if group is not None else 0.0


def expires_at(alloc: Allocation, window_s: float, *, since: float = 0.0) -> float:
    """When `alloc`'s wait ends: `window_s` after it was marked unknown (or after `since`,
    when its node went away, for one the scheduler has not marked yet)."""
    return (alloc.disconnected_at or since) + window_s


def expired(alloc: Allocation, window_s: float, now: float) -> bool:
    """An unknown allocation whose `lost_after` has passed (Nomad's Allocation.Expired)."""
    return alloc.client_status == ClientStatus.UNKNOWN and expires_at(alloc, window_s) <= now


def awaits_reconnect(alloc: Allocation, window_s: float, *, since: float, now: float) -> bool:
    """`alloc` is meant to run, its group has a window, and the window is still open."""
    return (
        window_s > 0
        and alloc.desired_status == DesiredStatus.RUN
        and alloc.client_status in (None, ClientStatus.UNKNOWN)
        and expires_at(alloc, window_s, since=since) > now
    )
