"""Fuzzing the Consul face as tests/api/test_fuzz.py fuzzes the Nomad face: every route of
its ACL route table, over real HTTP against a real etcd, with fuzzed bodies, query strings
and path parameters (tests/api/fuzz_http.py says what every answer must pass)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.api.acl_table import CONSUL_ROUTES
from reconciler.model.objects import Node
from reconciler.store import Store
from tests.api.fuzz_http import Fuzzed, check, requests
from tests.api.server import prestart_workers
from tests.consul.conftest import NODE_ID, ConsulServer
from tests.fuzzing import fuzz_settings, tried

PER_ROUTE = 6
ROUTES = sorted(CONSUL_ROUTES)
SERVICE = {"ID": "web-1", "Name": "web", "Address": "127.0.0.1", "Port": 8080, "Tags": ["v1"], "Meta": {}}
PARAMS = {
    "name": ["web", "consul"],
    "service": ["web"],
    "service_id": ["web-1"],
    "node": ["test-node", NODE_ID],
    "state": ["passing", "warning", "critical", "any"],
    "key": ["a", "a/b", "a/"],
}
TEMPLATES: dict[str, list[Any]] = {
    "/v1/agent/service/register": [
        SERVICE,
        {**SERVICE, "Check": {"HTTP": "http://127.0.0.1:8080/health", "Interval": "10s"}},
    ],
    "/v1/kv/{key}": [{"any": "json"}],
}


@pytest.fixture(scope="module")
def server(etcd: EmbeddedEtcd) -> Iterator[ConsulServer]:
    """One Consul face for the module, with a node and a registered service to find."""
    store = Store([etcd.endpoint], prefix=f"/fuzz-{uuid.uuid4().hex[:10]}/")
    store.put(store.keys.node(NODE_ID), Node(id=NODE_ID, name="test-node", address="127.0.0.1"))
    s = ConsulServer(store)
    s.start()
    prestart_workers(s._loop, 8)
    try:
        status = check(
            store,
            s.port,
            "",
            Fuzzed("PUT", "/v1/agent/service/register", json.dumps(SERVICE).encode(), "application/json"),
        )
        assert status.status == 200, status
        yield s
    finally:
        s.stop()
        store.close()


@pytest.mark.parametrize(("method", "pattern"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_consul_route_survives_fuzzed_requests(server: ConsulServer, method: str, pattern: str) -> None:
    strategy = requests(method, pattern, PARAMS, TEMPLATES.get(pattern, []))

    @fuzz_settings(PER_ROUTE)
    @given(strategy)
    def run(req: Fuzzed) -> None:
        answer = check(server.ctx.store, server.port, pattern, req)
        tried("api: consul routes", answer.outcome)

    run()


def test_every_route_parameter_has_known_values() -> None:
    names = {p.strip("{}") for _, pattern in ROUTES for p in pattern.split("/") if p.startswith("{")}
    assert names <= set(PARAMS), names - set(PARAMS)
