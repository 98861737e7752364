"""Blocking queries on the Nomad API (`?index=N&wait=`), over real HTTP and etcd: a held
read answers once what it reads changes past N, with the new data and a larger index; a
change elsewhere leaves its index alone; `wait` ends it with the same index."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from reconciler.model.objects import AllocStatus, Deployment, Node, TaskState
from reconciler.store import Store
from tests.api.conftest import Seeded
from tests.api.server import ApiServer
from tests.factories import submitted_job
from tests.scheduler.factories import mock_alloc
from tests.waiting import wait_for

Change = Callable[[Store, Seeded], None]


def _status(store: Store, s: Seeded) -> None:
    store.put(
        store.keys.alloc_status(s.alloc_id),
        AllocStatus(
            alloc_id=s.alloc_id, node_id=s.node_id, client_status="failed", task_states={"web": TaskState()}
        ),
    )


def _node(store: Store, s: Seeded) -> None:
    got = store.get(store.keys.node(s.node_id), Node)
    assert got is not None
    store.put(store.keys.node(s.node_id), got.value.__class__(**{**got.value.__dict__, "drain": True}))


def _deployment(store: Store, s: Seeded) -> None:
    got = store.get(store.keys.deployment(s.deployment_id), Deployment)
    assert got is not None
    store.put(
        store.keys.deployment(s.deployment_id),
        got.value.__class__(**{**got.value.__dict__, "status": "paused"}),
    )


def _new_alloc(store: Store, s: Seeded) -> None:
    a = mock_alloc(submitted_job(s.job_id), 1, node=s.node_id)
    store.put(store.keys.alloc(a.id), a)


# (path template, the change that must wake it, what the new answer shows)
CASES: list[tuple[str, Change, Callable[[Any], bool]]] = [
    ("/v1/job/{job}/allocations", _status, lambda out: out[0]["ClientStatus"] == "failed"),
    ("/v1/allocations", _new_alloc, lambda out: len(out) == 2),
    ("/v1/allocation/{alloc}", _status, lambda out: out["ClientStatus"] == "failed"),
    ("/v1/job/{job}/summary", _status, lambda out: out["Summary"]["web"]["Failed"] == 1),
    ("/v1/job/{job}", _new_alloc, lambda out: out["Status"] == "running"),
    ("/v1/node/{node}", _node, lambda out: out["Drain"] is True),
    ("/v1/nodes", _node, lambda out: out[0]["Drain"] is True),
    ("/v1/node/{node}/allocations", _new_alloc, lambda out: len(out) == 2),
    ("/v1/deployment/{dep}", _deployment, lambda out: out["Status"] == "paused"),
    ("/v1/job/{job}/deployments", _deployment, lambda out: out[0]["Status"] == "paused"),
    ("/v1/deployments", _deployment, lambda out: out[0]["Status"] == "paused"),
]


def _path(template: str, s: Seeded) -> str:
    return template.format(job=s.job_id, alloc=s.alloc_id, node=s.node_id, dep=s.deployment_id)


@pytest.mark.parametrize(("template", "change", "shows"), CASES, ids=[c[0] for c in CASES])
def test_a_blocked_read_answers_after_a_change_with_a_larger_index(
    api: ApiServer, store: Store, seeded: Seeded, template: str, change: Change, shows: Callable[[Any], bool]
) -> None:
    path = _path(template, seeded)
    status, headers, _ = api.get(path)
    assert status == 200
    index = int(headers["X-Nomad-Index"])
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        held = pool.submit(api.get, f"{path}?index={index}&wait=30s", timeout=40)
        change(store, seeded)
        status, headers, out = held.result(timeout=40)
    assert status == 200
    assert int(headers["X-Nomad-Index"]) > index
    assert shows(out), out


def test_wait_ends_a_blocked_read_with_the_same_index(api: ApiServer, seeded: Seeded) -> None:
    _, headers, first = api.get(f"/v1/job/{seeded.job_id}/allocations")
    index = headers["X-Nomad-Index"]
    status, headers, out = api.get(f"/v1/job/{seeded.job_id}/allocations?index={index}&wait=1s")
    assert status == 200
    assert headers["X-Nomad-Index"] == index
    assert out == first


def test_a_change_to_another_job_leaves_a_jobs_index_alone(
    api: ApiServer, store: Store, seeded: Seeded
) -> None:
    path = f"/v1/job/{seeded.job_id}/allocations"
    before = api.get(path)[1]["X-Nomad-Index"]
    other = mock_alloc(submitted_job("other"), 0, node=seeded.node_id, id="other-0")
    store.put(store.keys.alloc(other.id), other)
    _, headers, allocs = api.get("/v1/allocations")  # fenced: the cache has the other allocation
    assert len(allocs) == 2
    assert int(headers["X-Nomad-Index"]) > int(before)
    assert api.get(path)[1]["X-Nomad-Index"] == before


@pytest.mark.parametrize(
    ("query", "field"),
    [("index=-1", "index"), ("index=x", "index"), ("index=1&wait=soon", "wait")],
    ids=["negative", "not-a-number", "bad-wait"],
)
def test_bad_blocking_parameters_answer_400(api: ApiServer, seeded: Seeded, query: str, field: str) -> None:
    status, _, out = api.get(f"/v1/jobs?{query}")
    assert status == 400
    assert out["field"] == field


def test_many_blocked_on_one_view_wake_together_and_another_view_stays_held(
    api: ApiServer, store: Store, seeded: Seeded
) -> None:
    """Blocked queries wait in groups by view (`Changes.wait_past`): one change answers all
    of the view's, with the new data, and leaves a query on another view held."""
    path = f"/v1/job/{seeded.job_id}/allocations"
    mine = mock_alloc(submitted_job("other"), 0, node=seeded.node_id, id="other-0")
    store.put(store.keys.alloc(mine.id), mine)
    st = AllocStatus(alloc_id=mine.id, node_id=seeded.node_id, client_status="running", task_states={})
    store.put(store.keys.alloc_status(mine.id), st)  # its own scope in the status table too
    index = int(api.get(path)[1]["X-Nomad-Index"])
    other = "/v1/job/other/allocations"
    other_index = int(api.get(other)[1]["X-Nomad-Index"])
    n = 30
    with concurrent.futures.ThreadPoolExecutor(n + 1) as pool:
        held = [pool.submit(api.get, f"{path}?index={index}&wait=30s", timeout=40) for _ in range(n)]
        elsewhere = pool.submit(api.get, f"{other}?index={other_index}&wait=30s", timeout=40)

        def blocked() -> int:
            return int(api.get("/v1/agent/self")[2]["stats"]["api"]["blocked_queries"])

        wait_for(lambda: blocked() == n + 1, 20, message="every query held")
        _status(store, seeded)
        answers = [h.result(timeout=40) for h in held]
        assert {int(headers["X-Nomad-Index"]) for _, headers, _ in answers} == {
            int(answers[0][1]["X-Nomad-Index"])
        }
        assert all(status == 200 and out[0]["ClientStatus"] == "failed" for status, _, out in answers)
        assert int(answers[0][1]["X-Nomad-Index"]) > index
        assert not elsewhere.done()
        assert blocked() == 1
        # its own view's change answers it (a wait running out is test_wait_ends_a_blocked_read_...)
        store.put(store.keys.alloc_status(mine.id), replace(st, client_status="failed"))
        _, headers, out = elsewhere.result(timeout=40)
        assert int(headers["X-Nomad-Index"]) > other_index
        assert [a["ClientStatus"] for a in out] == ["failed"]
