from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.model.objects import AllocStatus, Deployment, Evaluation, TaskState
from reconciler.model.services import ServiceRegistration
from reconciler.spec import job_to_nomad
from reconciler.store import Store
from tests.api.server import ApiServer, make_server
from tests.factories import submitted_job
from tests.scheduler.factories import mock_alloc, mock_node


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[ApiServer]:
    server = make_server(store, tmp_path)
    yield server
    server.stop()


@dataclass(frozen=True)
class Seeded:
    """One of everything the read endpoints show, for sample path parameters."""

    job_id: str
    alloc_id: str
    node_id: str
    eval_id: str
    deployment_id: str
    service: str


def seed_cluster(api: ApiServer, store: Store) -> Seeded:
    """A registered job (with its evaluation), a node running one allocation of it in a
    deployment, the allocation's status and a service registration."""
    status, out = api.call("POST", "/v1/jobs", {"Job": job_to_nomad(submitted_job("web"))})
    assert status == 200, out
    job = submitted_job("web")
    store.put(store.keys.node("node-1"), mock_node("node-1"))
    dep = Deployment(id="dep-1", namespace="default", job_id="web", job_version=0, create_time=time.time())
    store.put(store.keys.deployment(dep.id), dep)
    a = mock_alloc(job, 0, node="node-1", deployment_id=dep.id, create_time=time.time())
    store.put(store.keys.alloc(a.id), a)
    store.put(
        store.keys.alloc_status(a.id),
        AllocStatus(
            alloc_id=a.id, node_id="node-1", client_status="running", task_states={"web": TaskState()}
        ),
    )
    reg = ServiceRegistration(
        id=f"_nomad-task-{a.id}-web-web-http",
        service_name="web",
        alloc_id=a.id,
        namespace="default",
        job_id="web",
        group="web",
        task="",
        node_id="node-1",
        port=23001,
        port_label="http",
        tags=["v1"],
    )
    store.put(store.keys.service("web", a.id, "http"), reg)
    ev = store.get(store.keys.eval(out["EvalID"]), Evaluation)
    assert ev is not None
    return Seeded("web", a.id, "node-1", ev.value.id, dep.id, "web")


@pytest.fixture
def seeded(api: ApiServer, store: Store) -> Seeded:
    return seed_cluster(api, store)
