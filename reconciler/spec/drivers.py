"""Driver `config` blocks as the parsers see them. The schemas themselves are the domain's
(reconciler.model.drivers, shared with the drivers); the decoder uses them here to convert
numbers and bools to strings where a driver expects text (as Nomad's schema conversion
does), and `validate.py` reports unknown fields, wrong types and missing required fields
against them.
"""

from __future__ import annotations

from typing import Any

from reconciler.model.drivers import DRIVER_SCHEMAS, DriverSchema, FieldKind
from reconciler.spec.reader import scalar_text

DRIVERS: dict[str, DriverSchema] = DRIVER_SCHEMAS


def coerce_config(driver: str, config: dict[str, Any]) -> dict[str, Any]:
    """`config` with scalars turned to text where the driver's schema wants strings."""
    schema = DRIVERS.get(driver)
    if schema is None:
        return config
    out = dict(config)
    for key, value in config.items():
        kind = schema.fields.get(key)
        if kind == FieldKind.STR:
            text = scalar_text(value)
            if text is not None:
                out[key] = text
        elif kind == FieldKind.LIST and isinstance(value, list):
            texts = [scalar_text(v) for v in value]
            if all(t is not None for t in texts):
                out[key] = texts
    return out
