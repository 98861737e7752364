"""The drain's migration of one group (pure): Nomad's `migrate` block.

A draining node's allocations move at most `migrate.max_parallel` of a group at a time. An
original stays up beside its replacement until the replacement is healthy (see
`reconciler.model.alloc_health.migrate_ready`), then it is stopped and the next one may go;
a replacement not healthy by `healthy_deadline`, or already terminal, stops holding its
original (and its slot) back. Nothing here waits: the earliest time an answer may change
without an event is returned so the controller looks again then.

A group whose `ephemeral_disk` is sticky or migrates cannot keep its original up: the
replacement takes the original's data over once it has stopped (controllers/driver_runner/
prev_alloc.py). There, as in Nomad's drain, the original stops when its replacement is
placed, and replacements not healthy yet of originals stopped so (`moved`) hold the slots.
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
    moved: Sequence[Allocation] = (),
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
        holds, look = _holds(g, repl, statuses, checks, now)
        if not holds:
            step.stop.append(a)
            continue
        in_flight += 1
        step.wait.append(a)
        if look is not None:
            looks.append(look)
    for a in moved:
        repl = replaced_by.get(a.id)
        holds, look = _holds(g, repl, statuses, checks, now) if repl is not None else (False, None)
        in_flight += holds
        if holds and look is not None:
            looks.append(look)
    room = max(0, max(1, g.migrate.max_parallel) - in_flight)
    step.place.extend(fresh[:room])
    step.wait.extend(fresh[room:])
    if g.ephemeral_disk.sticky or g.ephemeral_disk.migrate:
        step.stop.extend(fresh[:room])  # stopped with their replacement placed (module docstring)
    return MigrateStep(step.place, step.stop, step.wait, min(looks, default=None))


def _holds(
    g: TaskGroup,
    repl: Allocation,
    statuses: Mapping[AllocId, AllocStatus],
    checks: Mapping[AllocId, Sequence[CheckStatus]],
    now: float,
) -> tuple[bool, float | None]:
    """Whether a replacement still holds its slot (not terminal, not healthy, not past its
    healthy_deadline), and when to look again."""
    if is_terminal(repl, statuses):
        return False, None
    r = migrate_ready(
        g, statuses.get(repl.id), checks.get(repl.id, ()), g.migrate, created=repl.create_time, now=now
    )
    if r.healthy or r.expired:
        return False, None
    return True, r.look_again_at
