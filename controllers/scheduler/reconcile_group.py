"""One service or batch group's reconcile (pure), in named steps: sort the allocations by
kind, scale down, replace the lost and the failed, migrate, update the old versions, scale up.

An allocation moves through: terminal? -> ignored (its index is free again); else, for a
group with a `disconnect` window, unknown / disconnecting / reconnecting (see `disconnect`);
lost / migrating (node tainted) -> failed (reschedule policy) -> old version (update) ->
untainted.
Each step reads the sorted allocations and returns its share of the buckets (see `buckets`);
nothing is changed in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from controllers.scheduler.allocs import alloc_name, client_status_of, node_lost
from controllers.scheduler.buckets import AllocPlace, AllocStop, DelayedReschedule, ReconcileResult, lost_stop
from controllers.scheduler.disconnect import live_replacement, replacement_due, resolve_reconnects
from controllers.scheduler.migrate import migrate_group
from controllers.scheduler.reschedule import next_reschedule_time
from controllers.scheduler.update_policy import UpdateFn
from reconciler.model.disconnect import expired, expires_at, window
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.job import SECOND, Job, JobType, ReschedulePolicy, TaskGroup
from reconciler.model.node_pools import in_pool
from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, DesiredStatus, Node, NodeStatus
from reconciler.model.plan import DesiredUpdates
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
class _Sorted:
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


def _sort_group(inp: JobInput, g: TaskGroup, allocs: list[Allocation]) -> _Sorted:
    s = _Sorted()
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


def _sort_away(inp: JobInput, g: TaskGroup, s: _Sorted) -> None:
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


def reconcile_group(
    inp: JobInput, g: TaskGroup, allocs: list[Allocation], *, gate: int
) -> list[ReconcileResult]:
    """A service or batch group, `gate` replacements at most: the steps' shares, in order."""
    s = _sort_group(inp, g, allocs)
    dropped, down = _scale_down(g, s)
    occupying = s.occupying()
    used = {a.index for a in occupying if a.id not in dropped}
    missing = g.count - (len(occupying) - len(dropped))
    return [
        ReconcileResult(ignore=s.ignore + s.held, desired_tg_updates={g.name: DesiredUpdates()}),
        down,
        _replace_lost_and_failed(g, s, dropped),
        _disconnected(inp, g, s, dropped),
        _migrate(inp, g, s, dropped),
        _update_live(inp, g, s, dropped, gate),
        _scale_up(inp.job, g, used, missing),
    ]


def _scale_down(g: TaskGroup, s: _Sorted) -> tuple[set[str], ReconcileResult]:
    """Scale down over everything that occupies an index: what needs replacing anyway goes
    first, then the highest index. Returns the ids dropped and their stops."""
    res = ReconcileResult()
    occupying = s.occupying()
    excess = len(occupying) - g.count
    dropped: set[str] = set()
    if excess > 0:
        lost_ids = {a.id for a in s.lost}
        healthy = {a.id for a in s.live if a.id not in s.settled}
        order = sorted(occupying, key=lambda a: (a.id in healthy, -a.index))
        for a in order[:excess]:
            dropped.add(a.id)
            if a.id in lost_ids:
                res.lost.append(a)
                res.stop.append(lost_stop(a))
            else:
                res.stop.append(AllocStop(a, "alloc not needed due to job update"))
        res.counts(g.name).stop += len(dropped)
    res.reschedule_later.extend(d for aid, d in s.later.items() if aid not in dropped)
    return dropped, res


def _replace_lost_and_failed(g: TaskGroup, s: _Sorted, dropped: set[str]) -> ReconcileResult:
    """A lost allocation is stopped and replaced; a failed one eligible now is replaced."""
    res = ReconcileResult()
    upd = res.counts(g.name)
    for a in s.lost:
        if a.id in dropped:
            continue
        res.lost.append(a)
        res.stop.append(lost_stop(a))
        upd.stop += 1
        res.place.append(AllocPlace(g.name, a.name, a.index, a, "lost"))
        upd.place += 1
    for a in s.reschedule:
        if a.id in dropped:
            continue
        res.reschedule_now.append(a)
        res.place.append(AllocPlace(g.name, a.name, a.index, a, "reschedule"))
        upd.place += 1
    return res


