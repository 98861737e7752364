"""Validation of a task's own blocks, called by `validate.validate` for each task: its
driver and the fields that driver's `config` accepts (the one schema per driver,
`spec/drivers.py`, that the driver reads too), its `user`, its artifacts and templates, and
its `logs`. Each check reports through `add(path, message)`, as every other rule does.
"""

from __future__ import annotations

import re

from reconciler.model.drivers import FieldKind, has_required, kind_ok
from reconciler.model.job import Task
from reconciler.spec.drivers import DRIVERS
from reconciler.spec.errors import Add, quote, suggestion

HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token


def check_driver(add: Add, path: str, t: Task) -> None:
    if not t.driver:
        add(f"{path}.driver", 'missing required field "driver"')
        return
    if t.driver not in DRIVERS:
        known = ", ".join(sorted(DRIVERS))
        add(
            f"{path}.driver",
            f'unknown driver "{t.driver}"' + suggestion(t.driver, DRIVERS) + f" (known: {known})",
        )
        return
    schema = DRIVERS[t.driver]
    fields, required = schema
    for key, value in t.config.items():
        if key not in fields:
            add(
                f"{path}.config.{key}",
                f'unknown field "{key}" for the {t.driver} driver' + suggestion(key, fields),
            )
        elif not kind_ok(value, fields[key]):
            want = "a string" if fields[key] == FieldKind.STR else "a list of strings"
            add(f"{path}.config.{key}", f"must be {want}, got {quote(value)}")
    if not has_required(schema, t.config):
        alternative = f' or "{required[1]}"' if len(required) > 1 else ""
        add(f"{path}.config", f'the {t.driver} driver needs "{required[0]}"' + alternative)


# The drivers that can run a task as its `user` (exec and java: setpriv in their sandbox,
# docs/drivers.md). raw_exec runs as the agent's user, so a `user` there is refused, never ignored.
USER_DRIVERS = ("exec", "java")


def check_user(add: Add, path: str, t: Task) -> None:
    if t.user and t.driver in DRIVERS and t.driver not in USER_DRIVERS:
        add(
            f"{path}.user",
            f"the {t.driver} driver cannot run a task as another user (only {', '.join(USER_DRIVERS)} can)",
        )


def check_files(add: Add, path: str, t: Task) -> None:
    """The task's artifacts and templates."""
    for i, a in enumerate(t.artifacts):
        if not a.source:
            add(f"{path}.artifact[{i}].source", "must not be empty")
        for name in a.headers:
            if not HEADER_NAME.fullmatch(name):
                add(f"{path}.artifact[{i}].headers", f"{name!r} is not an HTTP header name")
    for i, tpl in enumerate(t.templates):
        if not tpl.destination:
            add(f"{path}.template[{i}].destination", "must not be empty")
        if tpl.change_mode == "signal" and not tpl.change_signal:
            add(f"{path}.template[{i}].change_signal", 'change_mode "signal" needs a change_signal')


def check_logs(add: Add, path: str, t: Task, disk_mb: int) -> None:
    """Nomad's LogConfig.Validate: rotation needs a file of at least 1 MB (a 0-byte limit
    rotated on every write, review L7), and the logs must fit the group's disk."""
    logs = t.logs
    if logs.max_files < 1:
        add(f"{path}.logs.max_files", f"minimum number of files is 1; got {logs.max_files}")
    if logs.max_file_size < 1:
        add(f"{path}.logs.max_file_size", f"minimum file size is 1MB; got {logs.max_file_size}")
    usage = logs.max_files * logs.max_file_size
    if usage >= disk_mb:
        add(
            f"{path}.logs",
            f"log storage ({usage} MB) must be less than requested disk capacity ({disk_mb} MB)",
        )
