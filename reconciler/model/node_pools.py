"""Node pools, as Nomad has them: every node belongs to one pool (its agent's `node_pool`,
default "default"), every job names one (default "default"), and a job runs only on the
nodes of its pool, except that the built-in pool "all" means every node.

Pools are not objects of their own here: the pools that exist are the two built-ins and
every pool a registered node names (Nomad creates a node's pool when the node registers,
so a cluster's pools are these plus pools created empty through the API, which this
project does not offer).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ALL = "all"
DEFAULT = "default"
BUILT_IN = {
    ALL: "Node pool with all nodes in the cluster.",
    DEFAULT: "Default node pool.",
}
_NAME = re.compile(r"^[a-zA-Z0-9-_]{1,128}$")
NAME_PATTERN = _NAME.pattern


def name_error(pool: str) -> str | None:
    """None for a valid pool name, else Nomad's complaint about it."""
    if _NAME.fullmatch(pool):  # fullmatch: "$" accepts a final "\n"
        return None
    return f'invalid name "{pool}", must match regex {NAME_PATTERN}'


def in_pool(node_pool: str, job_pool: str) -> bool:
    """May a job of `job_pool` run on a node of `node_pool`? (An unset pool is "default".)"""
    job_pool = job_pool or DEFAULT
    return job_pool == ALL or (node_pool or DEFAULT) == job_pool


@dataclass(frozen=True)
class NodePool:
    name: str
    description: str = ""


def known_pools(node_pools: Iterable[str]) -> list[NodePool]:
    """The built-in pools and those the nodes name, sorted by name (Nomad lists them so)."""
    names = set(BUILT_IN) | {p or DEFAULT for p in node_pools}
    return [NodePool(n, BUILT_IN.get(n, "")) for n in sorted(names)]
