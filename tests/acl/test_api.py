"""ACLs enforced by the real API server over the session's etcd: anonymous callers, read and
management tokens, namespaces taken from the body and from the object, revocation, the ACL
endpoints' Nomad shapes, and secrets that etcd only ever holds as hashes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from reconciler.api import app as app_module
from reconciler.api.acl import AclCache
from reconciler.model.acl import hash_secret
from reconciler.model.ids import new_id
from reconciler.model.objects import Allocation
from reconciler.ops import acl as ops
from reconciler.ops.jobs import submit_job
from reconciler.spec import job_to_nomad
from reconciler.store import Store
from tests.acl.conftest import token_with
from tests.api.server import ApiServer, make_server
from tests.factories import submitted_job
from tests.waiting import wait_for

READ_DEFAULT = 'namespace "default" { policy = "read" }'


def job_body(job_id: str = "web", namespace: str = "default") -> dict[str, Any]:
    job = dataclasses.replace(submitted_job(job_id), namespace=namespace)
    return {"Job": job_to_nomad(job)}


def test_anonymous_gets_403_except_on_open_routes(acl_api: ApiServer) -> None:
    assert acl_api.call("GET", "/v1/jobs") == (403, "Permission denied")
    assert acl_api.call("POST", "/v1/jobs", job_body()) == (403, "Permission denied")
    assert acl_api.call("GET", "/v1/nodes")[0] == 403
    assert acl_api.call("GET", "/v1/acl/token/self")[0] == 403
    assert acl_api.call("GET", "/v1/status/leader")[0] == 200
    assert acl_api.call("GET", "/ui/")[0] == 200  # the UI loads, then asks for a token


def test_an_unknown_secret_is_refused(acl_api: ApiServer, management: str) -> None:
    assert acl_api.call("GET", "/v1/jobs", token=new_id()) == (403, "ACL token not found")


def test_a_read_token_reads_and_cannot_submit_a_management_token_can(
    acl_api: ApiServer, store: Store, management: str
) -> None:
    reader = token_with(store, "readonly", READ_DEFAULT)
    assert acl_api.call("GET", "/v1/jobs", token=reader) == (200, [])
    assert acl_api.call("POST", "/v1/jobs", job_body(), token=reader) == (403, "Permission denied")
    assert acl_api.call("GET", "/v1/jobs?namespace=prod", token=reader)[0] == 403
    assert acl_api.call("GET", "/v1/nodes", token=reader)[0] == 403  # no node rule
    status, _ = acl_api.call("POST", "/v1/jobs", job_body(), token=management)
    assert status == 200
    status, jobs = acl_api.call("GET", "/v1/jobs", token=reader)
    assert [j["ID"] for j in jobs] == ["web"]
    assert acl_api.call("GET", "/v1/job/web", token=reader)[0] == 200
    assert acl_api.call("DELETE", "/v1/job/web", token=reader)[0] == 403


def test_bearer_authorization_is_accepted(acl_api: ApiServer, store: Store, management: str) -> None:
    import urllib.request

    reader = token_with(store, "readonly", READ_DEFAULT)
    req = urllib.request.Request(acl_api.address + "/v1/jobs", headers={"Authorization": f"Bearer {reader}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def test_the_job_body_names_the_namespace_that_is_checked(
    acl_api: ApiServer, store: Store, management: str
) -> None:
    dev = token_with(store, "dev-writer", 'namespace "dev" { policy = "write" }')
    # the query says dev, the job says prod: prod is what would be written, so prod is checked
    status, body = acl_api.call("POST", "/v1/jobs?namespace=dev", job_body(namespace="prod"), token=dev)
    assert (status, body) == (403, "Permission denied")
    assert store.get(store.keys.job("prod", "web"), object) is None
    assert acl_api.call("PUT", "/v1/namespace/dev", {"Name": "dev"}, token=dev)[0] == 403  # management
    assert acl_api.call("PUT", "/v1/namespace/dev", {"Name": "dev"}, token=management)[0] == 200
    status, _ = acl_api.call("POST", "/v1/jobs", job_body(namespace="dev"), token=dev)
    assert status == 200


def test_an_object_is_checked_in_its_own_namespace(acl_api: ApiServer, store: Store, management: str) -> None:
    alloc = Allocation(
        id=new_id(),
        namespace="prod",
        job_id="web",
        task_group="web",
        node_id="n1",
        name="web[0]",
        job_version=0,
        index=0,
    )
    store.put(store.keys.alloc(alloc.id), alloc)
    reader = token_with(store, "readonly", READ_DEFAULT)
    prod = token_with(store, "prod-reader", 'namespace "prod" { policy = "read" }')
    for ident in (alloc.id, alloc.id[:8]):  # by id and by the short prefix the CLI shows
        assert acl_api.call("GET", f"/v1/allocation/{ident}", token=reader)[0] == 403
        assert acl_api.call("GET", f"/v1/allocation/{ident}", token=prod)[0] == 200
    assert acl_api.call("POST", f"/v1/allocation/{alloc.id}/stop", token=prod)[0] == 403  # alloc-lifecycle
    # a list of every namespace shows the allocation to prod's reader only
    assert [a["ID"] for a in acl_api.call("GET", "/v1/allocations", token=prod)[1]] == [alloc.id]
    assert acl_api.call("GET", "/v1/allocations", token=reader) == (200, [])


def test_the_anonymous_policy_applies_without_a_token(
    acl_api: ApiServer, store: Store, management: str
) -> None:
    ops.apply_policy(store, "anonymous", READ_DEFAULT)
    wait_for(lambda: acl_api.call("GET", "/v1/jobs")[0] == 200, timeout=10, message="the anonymous policy")
    assert acl_api.call("POST", "/v1/jobs", job_body())[0] == 403
    assert acl_api.call("GET", "/v1/acl/token/self")[0] == 403  # anonymous is not a token


def test_a_deleted_token_stops_working(acl_api: ApiServer, store: Store, management: str) -> None:
    status, made = acl_api.call(
        "POST", "/v1/acl/token", {"Type": "management", "Name": "ops"}, token=management
    )
    assert status == 200
    secret = made["SecretID"]
    assert acl_api.call("GET", "/v1/jobs", token=secret)[0] == 200  # usable at once, cache or not
    assert acl_api.call("DELETE", f"/v1/acl/token/{made['AccessorID']}", token=management)[0] == 200
    assert acl_api.call("GET", "/v1/jobs", token=secret) == (403, "ACL token not found")


def test_bootstrap_works_once(acl_api: ApiServer, store: Store) -> None:
    status, tok = acl_api.call("POST", "/v1/acl/bootstrap")
    assert status == 200
    assert (tok["Type"], tok["Name"]) == ("management", "Bootstrap Token")
    assert tok["SecretID"]
    status, err = acl_api.call("POST", "/v1/acl/bootstrap")
    assert status == 400
    assert "already done" in err["error"]
    assert (
        acl_api.call("GET", "/v1/acl/token/self", token=tok["SecretID"])[1]["AccessorID"] == tok["AccessorID"]
    )


def test_secrets_are_stored_only_as_hashes(acl_api: ApiServer, store: Store) -> None:
    _, boot = acl_api.call("POST", "/v1/acl/bootstrap")
    _, made = acl_api.call("POST", "/v1/acl/token", {"Type": "management"}, token=boot["SecretID"])
    raw, _ = store.list_raw(store.keys.prefix)
    stored = b"".join(i.key.encode() + i.value for i in raw)
    for tok in (boot, made):
        assert tok["SecretID"].encode() not in stored
        assert store.get_raw(store.keys.acl_token_hash(hash_secret(tok["SecretID"]))) is not None


def test_acl_endpoints_speak_nomad_json(acl_api: ApiServer, store: Store, management: str) -> None:
    call = acl_api.call
    assert (
        call(
            "POST", "/v1/acl/policy/readonly", {"Name": "readonly", "Rules": READ_DEFAULT}, token=management
        )[0]
        == 200
    )
    assert (
        call("POST", "/v1/acl/policy/other", {"Rules": READ_DEFAULT, "Description": "d"}, token=management)[0]
        == 200
    )
    status, err = call("POST", "/v1/acl/policy/bad", {"Rules": 'node { policy = "sudo" }'}, token=management)
    assert (status, err["field"]) == (400, "Rules")
    assert "Invalid node policy" in err["error"]
    _, pol = call("GET", "/v1/acl/policy/readonly", token=management)
    assert {k: pol[k] for k in ("Name", "Rules", "Description")} == {
        "Name": "readonly",
        "Rules": READ_DEFAULT,
        "Description": "",
    }
    status, made = call(
        "POST", "/v1/acl/token", {"Name": "r", "Type": "client", "Policies": ["readonly"]}, token=management
    )
    assert (status, made["Policies"]) == (200, ["readonly"])
    assert made["SecretID"]
    assert call("POST", "/v1/acl/token", {"Type": "client", "Policies": ["nope"]}, token=management)[0] == 400
    assert call("POST", "/v1/acl/token", {"Type": "client"}, token=management)[0] == 400
    _, tokens = call("GET", "/v1/acl/tokens", token=management)
    assert {t["Name"] for t in tokens} == {"Bootstrap Token", "r"}
    assert all("SecretID" not in t for t in tokens)
    reader = made["SecretID"]
    # a client token sees itself and its own policies, nothing else
    assert call("GET", "/v1/acl/token/self", token=reader)[1]["SecretID"] == reader
    assert call("GET", f"/v1/acl/token/{made['AccessorID']}", token=reader)[0] == 200
    boot = next(t for t in tokens if t["Name"] == "Bootstrap Token")
    assert call("GET", f"/v1/acl/token/{boot['AccessorID']}", token=reader)[0] == 403
    assert [p["Name"] for p in call("GET", "/v1/acl/policies", token=reader)[1]] == ["readonly"]
    assert call("GET", "/v1/acl/policy/other", token=reader)[0] == 403
    assert call("GET", "/v1/acl/tokens", token=reader)[0] == 403
    assert call("DELETE", "/v1/acl/policy/other", token=reader)[0] == 403
    assert call("DELETE", "/v1/acl/policy/other", token=management)[0] == 200
    assert call("GET", "/v1/acl/policy/other", token=management)[0] == 404


def test_with_acls_off_the_acl_endpoints_say_so(api: ApiServer) -> None:
    status, err = api.call("POST", "/v1/acl/bootstrap")
    assert (status, err["error"]) == (400, "ACL support disabled")
    assert api.call("GET", "/v1/jobs")[0] == 200


def test_a_route_without_a_rule_is_refused(
    store: Store, tmp_path: Path, acl_cache: AclCache, management: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = {k: v for k, v in app_module.NOMAD_ROUTES.items() if k != ("GET", "/v1/jobs")}
    monkeypatch.setattr(app_module, "NOMAD_ROUTES", table)
    server = make_server(store, tmp_path, acl=acl_cache)
    try:
        assert server.call("GET", "/v1/jobs", token=management) == (403, "Permission denied")
        assert server.call("GET", "/v1/job/web", token=management)[0] == 404  # other routes as before
    finally:
        server.stop()


def test_exec_into_raw_exec_needs_alloc_node_exec_too(
    acl_api: ApiServer, store: Store, management: str
) -> None:
    submit_job(store, submitted_job("web"))  # its task "server" runs under raw_exec
    alloc = Allocation(
        id=new_id(), namespace="default", job_id="web", task_group="web", node_id="n1", name="web[0]",
        job_version=0, index=0,
    )  # fmt: skip
    store.put(store.keys.alloc(alloc.id), alloc)
    writer = token_with(store, "writer", 'namespace "default" { policy = "write" }')
    node_exec = token_with(
        store, "node-exec", 'namespace "default" {\n policy = "write"\n capabilities = ["alloc-node-exec"]\n}'
    )
    body = {"Task": "server", "Cmd": ["true"]}
    path = f"/v1/client/allocation/{alloc.id}/exec"
    assert acl_api.call("POST", path, body, token=writer)[1] == {"error": "Permission denied"}
    status, _ = acl_api.call("POST", path, body, token=node_exec)
    assert status not in (403, 500)  # past the ACL: refused by the exec itself (no task runs here)
