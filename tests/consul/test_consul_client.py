"""The Consul face driven by a Consul client library from PyPI (py-consul), over real etcd:
catalog, health (with `?passing` and tags), agent, status and KV, and blocking queries that
return on a change and time out on `wait`."""

from __future__ import annotations

import threading
import time
from typing import Any

import consul
import pytest

from reconciler.model.job import Check
from reconciler.model.services import CheckState, CheckStatus, RegisteredCheck, ServiceRegistration
from reconciler.store import Store
from tests.consul.conftest import NODE_ID
from tests.waiting import wait_for

ALLOC_A = "aaaaaaaa-0000-4000-8000-000000000001"
ALLOC_B = "bbbbbbbb-0000-4000-8000-000000000002"


def register(
    store: Store, alloc_id: str, port: int, *, tags: list[str] | None = None, checked: bool = True
) -> None:
    checks = (
        [RegisteredCheck(id=f"chk-{alloc_id[:8]}", check=Check(name="alive", type="http", path="/"))]
        if checked
        else []
    )
    reg = ServiceRegistration(
        id=f"_nomad-task-{alloc_id}-web-todo-http",
        service_name="todo",
        alloc_id=alloc_id,
        namespace="default",
        job_id="todo",
        group="web",
        task="",
        node_id=NODE_ID,
        port=port,
        port_label="http",
        tags=tags if tags is not None else ["urlprefix-/todo"],
        checks=checks,
    )
    store.put(store.keys.service("todo", alloc_id, "http"), reg)


def check(store: Store, alloc_id: str, state: CheckState) -> None:
    store.put(
        store.keys.check(alloc_id, f"chk-{alloc_id[:8]}"),
        CheckStatus(
            alloc_id=alloc_id,
            check_id=f"chk-{alloc_id[:8]}",
            check_name="alive",
            service_name="todo",
            status=state,
            output=f"HTTP GET: {state}",
        ),
    )


def test_catalog_lists_services_with_their_tags_and_nodes(store: Store, client: consul.Consul) -> None:
    register(store, ALLOC_A, 21000, tags=["urlprefix-/todo", "v1"])
    register(store, ALLOC_B, 21001, tags=["urlprefix-/todo", "v2"])
    wait_for(lambda: len(client.catalog.service("todo")[1]) == 2, 10, message="both instances in the catalog")

    index, services = client.catalog.services()
    assert int(index) > 0
    assert services == {"todo": ["urlprefix-/todo", "v1", "v2"]}
    _, rows = client.catalog.service("todo", tag="v2")
    assert [(r["ServicePort"], r["Node"], r["ServiceTags"]) for r in rows] == [
        (21001, "test-node", ["urlprefix-/todo", "v2"])
    ]
    _, nodes = client.catalog.nodes()
    assert [(n["Node"], n["ID"], n["Meta"]) for n in nodes] == [("test-node", NODE_ID, {"rack": "r1"})]


def test_health_service_passing_filters_on_every_check(store: Store, client: consul.Consul) -> None:
    register(store, ALLOC_A, 21000)
    register(store, ALLOC_B, 21001)
    check(store, ALLOC_A, CheckState.PASSING)
    check(store, ALLOC_B, CheckState.CRITICAL)
    wait_for(lambda: len(client.health.service("todo")[1]) == 2, 10, message="both instances in health")

    _, everything = client.health.service("todo")
    states = {e["Service"]["Port"]: [c["Status"] for c in e["Checks"]] for e in everything}
    assert states == {21000: ["passing", "passing"], 21001: ["passing", "critical"]}  # serfHealth first
    _, passing = client.health.service("todo", passing=True)
    assert [e["Service"]["Port"] for e in passing] == [21000]
    _, critical = client.health.state("critical")
    assert [c["ServiceID"] for c in critical] == [f"_nomad-task-{ALLOC_B}-web-todo-http"]
    _, checks = client.health.checks("todo")
    assert sorted(c["Output"] for c in checks) == ["HTTP GET: critical", "HTTP GET: passing"]


def test_a_blocking_health_query_returns_on_a_change(store: Store, client: consul.Consul) -> None:
    register(store, ALLOC_A, 21000)
    check(store, ALLOC_A, CheckState.CRITICAL)
    wait_for(
        lambda: [c["Output"] for c in client.health.checks("todo")[1]] == ["HTTP GET: critical"],
        10,
        message="the instance in health, critical",
    )
    index, passing = client.health.service("todo", passing=True)
    assert passing == []
    answer: dict[str, Any] = {}

    def blocked() -> None:
        answer["index"], answer["rows"] = client.health.service("todo", passing=True, index=index, wait="30s")

    t = threading.Thread(target=blocked)
    t.start()
    check(store, ALLOC_A, CheckState.PASSING)
    t.join(20)
    assert not t.is_alive(), "the blocked query did not return on the change"
    assert int(answer["index"]) > int(index)
    assert [e["Service"]["Port"] for e in answer["rows"]] == [21000]


