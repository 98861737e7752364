"""Identifiers. NewTypes keep an allocation id from being passed where a node id belongs;
`new_id()` gives Nomad-style UUIDs whose first 8 characters are the short form users see."""

from __future__ import annotations

import re
import uuid
from typing import NewType

AllocId = NewType("AllocId", str)
NodeId = NewType("NodeId", str)
EvalId = NewType("EvalId", str)
DeploymentId = NewType("DeploymentId", str)

# Anything that becomes part of an etcd key or a filesystem path must match this.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def new_id() -> str:
    return str(uuid.uuid4())


def short(ident: str) -> str:
    return ident[:8]


def is_valid_name(name: str) -> bool:
    """True if `name` can be an etcd key segment or a directory name without escaping."""
    return bool(NAME_RE.fullmatch(name)) and name not in (".", "..")  # fullmatch: "$" accepts a final "\n"
