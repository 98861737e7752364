"""The resource endpoints over real HTTP against a real etcd: every write goes through an
operation and answers with the revision it committed at (`X-Nomad-Index`), and the shared
request helpers refuse what they must."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.model.objects import Allocation, Evaluation, JobRecord, Node
from reconciler.spec import job_to_nomad
from reconciler.store import Store
from tests.api.server import ApiServer
from tests.factories import submitted_job
from tests.scheduler.factories import mock_alloc, mock_node


def register(api: ApiServer, count: int = 1) -> dict[str, Any]:
    status, out = api.call("POST", "/v1/jobs", {"Job": job_to_nomad(submitted_job("web", count=count))})
    assert status == 200, out
    return out


def test_register_answers_with_the_commit_revision(api: ApiServer, store: Store) -> None:
    status, headers, out = api.exchange("POST", "/v1/jobs", {"Job": job_to_nomad(submitted_job("web"))})
    rec = store.get(store.keys.job("default", "web"), JobRecord)
    assert status == 200
    assert rec is not None
    assert out["JobModifyIndex"] == rec.mod_revision == int(headers["X-Nomad-Index"])


def test_stop_and_purge_answer_with_their_commit_revision(api: ApiServer, store: Store) -> None:
    register(api)
    status, out = api.call("DELETE", "/v1/job/web")
    rec = store.get(store.keys.job("default", "web"), JobRecord)
    assert status == 200
    assert rec is not None
    assert rec.value.stop
    assert out["Index"] == rec.mod_revision
    status, out = api.call("DELETE", "/v1/job/web?purge=true")
    ev = store.get(store.keys.eval(out["EvalID"]), Evaluation)
    assert status == 200
    assert ev is not None
    assert ev.mod_revision == out["Index"]
    assert store.count(store.keys.job_versions("default", "web")) == 0


def test_revert_restores_an_old_spec(api: ApiServer, store: Store) -> None:
    register(api, count=1)
    register(api, count=4)
    status, out = api.call("POST", "/v1/job/web/revert", {"JobID": "web", "JobVersion": 0})
    assert status == 200
    assert out["JobVersion"] == 2
    rec = store.get(store.keys.job("default", "web"), JobRecord)
    assert rec is not None
    assert rec.value.job.task_groups[0].count == 1
    status, out = api.call("POST", "/v1/job/web/revert", {"JobVersion": 9})
    assert status == 404, out
    status, out = api.call("POST", "/v1/job/web/revert", {"JobVersion": 0, "EnforcePriorVersion": 0})
    assert status == 400
    assert out["field"] == "EnforcePriorVersion"


def test_node_drain_fans_out_evaluations_and_answers_with_the_node_revision(
    api: ApiServer, store: Store
) -> None:
    store.put(store.keys.node("node-1"), mock_node("node-1"))
    a = mock_alloc(submitted_job("web"), 0, node="node-1")
    store.put(store.keys.alloc(a.id), a)
    status, headers, out = api.exchange("POST", "/v1/node/node-1/drain", {"DrainSpec": {"Deadline": 0}})
    node = store.get(store.keys.node("node-1"), Node)
    assert status == 200
    assert node is not None
    assert node.value.drain
    assert out["NodeModifyIndex"] == node.mod_revision == int(headers["X-Nomad-Index"])
    ev = store.get(store.keys.eval(out["EvalIDs"][0]), Evaluation)
    assert ev is not None
    assert (ev.value.job_id, ev.value.triggered_by, ev.value.node_id) == ("web", "node-drain", "node-1")
    status, out = api.call("POST", "/v1/node/node-1/eligibility", {"Eligibility": "eligible"})
    assert status == 400
    assert "draining" in out["error"]


def test_alloc_stop_is_one_transaction_with_its_evaluation(api: ApiServer, store: Store) -> None:
    a = mock_alloc(submitted_job("web"), 0)
    store.put(store.keys.alloc(a.id), a)
    status, out = api.call("POST", f"/v1/allocation/{a.id}/stop")
    got = store.get(store.keys.alloc(a.id), Allocation)
    ev = store.get(store.keys.eval(out["EvalID"]), Evaluation)
    assert status == 200
    assert got is not None
    assert ev is not None
    assert got.value.desired_status == "stop"
    assert got.mod_revision == ev.mod_revision == out["Index"]


@pytest.mark.parametrize(
    "path",
    ["/v1/allocations", "/v1/evaluations", "/v1/nodes", "/v1/deployments", "/v1/services", "/v1/jobs"],
    ids=lambda p: p.rsplit("/", 1)[-1],
)
def test_listings_carry_an_index(api: ApiServer, path: str) -> None:
    register(api)
    status, headers, _ = api.exchange("GET", path)
    assert status == 200
    assert int(headers["X-Nomad-Index"]) > 0


@pytest.mark.parametrize(
    ("method", "path", "raw", "status"),
    [
        ("GET", "/v1/job/web/allocations?namespace=a/b", None, 400),
        ("GET", "/v1/job/a%20b/summary", None, 400),
        ("POST", "/v1/node/node-1/drain", b"[1, 2]", 400),
        ("POST", "/v1/job/web/scale", b"not json", 400),
        ("POST", "/v1/job/web/revert", b"x" * (4 * 1024 * 1024 + 1), 413),
    ],
    ids=["invalid namespace", "invalid job id", "body not an object", "body not JSON", "body over the limit"],
)
def test_request_helpers_refuse(
    api: ApiServer, method: str, path: str, raw: bytes | None, status: int
) -> None:
    got, _ = api.call(method, path, raw=raw)
    assert got == status


def test_system_gc_asks_the_collector(api: ApiServer, store: Store) -> None:
    status, headers, out = api.exchange("PUT", "/v1/system/gc", {})
    request = store.get(store.keys.gc_request, dict)
    assert status == 200, out
    assert request is not None
    assert int(headers["X-Nomad-Index"]) == request.mod_revision
