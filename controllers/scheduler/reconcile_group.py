"""One service or batch group's reconcile (pure), in named steps: sort the allocations by
kind (`alloc_kinds`), scale down, replace the lost and the failed, migrate, update the old
versions, scale up.

An allocation moves through: terminal? -> ignored (its index is free again); else, for a
group with a `disconnect` window, unknown / disconnecting / reconnecting (see `disconnect`);
lost / migrating (node tainted) -> failed (reschedule policy) -> old version (update) ->
untainted.
Each step reads the sorted allocations and returns its share of the buckets (see `buckets`);
nothing is changed in place.
"""

from __future__ import annotations

from controllers.scheduler.alloc_kinds import Sorted, sort_group
from controllers.scheduler.allocs import alloc_name
from controllers.scheduler.buckets import AllocPlace, AllocStop, ReconcileResult, lost_stop
from controllers.scheduler.disconnect import replacement_due
from controllers.scheduler.job_input import JobInput
from controllers.scheduler.migrate import migrate_group
from reconciler.model.disconnect import expires_at, window
from reconciler.model.job import Job, TaskGroup
from reconciler.model.node_pools import in_pool
from reconciler.model.objects import Allocation, DesiredStatus
from reconciler.model.plan import DesiredUpdates


def reconcile_group(
    inp: JobInput, g: TaskGroup, allocs: list[Allocation], *, gate: int
) -> list[ReconcileResult]:
    """A service or batch group, `gate` replacements at most: the steps' shares, in order."""
    s = sort_group(inp, g, allocs)
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


def _scale_down(g: TaskGroup, s: Sorted) -> tuple[set[str], ReconcileResult]:
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


def _replace_lost_and_failed(g: TaskGroup, s: Sorted, dropped: set[str]) -> ReconcileResult:
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


def _disconnected(inp: JobInput, g: TaskGroup, s: Sorted, dropped: set[str]) -> ReconcileResult:
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


def _migrate(inp: JobInput, g: TaskGroup, s: Sorted, dropped: set[str]) -> ReconcileResult:
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


def _moved_with_their_data(inp: JobInput, g: TaskGroup, s: Sorted) -> list[Allocation]:
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


def _update_live(inp: JobInput, g: TaskGroup, s: Sorted, dropped: set[str], gate: int) -> ReconcileResult:
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
