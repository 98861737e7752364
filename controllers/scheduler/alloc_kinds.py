"""The first step of a service or batch group's reconcile (pure): sort its allocations by
kind (`sort_group` -> `Sorted`), before anything is decided for them.

An allocation is: terminal? -> ignored (its index is free again); else, for a group with a
`disconnect` window, unknown / disconnecting / reconnecting (see `disconnect`); lost /
migrating (node tainted) -> failed (reschedule policy) -> live. The steps of
`reconcile_group` read the sorted allocations; `left_alone` is also what `reconcile`
leaves out of a plan's "ignore" count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from controllers.scheduler.allocs import client_status_of, node_lost
from controllers.scheduler.buckets import AllocStop, DelayedReschedule
from controllers.scheduler.disconnect import live_replacement, resolve_reconnects
from controllers.scheduler.job_input import JobInput
from controllers.scheduler.reschedule import next_reschedule_time
from reconciler.model.disconnect import expired, window
from reconciler.model.ids import AllocId
from reconciler.model.job import SECOND, JobType, ReschedulePolicy, TaskGroup
from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, DesiredStatus, Node, NodeStatus


class _Kind(Enum):
    """Where a group's allocation stands before anything is decided for it."""

    IGNORE = "ignore"  # not meant to run, lost, or terminal with its index free again
    LIVE = "live"  # occupies its index and counts toward `count`
    SETTLED = "settled"  # live but never updated: a complete batch alloc, a failed one that stays
    LOST = "lost"  # its node is down or gone
    MIGRATE = "migrate"  # its node is draining
    RESCHEDULE = "reschedule"  # failed and eligible for a replacement now
    DISCONNECT = "disconnect"  # running on a disconnected node: to be marked unknown
    UNKNOWN = "unknown"  # unknown, its window still open and its node still away
    RECONNECT = "reconnect"  # unknown and its node is back
    HELD = "held"  # lost, but its client may still run it (`stop_on_client_after`)


@dataclass
class Sorted:
    """A group's allocations by kind (`_Kind`), and who replaced whom."""

    live: list[Allocation] = field(default_factory=list)  # LIVE and SETTLED
    settled: set[str] = field(default_factory=set)
    lost: list[Allocation] = field(default_factory=list)
    migrate: list[Allocation] = field(default_factory=list)
    reschedule: list[Allocation] = field(default_factory=list)
    later: dict[str, DelayedReschedule] = field(default_factory=dict)
    ignore: list[Allocation] = field(default_factory=list)
    replaced_by: dict[str, Allocation] = field(default_factory=dict)
    disconnect: list[Allocation] = field(default_factory=list)
    unknown: list[Allocation] = field(default_factory=list)  # without a running replacement
    standing_in: list[Allocation] = field(default_factory=list)  # unknown, a replacement runs
    reconnect: list[Allocation] = field(default_factory=list)
    reconnect_stops: list[AllocStop] = field(default_factory=list)
    lost_replaced: list[Allocation] = field(default_factory=list)  # lost, a replacement runs
    held: list[Allocation] = field(default_factory=list)  # lost, replaced once its client stopped it

    def occupying(self) -> list[Allocation]:
        """Everything that holds an index of `count` (what needs replacing included)."""
        return (
            self.live
            + self.lost
            + self.migrate
            + self.reschedule
            + self.disconnect
            + self.unknown
            + self.held
        )


def left_alone(a: Allocation, statuses: Mapping[AllocId, AllocStatus], batch: bool) -> bool:
    """Terminal and out of the count: not meant to run, lost, failed and rescheduled already,
    or a complete service allocation (its index is free again). Left as it is and, as in
    Nomad, not counted as "ignore" in a plan."""
    if a.desired_status != DesiredStatus.RUN:
        return True
    cs = client_status_of(a, statuses)
    return (
        cs == ClientStatus.LOST
        or (cs == ClientStatus.FAILED and bool(a.next_allocation))
        or (cs == ClientStatus.COMPLETE and not batch)
    )


def _disconnect_kind(inp: JobInput, g: TaskGroup, a: Allocation, node: Node | None) -> _Kind | None:
    """`a`'s kind when its group waits for disconnected clients (Nomad's classification);
    None to carry on as without a window."""
    w = window(g)
    if w <= 0:
        return None
    if a.client_status == ClientStatus.UNKNOWN:
        if expired(a, w, inp.now) or node is None:
            return _Kind.LOST
        if node.status == NodeStatus.READY:
            return _Kind.RECONNECT
        if node.status == NodeStatus.DOWN and g.replace_on_disconnect():
            return _Kind.LOST
        return _Kind.UNKNOWN
    away = node is not None and (
        node.status == NodeStatus.DISCONNECTED
        or (node.status == NodeStatus.DOWN and not g.replace_on_disconnect())
    )
    if not away:
        return None
    cs = client_status_of(a, inp.statuses)
    if cs == ClientStatus.RUNNING:
        return _Kind.DISCONNECT
    return _Kind.LOST if cs == ClientStatus.PENDING else None


