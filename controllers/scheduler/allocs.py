"""Questions about one allocation the scheduler asks everywhere: its client status, whether
it is terminal, whether its node is lost, its name.

The lowest module of the scheduler (`reconcile`, `deployment_gate`, `deployment_create` and
`decide` all build on it), kept thin on purpose: these are facts about the domain objects,
and once the model answers them itself (one "allocation is terminal" definition) these
functions become calls to it. `is_terminal` runs over every allocation of the cluster for
each plan (node usage), so it stays flat.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, DesiredStatus, Node, NodeStatus


def client_status_of(alloc: Allocation, statuses: Mapping[str, AllocStatus]) -> str:
    if alloc.client_status:
        return alloc.client_status
    st = statuses.get(alloc.id)
    return st.client_status if st else ClientStatus.PENDING


_CLIENT_TERMINAL = frozenset((ClientStatus.COMPLETE, ClientStatus.FAILED, ClientStatus.LOST))


def is_terminal(alloc: Allocation, statuses: Mapping[str, AllocStatus]) -> bool:
    """Stopped by the server, or finished on the client (complete, failed, lost). Runs over
    every allocation of the cluster for each plan (node usage), so it is kept flat."""
    if alloc.desired_status != DesiredStatus.RUN:
        return True
    cs = alloc.client_status
    if not cs:
        st = statuses.get(alloc.id)
        if st is None:
            return False
        cs = st.client_status
    return cs in _CLIENT_TERMINAL


def node_lost(node: Node | None) -> bool:
    return node is None or node.status == NodeStatus.DOWN


def alloc_name(job_id: str, group: str, index: int) -> str:
    return f"{job_id}.{group}[{index}]"
