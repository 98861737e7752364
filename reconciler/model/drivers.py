"""What each task driver accepts in its `config` block: the one schema per driver.

Nomad's drivers declare a schema for `config`; these are ours for `raw_exec`, `exec` and
`java`. Both sides read them: job validation and decoding (reconciler.spec.validate,
reconciler.spec.drivers, which turn numbers and bools into text where a driver wants a
string) and the drivers themselves (controllers/driver_runner/drivers), which check a
config again before they start a task. The schema lives in the domain because it is part of
what a job means, not of how it is parsed or run.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple


class FieldKind(StrEnum):
    STR = "str"
    LIST = "list"  # of strings


class DriverSchema(NamedTuple):
    fields: dict[str, FieldKind]
    # at least one of these must be set (Nomad's java: `jar_path` or `class`, both allowed)
    one_of: tuple[str, ...]


DRIVER_SCHEMAS: dict[str, DriverSchema] = {
    "raw_exec": DriverSchema({"command": FieldKind.STR, "args": FieldKind.LIST}, ("command",)),
    "exec": DriverSchema({"command": FieldKind.STR, "args": FieldKind.LIST}, ("command",)),
    "java": DriverSchema(
        {
            "jar_path": FieldKind.STR,
            "class": FieldKind.STR,
            "class_path": FieldKind.STR,
            "jvm_options": FieldKind.LIST,
            "args": FieldKind.LIST,
        },
        ("jar_path", "class"),
    ),
}


def kind_ok(value: Any, kind: FieldKind) -> bool:
    if kind == FieldKind.STR:
        return isinstance(value, str)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def has_required(schema: DriverSchema, config: dict[str, Any]) -> bool:
    """At least one of the schema's `one_of` fields is set to something non-empty."""
    return any(config.get(k) for k in schema.one_of)
