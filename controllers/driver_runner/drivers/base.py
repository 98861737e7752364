"""The task driver plug-in interface.

A driver turns a task's (already interpolated) `config` into a process launch: it checks
the config (`validate`, at validation time and again before start), says whether it works
on this machine (`fingerprint`), and builds the `LaunchSpec` the executor runs (`prepare`).
Starting, waiting, signalling and re-attach are shared (`handles.py`), because every driver
here runs a host process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from controllers.driver_runner import cgroups
from controllers.driver_runner.handles import LaunchSpec
from reconciler.model.drivers import DriverSchema, FieldKind, has_required
from reconciler.model.job import Task


class DriverError(Exception):
    """The driver cannot run this task (bad config, driver not available)."""


@dataclass
class Fingerprint:
    detected: bool
    healthy: bool
    description: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class TaskContext:
    """Everything a driver needs to build a launch for one task."""

    alloc_id: str
    task: Task
    config: dict[str, Any]  # interpolated
    env: dict[str, str]  # the full task environment
    task_dir: Path  # <alloc>/<task>: the working directory
    logs_dir: Path
    cgroup_name: str = ""
    volumes: list[tuple[str, bool]] = field(default_factory=list)  # host volumes: (path, read_only)
    events: list[tuple[str, str]] = field(default_factory=list)  # (type, message) to report


class TaskDriver(Protocol):
    name: str

    def fingerprint(self) -> Fingerprint: ...

    def validate(self, config: dict[str, Any]) -> list[str]: ...

    def prepare(self, ctx: TaskContext) -> LaunchSpec: ...


def python_types(schema: DriverSchema) -> dict[str, type]:
    """A driver's `config` fields (reconciler.model.drivers) as the Python types they hold."""
    return {k: str if kind == FieldKind.STR else list for k, kind in schema.fields.items()}


def check_fields(config: dict[str, Any], schema: DriverSchema) -> list[str]:
    """Errors for unknown fields, wrong types and missing required fields (list items may
    still be numbers here: the decoder turned them to text, a Nomad JSON job may not have)."""
    allowed = python_types(schema)
    errors = [f"unknown config field {k!r}" for k in config if k not in allowed]
    for k, typ in allowed.items():
        if k in config and not isinstance(config[k], typ):
            errors.append(f"config field {k!r} has the wrong type ({type(config[k]).__name__})")
        if typ is list:
            v = config.get(k)
            if isinstance(v, list) and not all(isinstance(x, str | int | float) for x in v):
                errors.append(f"config field {k!r} must be a list of strings")
    if not has_required(schema, config):
        if len(schema.one_of) == 1:
            errors.append(f"missing required config field {schema.one_of[0]!r}")
        else:
            errors.append("one of " + " or ".join(repr(k) for k in schema.one_of) + " is required")
    return errors


def base_spec(ctx: TaskContext, argv: list[str], *, track: bool = True) -> LaunchSpec:
    """The launch for `argv`; with `track`, in a tracking cgroup (no limits) where one can be
    made, so that killing the task reaches processes that left its process group."""
    logs = ctx.task.logs
    spec = LaunchSpec(
        argv=[str(a) for a in argv],
        env=ctx.env,
        cwd=str(ctx.task_dir),
        logs_dir=str(ctx.logs_dir),
        task=ctx.task.name,
        max_files=logs.max_files,
        max_file_size=logs.max_file_size * 1024 * 1024,
        logs_disabled=logs.disabled,
    )
    if track and ctx.cgroup_name:
        cg = cgroups.tracking(ctx.cgroup_name)
        spec.cgroup_procs, spec.cgroup_dirs = cg.procs_files, cg.dirs
    return spec
