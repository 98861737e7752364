"""The one definition of an allocation's client status and of "terminal", as Nomad's
`Allocation.ClientStatus` / `ClientTerminalStatus()` / `TerminalStatus()`.

An allocation's client status has two writers (see objects.py): the scheduler sets
`Allocation.client_status` to `lost` when the node agent can no longer report (its node is
down); otherwise the node agent's `AllocStatus.client_status` is authoritative, and an
allocation no agent has reported on yet is `pending`.

Every reader (scheduler, garbage collector, job summary, API) asks these functions rather
than comparing statuses itself. `is_terminal` runs over every allocation of the cluster for
each plan, so it is kept flat and duck-typed on the two attributes it reads (the scheduler
passes its slim usage records, too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from reconciler.model.ids import AllocId
from reconciler.model.objects import AllocStatus, ClientStatus, DesiredStatus, TaskRunState

CLIENT_TERMINAL: frozenset[str] = frozenset((ClientStatus.COMPLETE, ClientStatus.FAILED, ClientStatus.LOST))
"""Client statuses after which the node agent runs nothing more for the allocation."""


class AllocLike(Protocol):
    """The fields of an allocation these functions read."""

    @property
    def id(self) -> AllocId: ...
    @property
    def desired_status(self) -> str: ...
    @property
    def client_status(self) -> str | None: ...


def client_status(alloc: AllocLike, statuses: Mapping[AllocId, AllocStatus]) -> str:
    """The allocation's client status: the scheduler's verdict (`lost`) if any, else what
    its node agent reported, else `pending`."""
    if alloc.client_status:
        return alloc.client_status
    st = statuses.get(alloc.id)
    return st.client_status if st else ClientStatus.PENDING


def client_terminal(alloc: AllocLike, statuses: Mapping[AllocId, AllocStatus]) -> bool:
    """The client is done with the allocation (complete, failed or lost), whatever the
    scheduler wants of it (Nomad's `ClientTerminalStatus`)."""
    return client_status(alloc, statuses) in CLIENT_TERMINAL


def is_terminal(alloc: AllocLike, statuses: Mapping[AllocId, AllocStatus]) -> bool:
    """Stopped by the server, or finished on the client (Nomad's `TerminalStatus`)."""
    if alloc.desired_status != DesiredStatus.RUN:
        return True
    cs = alloc.client_status
    if not cs:
        st = statuses.get(alloc.id)
        if st is None:
            return False
        cs = st.client_status
    return cs in CLIENT_TERMINAL


def finished_for_deployment(alloc: AllocLike, status: AllocStatus | None) -> bool:
    """The allocation can no longer become healthy in a deployment: client-terminal, where
    (unlike `client_terminal`) `complete` counts too because a service allocation that
    exits is a failure for its deployment, as in Nomad's health watcher; or one of its
    tasks failed or died."""
    if alloc.client_status in CLIENT_TERMINAL:
        return True
    if status is None:
        return False
    if status.client_status in CLIENT_TERMINAL:
        return True
    return any(ts.failed or ts.state == TaskRunState.DEAD for ts in status.task_states.values())
