"""The drain's migration of one group (pure): Nomad's `migrate` block.

A draining node's allocations move at most `migrate.max_parallel` of a group at a time. An
original stays up beside its replacement until the replacement is healthy (see
`reconciler.model.alloc_health.migrate_ready`), then it is stopped and the next one may go;
a replacement not healthy by `healthy_deadline`, or already terminal, stops holding its
original (and its slot) back. Nothing here waits: the earliest time an answer may change
without an event is returned so the controller looks again then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from controllers.scheduler.allocs import is_terminal
from reconciler.model.alloc_health import migrate_ready
from reconciler.model.ids import AllocId
from reconciler.model.job import TaskGroup
from reconciler.model.objects import Allocation, AllocStatus
from reconciler.model.services import CheckStatus


@dataclass(frozen=True)
class MigrateStep:
    place: list[Allocation] = field(default_factory=list)  # originals to replace now
    stop: list[Allocation] = field(default_factory=list)  # originals whose replacement is healthy
    wait: list[Allocation] = field(default_factory=list)  # originals left as they are for now
    look_again_at: float | None = None


def migrate_group(
    g: TaskGroup,
    migrating: Sequence[Allocation],
    replaced_by: Mapping[str, Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    checks: Mapping[AllocId, Sequence[CheckStatus]],
    *,
    now: float,
) -> MigrateStep:
    step = MigrateStep()
    in_flight = 0
    fresh: list[Allocation] = []
    looks: list[float] = []
    for a in sorted(migrating, key=lambda x: x.index):
        repl = replaced_by.get(a.id)
        if repl is None:
            fresh.append(a)
            continue
        if is_terminal(repl, statuses):
            step.stop.append(a)
            continue
        r = migrate_ready(
            g, statuses.get(repl.id), checks.get(repl.id, ()), g.migrate, created=repl.create_time, now=now
        )
        if r.healthy or r.expired:
            step.stop.append(a)
            continue
        in_flight += 1
        step.wait.append(a)
        if r.look_again_at is not None:
            looks.append(r.look_again_at)
    room = max(0, max(1, g.migrate.max_parallel) - in_flight)
    step.place.extend(fresh[:room])
    step.wait.extend(fresh[room:])
    return MigrateStep(step.place, step.stop, step.wait, min(looks, default=None))
