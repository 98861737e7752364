"""The service discovery API and CLI over real HTTP, reading a catalog in real etcd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli.main import cli
from reconciler.model.job import Check
from reconciler.model.objects import Allocation
from reconciler.model.services import CheckStatus, RegisteredCheck, ServiceRegistration
from reconciler.store import Store
from tests.api.server import ApiServer, make_server

A1 = "11111111-0000-4000-8000-000000000001"
A2 = "22222222-0000-4000-8000-000000000002"


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[ApiServer]:
    server = make_server(store, tmp_path)
    yield server
    server.stop()


def seed(store: Store) -> None:
    for alloc, port in ((A1, 23001), (A2, 23002)):
        store.put(
            store.keys.alloc(alloc),
            Allocation(
                id=alloc,
                namespace="default",
                job_id="todo",
                job_version=0,
                task_group="web",
                name="todo.web[0]",
                index=0,
                node_id="node-1",
            ),
        )
        store.put(
            store.keys.service("todo", alloc, "http"),
            ServiceRegistration(
                id=f"_nomad-task-{alloc}-web-todo-http",
                service_name="todo",
                alloc_id=alloc,
                namespace="default",
                job_id="todo",
                group="web",
                task="",
                node_id="node-1",
                address="127.0.0.1",
                port=port,
                port_label="http",
                tags=["urlprefix-/todo"],
                checks=[RegisteredCheck(id="todo-alive", check=Check(name="alive"))],
            ),
        )
    store.put(
        store.keys.service("admin", A1, "admin"),
        ServiceRegistration(
            id="x",
            service_name="admin",
            alloc_id=A1,
            namespace="default",
            job_id="todo",
            group="web",
            task="server",
            node_id="node-1",
            port=23003,
            port_label="admin",
            tags=["internal"],
        ),
    )
    store.put(
        store.keys.check(A1, "todo-alive"),
        CheckStatus(
            alloc_id=A1,
            check_id="todo-alive",
            check_name="alive",
            service_name="todo",
            status="passing",
            output="HTTP 200",
        ),
    )


def test_services_endpoints(store, api) -> None:
    seed(store)
    status, data = api.call("GET", "/v1/services")
    assert status == 200
    assert data == [
        {
            "Namespace": "default",
            "Services": [
                {"ServiceName": "admin", "Tags": ["internal"]},
                {"ServiceName": "todo", "Tags": ["urlprefix-/todo"]},
            ],
        }
    ]
    status, data = api.call("GET", "/v1/service/todo")
    assert status == 200
    assert [(r["AllocID"], r["Port"]) for r in data] == [(A1, 23001), (A2, 23002)]
    assert set(data[0]) >= {
        "ServiceName",
        "ID",
        "AllocID",
        "JobID",
        "NodeID",
        "Address",
        "Port",
        "Tags",
        "Datacenter",
        "Namespace",
    }
    assert api.call("GET", "/v1/service/nothing") == (200, [])
    assert api.call("GET", "/v1/service/bad%20name")[0] == 400
    status, checks = api.call("GET", f"/v1/client/allocation/{A1[:8]}/checks")
    assert status == 200
    assert checks["todo-alive"]["Status"] == "success"
    assert checks["todo-alive"]["Health"] == "passing"
    assert checks["todo-alive"]["Group"] == "web"
    assert checks["todo-alive"]["Service"] == "todo"
    assert api.call("GET", "/v1/client/allocation/nope/checks")[0] == 404


def test_service_cli(store, api) -> None:
    seed(store)
    runner = CliRunner()
    out = runner.invoke(cli, ["--address", api.address, "service", "list"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == [
        "Service Name  Tags",
        "admin         [internal]",
        "todo          [urlprefix-/todo]",
    ]
    out = runner.invoke(cli, ["--address", api.address, "service", "info", "todo"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split() == ["Job", "ID", "Address", "Tags", "Node", "ID", "Alloc", "ID"]
    assert lines[1].split() == ["todo", "127.0.0.1:23001", "[urlprefix-/todo]", "node-1", A1[:8]]
    out = runner.invoke(cli, ["--address", api.address, "service", "info", "-verbose", "todo"])
    assert "alive=passing" in out.output
    assert A1 in out.output
    out = runner.invoke(cli, ["--address", api.address, "service", "info", "ghost"])
    assert out.exit_code == 1
    assert "No service registrations" in out.output
