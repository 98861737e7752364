"""Nomad's Go API client refuses an answer without a numeric `X-Nomad-Index`, an
`X-Nomad-KnownLeader` of "true"/"false" and a numeric `X-Nomad-LastContact`: every GET
endpoint the application registers answers with all three, found by walking its router."""

from __future__ import annotations

import re

import pytest

from reconciler.runtime.leader import LeaderRecord
from reconciler.store import Store
from tests.api.conftest import Seeded
from tests.api.server import ApiServer
from tests.waiting import wait_for


def sample_path(canonical: str, s: Seeded) -> str:
    params = {
        "job_id": s.job_id,
        "alloc_id": s.alloc_id,
        "node_id": s.node_id,
        "eval_id": s.eval_id,
        "dep_id": s.deployment_id,
        "name": s.service,
        "path": "some/var",
        "policy_id": "policy-1",
    }

    def sub(m: re.Match[str]) -> str:
        return params.get(m.group(1).split(":")[0], "sample")  # others name nothing: a 404 has them too

    return re.sub(r"\{([^}]+)\}", sub, canonical)


def get_routes(api: ApiServer) -> list[str]:
    return sorted(
        {
            r.resource.canonical
            for r in api.app.router.routes()
            if r.method == "GET" and r.resource is not None
        }
        - {""}
    )


def test_every_read_endpoint_answers_with_nomads_index_and_leader_headers(
    api: ApiServer, store: Store, seeded: Seeded
) -> None:
    paths = [p for p in get_routes(api) if p.startswith("/v1/")]
    assert len(paths) >= 25, paths
    failures = []
    for canonical in paths:
        path = sample_path(canonical, seeded)
        status, headers = api.head_of(path)
        index = headers.get("X-Nomad-Index", "")
        leader = headers.get("X-Nomad-KnownLeader", "")
        contact = headers.get("X-Nomad-LastContact", "")
        if not (index.isdigit() and int(index) > 0 and leader in ("true", "false") and contact.isdigit()):
            failures.append(f"{path} ({status}): index={index!r} leader={leader!r} contact={contact!r}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/job/web", "/v1/allocations", "/v1/status/leader"])
def test_known_leader_follows_the_leader_record(
    api: ApiServer, store: Store, seeded: Seeded, path: str
) -> None:
    status, headers, _ = api.get(path)
    assert status == 200
    assert headers["X-Nomad-KnownLeader"] == "false"
    assert int(headers["X-Nomad-LastContact"]) >= 0
    store.put(store.keys.leader("scheduler"), LeaderRecord(identity="agent-1", lease=0))
    wait_for(lambda: api.get(path)[1]["X-Nomad-KnownLeader"] == "true", message="leader known")
    status, headers, body = api.get(path)
    assert headers["X-Nomad-LastContact"] == "0"
    if path == "/v1/status/leader":
        assert body == "agent-1"
