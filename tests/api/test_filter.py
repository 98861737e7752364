"""Nomad's `filter` expressions (go-bexpr), as pure decisions over one answer row; and
the list endpoints' `prefix`, `filter`, `per_page` and `next_token` over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.api.filter import FilterError, compile_filter
from reconciler.store import Store
from tests.api.conftest import Seeded
from tests.api.server import ApiServer
from tests.factories import submitted_job
from tests.scheduler.factories import mock_alloc

ROW: dict[str, Any] = {
    "ID": "a-1",
    "Status": "running",
    "TaskGroup": "web",
    "Count": 3,
    "Stop": False,
    "Tags": ["v1", "canary"],
    "Meta": {"rack": "r1", "zone.name": "z1"},
    "DeploymentID": "",
    "Missing": None,
    "Node": {"Name": "node-7", "Meta": {}},
}

MATCHES = [
    ('Status == "running"', True),
    ("Status == running", True),
    ("Status != running", False),
    ('Status == "dead"', False),
    ("Count == 3", True),
    ("Count == 3.0", True),
    ("Count != 4", True),
    ("Stop == false", True),
    ("Stop == true", False),
    ('"v1" in Tags', True),
    ('"v2" in Tags', False),
    ('"v2" not in Tags', True),
    ('Tags contains "canary"', True),
    ('Tags not contains "canary"', False),
    ('Status contains "run"', True),
    ('Meta contains "rack"', True),
    ('"rack" in Meta', True),
    ("Meta.rack == r1", True),
    ('Meta["zone.name"] == "z1"', True),
    ("Meta.nope == r1", False),
    ("Meta.nope != r1", True),
    ("Node.Name matches `^node-[0-9]+$`", True),
    ('Node.Name not matches "^api"', True),
    ("DeploymentID is empty", True),
    ("DeploymentID is not empty", False),
    ("Missing is empty", True),
    ("Node.Meta is empty", True),
    ("Meta is not empty", True),
    ("Nope is empty", True),
    ("Nope == x", False),
    ('Status == "running" and TaskGroup == web', True),
    ('Status == "running" and TaskGroup == db', False),
    ("Status == dead or TaskGroup == web", True),
    ("not Status == dead", True),
    ("not (Status == running or Count == 1)", False),
    ("Status == dead or Status == failed or (TaskGroup == web and Count == 3)", True),
    ("Status == running and not Stop == true and not (Count != 3)", True),
    ('Status == "say \\"hi\\""', False),
]


@pytest.mark.parametrize(("expr", "expected"), MATCHES, ids=[m[0] for m in MATCHES])
def test_filter_expressions(expr: str, expected: bool) -> None:
    assert compile_filter(expr)(ROW) is expected


ERRORS = [
    ("", "empty"),
    ("Status ==", "end of expression"),
    ("Status = running", "unexpected character"),
    ("Status running", "operator"),
    ("(Status == running", "end of expression"),
    ("Status == running)", "unexpected '\\)'"),
    ("Status == running and", "end of expression"),
    ("Name matches `[`", "regular expression"),
    ("Status is full", "expected empty"),
    ("== running", "selector"),
    ('"x" in "y"', "selector"),
]


@pytest.mark.parametrize(("expr", "message"), ERRORS, ids=[e[0] or "empty" for e in ERRORS])
def test_bad_filter_expressions_say_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        compile_filter(expr)


def test_list_endpoints_filter_page_and_prefix(api: ApiServer, store: Store, seeded: Seeded) -> None:
    job = submitted_job(seeded.job_id)
    for i in range(1, 5):
        a = mock_alloc(job, i, node=seeded.node_id, id=f"b-{i}", create_time=1000.0 + i)
        store.put(store.keys.alloc(a.id), a)
    _, _, everything = api.get("/v1/allocations")
    assert len(everything) == 5
    status, headers, first = api.get("/v1/allocations?per_page=2")
    assert status == 200
    assert [a["ID"] for a in first] == [a["ID"] for a in everything[:2]]
    token = headers["X-Nomad-NextToken"]
    _, headers, second = api.get(f"/v1/allocations?per_page=2&next_token={token}")
    _, last_headers, third = api.get(f"/v1/allocations?per_page=2&next_token={headers['X-Nomad-NextToken']}")
    assert [a["ID"] for a in first + second + third] == [a["ID"] for a in everything]
    assert "X-Nomad-NextToken" not in last_headers
    _, _, prefixed = api.get("/v1/allocations?prefix=b-")
    assert sorted(a["ID"] for a in prefixed) == ["b-1", "b-2", "b-3", "b-4"]
    _, _, filtered = api.get("/v1/allocations?filter=" + "Name%20matches%20%22%5C%5B%5B12%5D%5C%5D%22")
    assert sorted(a["Name"] for a in filtered) == ["web.web[1]", "web.web[2]"]
    _, _, jobs = api.get("/v1/jobs?filter=Status%20%3D%3D%20running")
    assert [j["ID"] for j in jobs] == ["web"]
    _, _, nodes = api.get("/v1/nodes?prefix=nope")
    assert nodes == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("filter=Status%20%3D", "filter"), ("per_page=-1", "per_page"), ("per_page=x", "per_page")],
    ids=["bad-filter", "negative-page", "nan-page"],
)
def test_bad_list_options_answer_400(api: ApiServer, seeded: Seeded, query: str, field: str) -> None:
    status, _, out = api.get(f"/v1/allocations?{query}")
    assert status == 400
    assert out["field"] == field