def _lost_kind(inp: JobInput, g: TaskGroup, node: Node | None) -> tuple[_Kind, float | None]:
    """Lost; but with `stop_on_client_after` its client may still run it until that long
    (plus the tasks' kill timeout) after the node went away: held (its index kept, nothing
    placed) until then, when a follow-up evaluation replaces it (Nomad's delayByStopAfter)."""
    stop_after = g.stop_after()
    if stop_after is None or node is None:
        return _Kind.LOST, None
    kill = max([5 * SECOND, *(t.kill_timeout for t in g.tasks)])  # the longest, as Nomad
    at = node.modify_time + (stop_after + kill) / SECOND
    return (_Kind.HELD, at) if at > inp.now else (_Kind.LOST, None)


def _kind_of(
    inp: JobInput, g: TaskGroup, a: Allocation, batch: bool, policy: ReschedulePolicy
) -> tuple[_Kind, float | None]:
    """`a`'s kind, and when a failed allocation not eligible yet may be rescheduled."""
    if left_alone(a, inp.statuses, batch):
        return _Kind.IGNORE, None
    cs = client_status_of(a, inp.statuses)
    if cs == ClientStatus.COMPLETE:  # batch: ran to completion, keeps its index, never replaced
        return _Kind.SETTLED, None
    node = inp.nodes.get(a.node_id)
    away = _disconnect_kind(inp, g, a, node)
    if away is not None:
        return away, None
    if node_lost(node):
        return _lost_kind(inp, g, node)
    if cs == ClientStatus.FAILED:
        at = next_reschedule_time(policy, a, inp.statuses.get(a.id), inp.now)
        if at is not None and at <= inp.now:
            return _Kind.RESCHEDULE, None
        return _Kind.SETTLED, at  # not eligible (or not yet): stays failed and keeps its index
    if node is not None and node.drain:
        return _Kind.MIGRATE, None
    return _Kind.LIVE, None


def sort_group(inp: JobInput, g: TaskGroup, allocs: list[Allocation]) -> Sorted:
    s = Sorted()
    batch = inp.job.type == JobType.BATCH
    policy = inp.job.reschedule_for(g)
    into = {
        _Kind.IGNORE: s.ignore,
        _Kind.LIVE: s.live,
        _Kind.SETTLED: s.live,
        _Kind.LOST: s.lost,
        _Kind.MIGRATE: s.migrate,
        _Kind.RESCHEDULE: s.reschedule,
        _Kind.DISCONNECT: s.disconnect,
        _Kind.UNKNOWN: s.unknown,
        _Kind.RECONNECT: s.reconnect,
        _Kind.HELD: s.held,
    }
    for a in allocs:
        if a.previous_allocation:
            s.replaced_by[a.previous_allocation] = a
    for a in allocs:
        kind, at = _kind_of(inp, g, a, batch, policy)
        into[kind].append(a)
        if kind is _Kind.SETTLED:
            s.settled.add(a.id)
        if at is not None:
            s.later[a.id] = DelayedReschedule(a, at)
    # a migrating allocation and its replacement share one slot until the old one stops
    migrating = {a.id for a in s.migrate}
    standing_in = {a.id for a in s.live if a.previous_allocation in migrating}
    if standing_in:
        s.ignore.extend(a for a in s.live if a.id in standing_in)
        s.live = [a for a in s.live if a.id not in standing_in]
    _sort_away(inp, g, s)
    return s


def _split(
    allocs: list[Allocation], test: Callable[[Allocation], object]
) -> tuple[list[Allocation], list[Allocation]]:
    """(those `test` holds for, the others), in order."""
    yes: list[Allocation] = []
    no: list[Allocation] = []
    for a in allocs:
        (yes if test(a) else no).append(a)
    return yes, no


def _sort_away(inp: JobInput, g: TaskGroup, s: Sorted) -> None:
    """The disconnect window's share of the sorting: an unknown or lost allocation whose
    replacement runs leaves its index to it; reconnecting ones are resolved (see
    `disconnect.resolve_reconnects`): the originals that stay are live again, the copies
    that lose are stopped and out of every list."""
    s.standing_in, s.unknown = _split(s.unknown, lambda a: live_replacement(a, s.replaced_by, inp.statuses))
    s.ignore.extend(s.standing_in)
    s.lost_replaced, s.lost = _split(s.lost, lambda a: live_replacement(a, s.replaced_by, inp.statuses))
    if not s.reconnect:
        return
    r = resolve_reconnects(g, s.reconnect, s.replaced_by, inp.statuses, inp.version)
    s.reconnect = r.keep
    s.reconnect_stops = r.stop
    gone = r.stopped()
    s.live = [a for a in s.live if a.id not in gone] + r.keep
    s.migrate = [a for a in s.migrate if a.id not in gone]
    s.reschedule = [a for a in s.reschedule if a.id not in gone]
