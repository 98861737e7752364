"""The one definition of client status and terminal (reconciler.model.alloc_status)."""

from __future__ import annotations

import pytest

from reconciler.model.alloc_status import client_status, client_terminal, finished_for_deployment, is_terminal
from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, DesiredStatus, TaskState


def _alloc(desired: DesiredStatus = DesiredStatus.RUN, client: ClientStatus | None = None) -> Allocation:
    return Allocation(
        id="a1",
        namespace="default",
        job_id="web",
        job_version=0,
        task_group="web",
        name="web.web[0]",
        index=0,
        node_id="n1",
        desired_status=desired,
        client_status=client or "",
    )


def _status(client: ClientStatus, **tasks: TaskState) -> AllocStatus:
    return AllocStatus(alloc_id="a1", node_id="n1", client_status=client, task_states=dict(tasks))


# (alloc, reported status or None) -> client status, client terminal, terminal, finished for deployment
CASES = [
    pytest.param(_alloc(), None, ClientStatus.PENDING, False, False, False, id="unreported"),
    pytest.param(
        _alloc(), _status(ClientStatus.RUNNING), ClientStatus.RUNNING, False, False, False, id="running"
    ),
    pytest.param(
        _alloc(),
        _status(ClientStatus.COMPLETE),
        ClientStatus.COMPLETE,
        True,
        True,
        True,
        id="complete-fails-a-deployment",
    ),
    pytest.param(_alloc(), _status(ClientStatus.FAILED), ClientStatus.FAILED, True, True, True, id="failed"),
    pytest.param(
        _alloc(client=ClientStatus.LOST),
        _status(ClientStatus.RUNNING),
        ClientStatus.LOST,
        True,
        True,
        True,
        id="scheduler-says-lost",
    ),
    pytest.param(
        _alloc(DesiredStatus.STOP),
        _status(ClientStatus.RUNNING),
        ClientStatus.RUNNING,
        False,
        True,
        False,
        id="stopping",
    ),
    pytest.param(
        _alloc(DesiredStatus.EVICT), None, ClientStatus.PENDING, False, True, False, id="evicted-unreported"
    ),
    pytest.param(
        _alloc(),
        _status(ClientStatus.RUNNING, web=TaskState(state="dead")),
        ClientStatus.RUNNING,
        False,
        False,
        True,
        id="a-task-died",
    ),
    pytest.param(
        _alloc(),
        _status(ClientStatus.RUNNING, web=TaskState(state="running", failed=True)),
        ClientStatus.RUNNING,
        False,
        False,
        True,
        id="a-task-failed",
    ),
]


@pytest.mark.parametrize(("alloc", "status", "client", "client_done", "terminal", "finished"), CASES)
def test_alloc_status(
    alloc: Allocation,
    status: AllocStatus | None,
    client: ClientStatus,
    client_done: bool,
    terminal: bool,
    finished: bool,
) -> None:
    statuses = {} if status is None else {alloc.id: status}
    assert client_status(alloc, statuses) == client
    assert client_terminal(alloc, statuses) is client_done
    assert is_terminal(alloc, statuses) is terminal
    assert finished_for_deployment(alloc, status) is finished
