"""The shared test factories: model jobs (Nomad's `mock.Job()` style, no I/O) and job files
from the templates in tests/fixtures/jobs.

- `mock_job` is the job model as code builds it (defaults not filled): what the scheduler,
  deployment and summary tests feed to pure functions.
- `submitted_job` is the same job as a parser returns it (defaults filled, `dc1`, a task
  that sleeps for an hour): what tests submit through `submit_job` or the API.
- `job_file` writes a job file from a template, for tests that drive the CLI or the agent.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from reconciler.model.job import Job, Network, Port, Resources, Task, TaskGroup, UpdateStrategy
from reconciler.spec import fill_defaults

JOB_FILES = Path(__file__).parent / "fixtures" / "jobs"


def mock_job(
    count: int = 10,
    *,
    id: str = "web",
    type: str = "service",
    group: str = "web",
    cpu: int = 100,
    memory: int = 128,
    ports: list[Port] | None = None,
    driver: str = "raw_exec",
    command: str = "/bin/sleep",
    args: list[str] | None = None,
    update: UpdateStrategy | None = None,
    **kw: Any,
) -> Job:
    """One group of `count` instances of one task, `server`; `kw` sets other `Job` fields."""
    config: dict[str, Any] = {"command": command, **({"args": args} if args is not None else {})}
    tg = TaskGroup(
        name=group,
        count=count,
        tasks=[
            Task(name="server", driver=driver, config=config, resources=Resources(cpu=cpu, memory=memory))
        ],
        networks=[Network(ports=ports)] if ports else [],
    )
    return Job(id=id, name=id, type=type, task_groups=[tg], update=update, **kw)


def submitted_job(
    job_id: str = "web",
    *,
    count: int = 1,
    command: str = "/bin/sleep",
    args: list[str] | None = None,
    group: str = "web",
    ports: list[Port] | None = None,
) -> Job:
    """A job as every parser returns it (defaults filled), ready to submit."""
    job = mock_job(
        count,
        id=job_id,
        group=group,
        memory=64,
        ports=ports,
        command=command,
        args=args if args is not None else ["3600"],
        datacenters=["dc1"],
    )
    return fill_defaults(job)


class _JobTemplate(string.Template):
    delimiter = "@"  # HCL itself uses `${...}` and `%{...}`, never `@`


_TEMPLATE_DEFAULTS: dict[str, object] = {"job": "todo", "count": 3, "update": "", "port": "", "release": "1"}


def job_text(template: str, **values: object) -> str:
    """The text of tests/fixtures/jobs/<template>.nomad with its `@name` placeholders filled
    (see each file's header; unset ones take `_TEMPLATE_DEFAULTS`)."""
    text = (JOB_FILES / f"{template}.nomad").read_text(encoding="utf-8")
    return _JobTemplate(text).substitute({k: str(v) for k, v in {**_TEMPLATE_DEFAULTS, **values}.items()})


def job_file(directory: Path, template: str, *, name: str | None = None, **values: object) -> Path:
    """Write `job_text(template, **values)` to `directory/name` (default `<template>.nomad`)."""
    path = directory / (name or f"{template}.nomad")
    path.write_text(job_text(template, **values), encoding="utf-8")
    return path


def update_block(**attrs: object) -> str:
    """An HCL `update { ... }` block for the `@update` placeholder: strings quoted, numbers
    as they are, in the order given."""
    lines = [f"    {k} = {json.dumps(v) if isinstance(v, str) else v}" for k, v in attrs.items()]
    return "  update {\n" + "\n".join(lines) + "\n  }\n"
