"""The buckets of one job's reconcile (see `reconcile`), as Nomad names them:

- place: instances to create (missing indexes, replacements of lost/failed/migrating/updated
  allocations). Each carries its name `job.group[index]` and the allocation it replaces.
- stop: allocations to stop (job stopped, group removed, scale-down highest index first,
  lost allocations, the old side of a destructive update or reschedule).
- inplace_update: allocations of an older version whose group changed only in fields that do
  not need a restart (count, service tags, meta, update stanza): their job version is bumped.
- destructive_update: allocations of an older version replaced by a new one (stop + place),
  at most `max_replace[group]` at once (the deployment gate when a deployment is given;
  otherwise `update.max_parallel` minus replacements not running yet).
- lost: allocations on a node that is down or gone (stopped with client status "lost",
  replaced elsewhere for service/batch jobs).
- reschedule_now / reschedule_later: failed allocations eligible under the `reschedule`
  policy, now or at a later time (a follow-up evaluation is created for those).
- disconnect: running allocations on a disconnected node whose group has a `disconnect`
  window: marked client status "unknown" (not stopped); replaced as `place` entries with
  reason "reschedule" when `disconnect.replace` and the reschedule policy allow.
- reconnect: unknown allocations whose node is back and which stay (their unknown status
  is cleared); the copies that lose the reconnect are in `stop` (see `disconnect`).
- followups: when to evaluate again (an unknown allocation's window ends, or its
  replacement becomes due): a follow-up evaluation, as for `reschedule_later`.
- ignore: allocations left as they are.
- canaries (with a deployment, see deployment_gate): placed beside the old version as
  `place` entries with `canary=True`; the deployment's canaries awaiting promotion are
  ignored, and once promoted each stops the old allocation holding its index.

Every step of a reconcile returns its share as a `ReconcileResult`; `ReconcileResult.add`
appends one share to the whole, so each bucket keeps the order the steps produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from reconciler.model.ids import NodeId
from reconciler.model.objects import Allocation, ClientStatus
from reconciler.model.plan import DesiredUpdates


class AllocPlace(NamedTuple):
    """An instance to place (immutable; a named tuple because a big scale-up makes
    thousands and a frozen data class is several times slower to build)."""

    task_group: str
    name: str
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: Nomad names it so
    previous: Allocation | None = None  # the allocation this one replaces
    reason: str = "new"  # new | lost | reschedule | migrate | destructive
    node_id: NodeId = NodeId("")  # system jobs: the one node this must go to
    canary: bool = False


@dataclass(frozen=True)
class AllocStop:
    alloc: Allocation
    description: str
    client_status: ClientStatus | None = None  # LOST for allocations on a down node


@dataclass(frozen=True)
class DelayedReschedule:
    alloc: Allocation
    at: float


@dataclass(frozen=True)
class ReconcileResult:
    """The buckets (module docstring). Frozen: the lists are filled while reconciling and
    read-only once `reconcile` returns."""

    place: list[AllocPlace] = field(default_factory=list)
    stop: list[AllocStop] = field(default_factory=list)
    inplace_update: list[Allocation] = field(default_factory=list)
    destructive_update: list[AllocPlace] = field(default_factory=list)  # also listed in place
    lost: list[Allocation] = field(default_factory=list)
    reschedule_now: list[Allocation] = field(default_factory=list)
    reschedule_later: list[DelayedReschedule] = field(default_factory=list)
    ignore: list[Allocation] = field(default_factory=list)
    disconnect: list[Allocation] = field(default_factory=list)
    reconnect: list[Allocation] = field(default_factory=list)
    followups: list[float] = field(default_factory=list)
    desired_tg_updates: dict[str, DesiredUpdates] = field(default_factory=dict)
    look_again: list[float] = field(default_factory=list)  # when a migration may progress

    def changes(self) -> bool:
        return bool(self.place or self.stop or self.inplace_update or self.disconnect or self.reconnect)

    def followup_at(self) -> float | None:
        return min([*(d.at for d in self.reschedule_later), *self.followups], default=None)

    def look_again_at(self) -> float | None:
        """When to decide again though nothing changed (a replacement's min_healthy_time)."""
        return min(self.look_again, default=None)

    def counts(self, group: str) -> DesiredUpdates:
        """`group`'s counters (created at zero: a group reconciled is listed even if idle)."""
        return self.desired_tg_updates.setdefault(group, DesiredUpdates())

    def add(self, part: ReconcileResult) -> None:
        """Append one step's buckets and add its counters."""
        self.place.extend(part.place)
        self.stop.extend(part.stop)
        self.inplace_update.extend(part.inplace_update)
        self.destructive_update.extend(part.destructive_update)
        self.lost.extend(part.lost)
        self.reschedule_now.extend(part.reschedule_now)
        self.reschedule_later.extend(part.reschedule_later)
        self.ignore.extend(part.ignore)
        self.disconnect.extend(part.disconnect)
        self.reconnect.extend(part.reconnect)
        self.followups.extend(part.followups)
        self.look_again.extend(part.look_again)
        for gname, c in part.desired_tg_updates.items():
            u = self.counts(gname)
            u.place += c.place
            u.stop += c.stop
            u.in_place_update += c.in_place_update
            u.destructive_update += c.destructive_update
            u.ignore += c.ignore
            u.migrate += c.migrate
            u.canary += c.canary

    def add_destructive(self, p: AllocPlace) -> None:
        """A destructive update: `p` is placed and the allocation it replaces stopped."""
        assert p.previous is not None
        self.place.append(p)
        self.destructive_update.append(p)
        self.stop.append(AllocStop(p.previous, "alloc is being updated due to job update"))
        self.counts(p.task_group).destructive_update += 1


def lost_stop(a: Allocation) -> AllocStop:
    """The stop of an allocation whose node is down or gone."""
    return AllocStop(a, "alloc is lost since its node is down", ClientStatus.LOST)
