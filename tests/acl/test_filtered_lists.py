"""Lists spanning namespaces on the real API server over the session's etcd: a rule that
denies one namespace hides it even under a `namespace "*"` grant, answers rendered for one
caller are never served to a caller with other rules, and the event stream of a token ends
when the token is deleted (Nomad re-authenticates its subscriptions)."""

from __future__ import annotations

import dataclasses
import json
import logging
import urllib.request

import pytest

from reconciler.ops import acl as ops
from reconciler.ops.jobs import submit_job
from reconciler.spec import job_to_nomad
from reconciler.store import Store
from tests.acl.conftest import token_with
from tests.api.server import ApiServer
from tests.factories import submitted_job
from tests.waiting import wait_for

ALL_BUT_B = 'namespace "*" { policy = "read" }\nnamespace "b" { policy = "deny" }'


def submit_in(store: Store, *namespaces: str) -> None:
    for ns in namespaces:
        submit_job(store, dataclasses.replace(submitted_job(f"web-{ns}"), namespace=ns))


def listed(server: ApiServer, path: str, token: str) -> set[str]:
    status, rows = server.call("GET", path, token=token)
    assert status == 200, rows
    return {r["Namespace"] for r in rows}


def test_a_namespace_denied_by_its_own_rule_is_hidden_under_a_glob_grant(
    acl_api: ApiServer, store: Store, management: str
) -> None:
    submit_in(store, "default", "a", "b")
    wait_for(lambda: listed(acl_api, "/v1/jobs?namespace=*", management) == {"default", "a", "b"})
    reader = token_with(store, "all-but-b", ALL_BUT_B)
    assert listed(acl_api, "/v1/jobs?namespace=*", reader) == {"default", "a"}
    assert listed(acl_api, "/v1/evaluations", reader) == {"default", "a"}
    assert acl_api.call("GET", "/v1/jobs?namespace=b", token=reader)[0] == 403


def test_one_callers_rendering_is_not_served_to_another(
    acl_api: ApiServer, store: Store, management: str
) -> None:
    submit_in(store, "a", "b")
    readers = {ns: token_with(store, f"read-{ns}", f'namespace "{ns}" {{ policy = "read" }}') for ns in "ab"}
    wait_for(lambda: listed(acl_api, "/v1/evaluations", management) == {"a", "b"})
    for _ in range(2):  # the second round is served from the render cache
        assert listed(acl_api, "/v1/evaluations", management) == {"a", "b"}
        assert listed(acl_api, "/v1/evaluations", readers["a"]) == {"a"}
        assert listed(acl_api, "/v1/evaluations", readers["b"]) == {"b"}


def test_a_policy_without_any_read_is_refused_a_list_of_every_namespace(
    acl_api: ApiServer, store: Store, management: str
) -> None:
    scaler = token_with(store, "scaler", 'namespace "a" { policy = "scale" }')
    assert acl_api.call("GET", "/v1/allocations", token=scaler)[0] == 403
    assert acl_api.call("GET", "/v1/jobs?namespace=*", token=scaler)[0] == 403


def test_the_event_stream_ends_when_its_token_is_deleted(
    acl_api: ApiServer, store: Store, management: str
) -> None:
    token = ops.create_token(store, "watcher", "management", [])
    req = urllib.request.Request(
        acl_api.address + "/v1/event/stream?namespace=*", headers={"X-Nomad-Token": token.secret}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert json.loads(resp.readline()) == {}  # subscribed
        ops.delete_token(store, token.token.accessor_id)
        while line := resp.readline():  # heartbeats at most, then the end of the stream
            assert json.loads(line) == {}


def test_the_agent_self_endpoint_needs_an_agent_read_rule(
    acl_api: ApiServer, store: Store, management: str
) -> None:
    # it names the etcd endpoints, the key prefix and the data dir (review L8)
    reader = token_with(store, "reads-jobs", 'namespace "*" { policy = "read" }')
    agent_reader = token_with(store, "reads-agent", 'agent { policy = "read" }')
    assert acl_api.call("GET", "/v1/agent/self")[0] == 403
    assert acl_api.call("GET", "/v1/agent/self", token=reader)[0] == 403
    assert acl_api.call("GET", "/v1/agent/self", token=agent_reader)[0] == 200


def test_every_write_leaves_an_audit_line_naming_the_accessor(
    acl_api: ApiServer, store: Store, management: str, caplog: pytest.LogCaptureFixture
) -> None:
    ops.apply_policy(store, "audit-reader", 'namespace "x" { policy = "read" }')
    reader = ops.create_token(store, "reader", "client", ["audit-reader"])
    caplog.set_level(logging.INFO, logger="reconciler.api.audit")
    body = {"Job": job_to_nomad(submitted_job("audited"))}
    assert acl_api.call("POST", "/v1/jobs", body, token=reader.secret)[0] == 403
    assert acl_api.call("POST", "/v1/jobs", body)[0] == 403
    assert acl_api.call("GET", "/v1/jobs?namespace=*", token=reader.secret)[0] == 200  # a read: no line
    lines = [r.getMessage() for r in caplog.records if r.name == "reconciler.api.audit"]
    assert lines == [
        f"audit method=POST path=/v1/jobs status=403 accessor={reader.token.accessor_id} remote=127.0.0.1",
        "audit method=POST path=/v1/jobs status=403 accessor=anonymous remote=127.0.0.1",
    ]
    assert all(reader.secret not in line for line in lines)
