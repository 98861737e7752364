"""Fuzzing the Nomad face: every route of the ACL route table (so a new route is fuzzed
without a line here), over real HTTP against a real etcd, with fuzzed bodies, query strings
and path parameters (tests/api/fuzz_http.py says what every answer must pass)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.api.acl import AclCache
from reconciler.api.acl_table import NOMAD_ROUTES
from reconciler.ops import acl as acl_ops
from reconciler.spec import job_to_nomad
from reconciler.store import Store
from tests.acl.conftest import token_with
from tests.api.conftest import Seeded, seed_cluster
from tests.api.fuzz_http import Fuzzed, check, requests
from tests.api.server import ApiServer, make_server
from tests.factories import submitted_job
from tests.fuzzing import fuzz_settings, tried

PER_ROUTE = 4
PER_ROUTE_ACL = 3
ROUTES = sorted(NOMAD_ROUTES)
# inputs that found a bug, tried first on every run
FOUND: dict[tuple[str, str], list[Fuzzed]] = {
    # an id no key can hold was a ValueError from the key layout, answered 500 (now 400)
    ("GET", "/v1/deployment/allocations/{dep_id}"): [Fuzzed("GET", "/v1/deployment/allocations/.", None, "")],
}


@dataclass(frozen=True)
class AclCluster:
    server: ApiServer
    seeded: Seeded
    tokens: list[str]


@pytest.fixture(scope="module")
def cluster(
    etcd: EmbeddedEtcd, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ApiServer, Seeded]]:
    """One agent API for the module (a server per route would cost more than the fuzzing)."""
    store = Store([etcd.endpoint], prefix=f"/fuzz-{uuid.uuid4().hex[:10]}/")
    server = make_server(store, Path(tmp_path_factory.mktemp("fuzz-api")))
    server.prestart_workers(8)
    try:
        yield server, seed_cluster(server, store)
    finally:
        server.stop()
        store.close()


@pytest.fixture(scope="module")
def acl_cluster(etcd: EmbeddedEtcd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclCluster]:
    """The same, with ACLs on: seeded before they are, then served with a management token,
    a client token reading the default namespace, and a client token of a policy since deleted."""
    store = Store([etcd.endpoint], prefix=f"/fuzz-{uuid.uuid4().hex[:10]}/")
    seeder = make_server(store, Path(tmp_path_factory.mktemp("fuzz-seed")))
    seeded = seed_cluster(seeder, store)
    seeder.stop()
    cache = AclCache(store, name="fuzz")
    cache.start()
    server = make_server(store, Path(tmp_path_factory.mktemp("fuzz-acl")), acl=cache)
    server.prestart_workers(8)
    tokens = [
        acl_ops.bootstrap(store).secret,
        token_with(store, "reader", 'namespace "default" { policy = "read" }'),
        token_with(store, "gone", 'namespace "*" { policy = "write" }'),
    ]
    acl_ops.delete_policy(store, "gone")
    try:
        yield AclCluster(server, seeded, tokens)
    finally:
        server.stop()
        cache.stop()
        store.close()


def params(seeded: Seeded) -> dict[str, list[str]]:
    return {
        "job_id": [seeded.job_id],
        "alloc_id": [seeded.alloc_id, seeded.alloc_id[:8]],
        "node_id": [seeded.node_id],
        "eval_id": [seeded.eval_id, seeded.eval_id[:8]],
        "dep_id": [seeded.deployment_id],
        "name": [seeded.service, "default", "anonymous", "app.js"],
        "accessor_id": [str(uuid.uuid4())],
        "path": ["nomad/jobs", "a/b"],
        "policy_id": [str(uuid.uuid4())],
    }


def templates(pattern: str) -> list[Any]:
    """Valid bodies to mutate, so that fuzzing gets past the first check of a body."""
    job = job_to_nomad(submitted_job("web"))
    if pattern in ("/v1/jobs", "/v1/job/{job_id}", "/v1/job/{job_id}/plan", "/v1/validate/job"):
        return [{"Job": job}]
    return {
        "/v1/jobs/parse": [{"JobHCL": 'job "x" {\n group "g" {\n task "t" {\n driver = "raw_exec"\n}}}'}],
        "/v1/job/{job_id}/scale": [{"Count": 2, "Target": {"Group": "web"}}],
        "/v1/job/{job_id}/revert": [{"JobID": "web", "JobVersion": 0}],
        "/v1/job/{job_id}/dispatch": [{"Payload": "", "Meta": {"k": "v"}}],
        "/v1/node/{node_id}/drain": [{"DrainSpec": {"Deadline": 1000000000}}],
        "/v1/node/{node_id}/eligibility": [{"Eligibility": "ineligible"}],
        "/v1/acl/policy/{name}": [{"Name": "p", "Rules": 'namespace "default" { policy = "read" }'}],
        "/v1/acl/token": [{"Name": "t", "Type": "client", "Policies": ["p"]}],
        "/v1/client/allocation/{alloc_id}/exec": [{"Task": "web", "Cmd": ["/bin/true"], "Timeout": 1}],
        "/v1/search": [{"Prefix": "w", "Context": "all"}],
    }.get(pattern, [])


@pytest.mark.parametrize(("method", "pattern"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_survives_fuzzed_requests(
    cluster: tuple[ApiServer, Seeded], method: str, pattern: str
) -> None:
    server, seeded = cluster
    strategy = requests(method, pattern, params(seeded), templates(pattern))

    @fuzz_settings(PER_ROUTE)
    @given(strategy)
    def run(req: Fuzzed) -> None:
        answer = check(server.ctx.store, server.port, pattern, req)
        tried("api: nomad routes", answer.outcome)

    for found in FOUND.get((method, pattern), []):
        run = example(found)(run)
    run()


@pytest.mark.parametrize(("method", "pattern"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_survives_fuzzed_requests_with_acls(
    acl_cluster: AclCluster, method: str, pattern: str
) -> None:
    """With ACLs on the checks run first (the namespace from the query, the body or the
    object the path names): fuzzed tokens and ids must not break them either."""
    c = acl_cluster
    strategy = requests(method, pattern, params(c.seeded), templates(pattern), c.tokens)

    @fuzz_settings(PER_ROUTE_ACL)
    @given(strategy)
    def run(req: Fuzzed) -> None:
        answer = check(c.server.ctx.store, c.server.port, pattern, req)
        tried("api: nomad routes, ACLs on", answer.outcome)

    run()


def test_request_strategy_covers_every_route_parameter() -> None:
    """A route whose parameter has no known value is still fuzzed, but only with odd text:
    keep `params` in step with the table."""
    seeded = Seeded("j", "a", "n", "e", "d", "s")
    names = {p.strip("{}") for _, pattern in ROUTES for p in pattern.split("/") if p.startswith("{")}
    assert names <= set(params(seeded)), names - set(params(seeded))
