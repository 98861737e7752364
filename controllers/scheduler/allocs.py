"""Questions about one allocation the scheduler asks everywhere: its client status, whether
it is terminal, whether its node is lost, its name.

The lowest module of the scheduler (`reconcile`, `deployment_gate`, `deployment_create` and
`decide` all build on it), kept thin on purpose: these are facts about the domain objects,
and once the model answers them itself (one "allocation is terminal" definition) these
functions are the model's (`reconciler.model.alloc_status`), re-exported here.
"""

from __future__ import annotations

from reconciler.model.alloc_status import client_status, is_terminal
from reconciler.model.objects import Node, NodeStatus

__all__ = ["alloc_name", "client_status_of", "is_terminal", "node_lost"]

client_status_of = client_status
"""The allocation's client status (the model's one definition, reconciler.model.alloc_status)."""


def node_lost(node: Node | None) -> bool:
    """Its allocations are lost: the node is gone, down, or disconnected (for a group with a
    `disconnect` window the reconcile asks `alloc_kinds._disconnect_kind` first)."""
    return node is None or node.status in (NodeStatus.DOWN, NodeStatus.DISCONNECTED)


def alloc_name(job_id: str, group: str, index: int) -> str:
    return f"{job_id}.{group}[{index}]"
