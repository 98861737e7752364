"""What each task driver accepts in its `config` block.

Nomad's drivers declare a schema for `config`; this is ours for `raw_exec`, `exec` and
`java`. The decoder uses it to convert numbers and bools to strings where a driver expects
text (as Nomad's schema conversion does); `validate.py` reports unknown fields, wrong
types and missing required fields against it.
"""

from __future__ import annotations

from typing import Any

from reconciler.spec.reader import scalar_text

# driver -> (field -> "str" | "list"), and the fields of which at least one is required
DRIVERS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "raw_exec": ({"command": "str", "args": "list"}, ("command",)),
    "exec": ({"command": "str", "args": "list"}, ("command",)),
    "java": (
        {"jar_path": "str", "class": "str", "class_path": "str", "jvm_options": "list", "args": "list"},
        ("jar_path", "class"),
    ),
}


def coerce_config(driver: str, config: dict[str, Any]) -> dict[str, Any]:
    """`config` with scalars turned to text where the driver's schema wants strings."""
    schema = DRIVERS.get(driver)
    if schema is None:
        return config
    fields = schema[0]
    out = dict(config)
    for key, value in config.items():
        kind = fields.get(key)
        if kind == "str":
            text = scalar_text(value)
            if text is not None:
                out[key] = text
        elif kind == "list" and isinstance(value, list):
            texts = [scalar_text(v) for v in value]
            if all(t is not None for t in texts):
                out[key] = texts
    return out
