"""The order in which an allocation's tasks run (Nomad's task lifecycle), decided purely from
what each task has done so far; the allocation runner asks after every change and starts or
ends the tasks named.

- prestart tasks start first; the main tasks (no `lifecycle`) start once every prestart
  task that is not a sidecar finished successfully and every prestart sidecar has started;
- poststart tasks start once every main task has started;
- once every main task is dead, the sidecars and poststart tasks still running are ended;
- poststop tasks start once every other task is dead (after a success, a failure or a stop);
- after a failure or a stop, a task that never started is started only to end at once (the
  runner killed it first), so that every task ends in a state.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass

from reconciler.model.job import LifecycleHook, Task
from reconciler.model.objects import TaskRunState, TaskState

MAIN = "main"


@dataclass(frozen=True)
class Member:
    """One task as the ordering sees it."""

    name: str
    hook: str  # MAIN or a LifecycleHook
    sidecar: bool = False
    launched: bool = False  # its runner was started
    started: bool = False  # its process started at least once
    dead: bool = False
    failed: bool = False


def members(tasks: list[Task], states: Mapping[str, TaskState], launched: Container[str]) -> list[Member]:
    out = []
    for t in tasks:
        ts = states.get(t.name) or TaskState()
        out.append(
            Member(
                name=t.name,
                hook=t.lifecycle.hook if t.lifecycle is not None else MAIN,
                sidecar=t.lifecycle.sidecar if t.lifecycle is not None else False,
                launched=t.name in launched,
                started=ts.started_at > 0 or ts.state == TaskRunState.RUNNING,
                dead=ts.state == TaskRunState.DEAD,
                failed=ts.failed,
            )
        )
    return out


def _may_start(m: Member, group: list[Member], *, ended: bool) -> bool:
    if m.hook == LifecycleHook.POSTSTOP:
        return all(o.dead for o in group if o.hook != LifecycleHook.POSTSTOP)
    if ended or m.hook == LifecycleHook.PRESTART:
        return True
    if m.hook == MAIN:
        return all(
            (p.started if p.sidecar else p.dead and not p.failed)
            for p in group
            if p.hook == LifecycleHook.PRESTART
        )
    return all(o.started for o in group if o.hook == MAIN)  # poststart


def to_launch(group: list[Member], *, stopping: bool) -> list[str]:
    """The tasks whose runner starts now."""
    ended = stopping or any(m.failed for m in group)
    return [m.name for m in group if not m.launched and _may_start(m, group, ended=ended)]


def to_end(group: list[Member]) -> list[str]:
    """The sidecars and poststart tasks to end now: every main task is dead."""
    mains = [m for m in group if m.hook == MAIN]
    if not mains or not all(m.dead for m in mains):
        return []
    return [
        m.name
        for m in group
        if m.hook in (LifecycleHook.PRESTART, LifecycleHook.POSTSTART) and m.launched and not m.dead
    ]