def test_a_blocking_query_without_a_change_returns_after_wait(store: Store, client: consul.Consul) -> None:
    index, _ = client.kv.get("nothing/here")
    started = time.monotonic()
    again, data = client.kv.get("nothing/here", index=index, wait="1s")
    assert time.monotonic() - started >= 1.0, "answered before the wait passed"
    assert (again, data) == (index, None)


def test_kv_put_get_recurse_keys_cas_raw_and_delete(client: consul.Consul, server: Any) -> None:
    assert client.kv.put("app/config/db", "postgres://db:5432")
    assert client.kv.put("app/config/cache", b"\x00\x01binary", flags=42)
    assert client.kv.put("app/flags", "on")

    _index, item = client.kv.get("app/config/db")
    assert item is not None
    assert item["Value"] == b"postgres://db:5432"
    assert item["Flags"] == 0
    _, cache = client.kv.get("app/config/cache")
    assert cache is not None
    assert cache["Value"] == b"\x00\x01binary"
    assert cache["Flags"] == 42
    _, tree = client.kv.get("app/", recurse=True)
    assert [e["Key"] for e in tree] == ["app/config/cache", "app/config/db", "app/flags"]
    _, names = client.kv.get("app/", keys=True, separator="/")
    assert names == ["app/config/", "app/flags"]

    assert not client.kv.put("app/flags", "off", cas=0), "cas=0 writes only an absent key"
    assert not client.kv.put("app/flags", "off", cas=item["ModifyIndex"] - 1)
    _, flags = client.kv.get("app/flags")
    assert client.kv.put("app/flags", "off", cas=flags["ModifyIndex"])
    assert client.kv.get("app/flags")[1]["Value"] == b"off"

    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/v1/kv/app/config/db?raw") as resp:
        assert resp.read() == b"postgres://db:5432"

    assert client.kv.delete("app/config", recurse=True)
    assert client.kv.get("app/config/db")[1] is None
    assert client.kv.delete("app/flags")
    assert client.kv.get("app/", recurse=True)[1] is None


@pytest.mark.parametrize(
    "path",
    ["../etc/passwd", "a/../b", "a/./b", "%2Fleading", "bad%01key"],
    ids=["parent", "inner-parent", "dot", "leading-slash", "control-char"],
)
def test_kv_refuses_keys_that_would_escape_or_confuse_the_store(store: Store, server: Any, path: str) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("PUT", f"/v1/kv/{path}", body=b"x")  # sent as written: no client normalises it
    status = conn.getresponse().status
    conn.close()
    assert status in (400, 404), status
    written = [v.key for v in store.list_raw(store.keys.prefix)[0]]
    assert all(k.startswith(store.keys.nodes) for k in written), f"written: {written}"


def test_agent_registers_a_service_no_job_runs_and_deregisters_it(
    store: Store, client: consul.Consul
) -> None:
    client.agent.service.register(
        "billing-db",
        service_id="billing-db-1",
        address="10.0.0.5",
        port=5432,
        tags=["primary"],
        meta={"team": "money"},
    )
    services = client.agent.services()
    assert services["billing-db-1"]["Service"] == "billing-db"
    assert (services["billing-db-1"]["Address"], services["billing-db-1"]["Port"]) == ("10.0.0.5", 5432)
    _, health = client.health.service("billing-db", passing=True)
    assert [e["Service"]["ID"] for e in health] == ["billing-db-1"], "no checks: passing, as in Consul"

    with pytest.raises(consul.ConsulException):
        client.agent.service.register(
            "billing-db", service_id="billing-db-2", port=5432, http="http://x/", interval="5s"
        )

    client.agent.service.deregister("billing-db-1")
    assert "billing-db-1" not in client.agent.services()
    assert client.catalog.service("billing-db")[1] == []


def test_agent_self_and_status_answer_in_consuls_shapes(client: consul.Consul) -> None:
    me = client.agent.self()
    assert me["Config"]["NodeName"] == "test-node"
    assert me["Config"]["NodeID"] == NODE_ID
    assert me["Config"]["Datacenter"] == "dc1"
    assert client.status.leader() == "127.0.0.1:8300"
    assert client.status.peers() == ["127.0.0.1:8300"]
