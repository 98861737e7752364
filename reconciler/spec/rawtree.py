"""The format-neutral tree between a parser and the decoder.

HCL and YAML both become `RawBlock`s: a block type, its labels, evaluated attribute values
and child blocks, each with the position it came from. The decoder (`decode.py`) turns this
tree into the typed job model and never needs to know which format it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.spec.errors import NOWHERE, Pos


@dataclass
class RawValue:
    value: Any
    pos: Pos = NOWHERE


@dataclass
class RawBlock:
    type: str
    labels: list[str] = field(default_factory=list)
    attrs: dict[str, RawValue] = field(default_factory=dict)
    blocks: list[RawBlock] = field(default_factory=list)
    pos: Pos = NOWHERE
    # Positions of attributes named twice (HCL forbids it; the decoder reports it).
    duplicates: list[tuple[str, Pos]] = field(default_factory=list)

    def children(self, block_type: str) -> list[RawBlock]:
        return [b for b in self.blocks if b.type == block_type]


class _Invalid:
    """Marks an attribute whose value could not be evaluated (already reported)."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()

# Blocks that may appear several times without a label: their paths carry an index.
REPEATED_BLOCKS = frozenset({"network", "service", "check", "constraint", "artifact", "template"})


def child_path(parent: str, block_type: str, labels: list[str], index: int) -> str:
    """The path of a child block: `job.todo.group.web`, `...service[0]`, `...resources`."""
    base = f"{parent}.{block_type}" if parent else block_type
    if labels:
        return base + "".join(f".{label}" for label in labels)
    if block_type in REPEATED_BLOCKS:
        return f"{base}[{index}]"
    return base