def _disconnected(inp: JobInput, g: TaskGroup, s: _Sorted, dropped: set[str]) -> ReconcileResult:
    """Mark the disconnecting unknown; replace the unknown whose replacement is due; stop
    the copies that lost a reconnect and clear the unknown of those that stay; evaluate
    again when a window ends or a replacement becomes due."""
    res = ReconcileResult(reconnect=list(s.reconnect))
    upd = res.counts(g.name)
    w = window(g)
    for st in s.reconnect_stops:
        res.stop.append(st)
        upd.stop += 1
    for a in s.lost_replaced:
        res.lost.append(a)
        res.stop.append(lost_stop(a))
        upd.stop += 1
    res.followups.extend(expires_at(a, w) for a in s.standing_in)
    policy = inp.job.reschedule_for(g)
    marking = {a.id for a in s.disconnect}
    for a in s.disconnect + s.unknown:
        if a.id in dropped:
            continue
        if a.id in marking:
            res.disconnect.append(a)
        since = a.disconnected_at or inp.now
        res.followups.append(expires_at(a, w, since=inp.now))
        due = replacement_due(policy, a, since=since, now=inp.now) if g.replace_on_disconnect() else None
        if due is None:
            continue
        if due <= inp.now:
            res.reschedule_now.append(a)
            res.place.append(AllocPlace(g.name, a.name, a.index, a, "reschedule"))
            upd.place += 1
        else:
            res.followups.append(due)
    return res


def _migrate(inp: JobInput, g: TaskGroup, s: _Sorted, dropped: set[str]) -> ReconcileResult:
    """A draining node's allocations, `migrate.max_parallel` at a time (see `migrate`)."""
    moving = [a for a in s.migrate if a.id not in dropped]
    moved = _moved_with_their_data(inp, g, s)
    step = migrate_group(g, moving, s.replaced_by, inp.statuses, inp.checks, now=inp.now, moved=moved)
    return ReconcileResult(
        place=[AllocPlace(g.name, a.name, a.index, a, "migrate") for a in step.place],
        stop=[AllocStop(a, "alloc is being migrated") for a in step.stop],
        ignore=list(step.wait),
        look_again=[] if step.look_again_at is None else [step.look_again_at],
        desired_tg_updates={g.name: DesiredUpdates(migrate=len(step.place), stop=len(step.stop))},
    )


def _moved_with_their_data(inp: JobInput, g: TaskGroup, s: _Sorted) -> list[Allocation]:
    """A sticky disk's originals stopped on a draining node as their replacement was placed
    (their replacements may still hold `max_parallel` slots: `migrate`)."""
    if not (g.ephemeral_disk.sticky or g.ephemeral_disk.migrate):
        return []
    out = []
    for a in s.ignore:
        node = inp.nodes.get(a.node_id)
        if a.desired_status != DesiredStatus.RUN and node is not None and node.drain:
            out.append(a)
    return out


def _update_live(inp: JobInput, g: TaskGroup, s: _Sorted, dropped: set[str], gate: int) -> ReconcileResult:
    """Live allocations of an older version: updated in place, or replaced (`gate` at most)."""
    res = ReconcileResult()
    upd = res.counts(g.name)
    for a in sorted(s.live, key=lambda x: x.index):
        if a.id in dropped:
            continue
        if a.job_version == inp.version or a.id in s.settled:
            res.ignore.append(a)
        elif not inp.update_fn(inp.versions.get(a.job_version), inp.job, g.name) and _in_pool(inp, a):
            res.inplace_update.append(a)
            upd.in_place_update += 1
        elif gate > 0:
            gate -= 1
            res.add_destructive(AllocPlace(g.name, a.name, a.index, a, "destructive"))
        else:
            res.ignore.append(a)
    return res


def _in_pool(inp: JobInput, a: Allocation) -> bool:
    """Whether the allocation's node is in the job's node pool: one left outside by a change
    of the job's `node_pool` is replaced, never updated in place (as Nomad's inplaceUpdate)."""
    node = inp.nodes.get(a.node_id)
    return node is None or in_pool(node.node_pool, inp.job.node_pool)


def _scale_up(job: Job, g: TaskGroup, used: set[int], missing: int) -> ReconcileResult:
    """`missing` new instances at the lowest free indexes."""
    place: list[AllocPlace] = []
    idx = 0
    while missing > 0:
        if idx not in used:
            place.append(AllocPlace(g.name, alloc_name(job.id, g.name, idx), idx))
            missing -= 1
        idx += 1
    return ReconcileResult(place=place, desired_tg_updates={g.name: DesiredUpdates(place=len(place))})
