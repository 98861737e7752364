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


# A child job launched from a periodic or parameterized job: `<parent>/periodic-<unix time>`
# or `<parent>/dispatch-<unix time>-<8 hex>` (Nomad's IDs). Only children have a `/`.
CHILD_RE = re.compile(r"^(?P<parent>[^/]+)/(?:periodic-\d{1,12}|dispatch-\d{1,12}-[0-9a-f]{8})$")


def child_parent(job_id: str) -> str | None:
    """The parent of a valid child job ID, else None."""
    m = CHILD_RE.fullmatch(job_id)
    return m["parent"] if m is not None and is_valid_name(m["parent"]) else None


def is_valid_job_id(job_id: str) -> bool:
    """A job ID usable in keys: a plain name, or a child's `<parent>/<kind>-<suffix>`."""
    return is_valid_name(job_id) or child_parent(job_id) is not None


def periodic_child_id(parent: str, launch: float) -> str:
    return f"{parent}/periodic-{int(launch)}"


def dispatch_child_id(parent: str, now: float, suffix: str) -> str:
    return f"{parent}/dispatch-{int(now)}-{suffix}"
