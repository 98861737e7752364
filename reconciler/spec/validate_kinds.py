"""Validation of the workload-kind blocks (`periodic`, `parameterized`, a task's
`dispatch_payload` and `lifecycle`), called by `validate.validate`. Each check reports through `add(path,
message)`, so the messages and paths are those of every other rule."""

from __future__ import annotations

import posixpath

from reconciler.model.job import (
    Job,
    LifecycleHook,
    Parameterized,
    PayloadRule,
    Periodic,
    TaskGroup,
    runs_to_completion,
)
from reconciler.model.periodic import cron_problem, zone_problem
from reconciler.spec.errors import Add, quote


def check_kinds(add: Add, root: str, job: Job) -> None:
    """Every rule of the job's periodic and parameterized blocks and its tasks' payload files."""
    if job.periodic is not None:
        _check_periodic(add, f"{root}.periodic", job.periodic, job)
    if job.parameterized is not None:
        _check_parameterized(add, f"{root}.parameterized", job.parameterized)
        if not runs_to_completion(job.type):
            add(
                f"{root}.parameterized",
                f'a parameterized job must be of type "batch" or "sysbatch", not {quote(job.type)}',
            )
        if job.periodic is not None:
            add(f"{root}.parameterized", "a job cannot be both periodic and parameterized (not supported)")
    for g in job.task_groups:
        _check_lifecycles(add, f"{root}.group.{g.name}", g)
        for t in g.tasks:
            if t.dispatch_payload is None:
                continue
            path = f"{root}.group.{g.name}.task.{t.name}.dispatch_payload.file"
            if job.parameterized is None:
                add(path, "dispatch_payload needs a parameterized job")
            _check_payload_file(add, path, t.dispatch_payload.file)


def _check_lifecycles(add: Add, path: str, g: TaskGroup) -> None:
    hooked = [t for t in g.tasks if t.lifecycle is not None]
    for t in hooked:
        assert t.lifecycle is not None
        if t.lifecycle.hook not in tuple(LifecycleHook):
            add(
                f"{path}.task.{t.name}.lifecycle.hook",
                f'must be one of "prestart", "poststart", "poststop", got {quote(t.lifecycle.hook)}',
            )
    if hooked and len(hooked) == len(g.tasks):
        add(path, "a group with lifecycle tasks needs at least one main task (a task without lifecycle)")


def _check_periodic(add: Add, path: str, p: Periodic, job: Job) -> None:
    if not runs_to_completion(job.type):
        add(path, f'a periodic job must be of type "batch" or "sysbatch", not {quote(job.type)}')
    if not p.specs():
        add(f"{path}.cron", 'must not be empty: give cron = "..." or crons = [...]')
    elif p.cron and p.crons:
        add(f"{path}.crons", "give cron or crons, not both")
    exprs = [("cron", p.cron)] if p.cron else []
    exprs += [(f"crons[{i}]", e) for i, e in enumerate(p.crons)]
    for field, expr in exprs:
        problem = cron_problem(expr)
        if problem:
            add(f"{path}.{field}", problem)
    problem = zone_problem(p.time_zone)
    if problem:
        add(f"{path}.time_zone", problem)


def _check_parameterized(add: Add, path: str, p: Parameterized) -> None:
    if p.payload not in tuple(PayloadRule):
        add(f"{path}.payload", f'must be one of "optional", "required", "forbidden", got {quote(p.payload)}')
    both = sorted(set(p.meta_required) & set(p.meta_optional))
    if both:
        add(f"{path}.meta_optional", f"keys {both} are also in meta_required")


def _check_payload_file(add: Add, path: str, file: str) -> None:
    if not file:
        add(path, "must not be empty")
        return
    norm = posixpath.normpath(file)
    if "\x00" in file or file.startswith("/") or norm == ".." or norm.startswith("../") or norm == ".":
        add(path, f"{quote(file)} must be a relative path inside the task's local/ directory")
