"""Namespaces as objects over real HTTP and etcd: create, update, list, read, delete
(refused for `default` and while a job in it is not dead), and job registration refused
in a namespace that does not exist; python-nomad's namespace calls."""

from __future__ import annotations

import dataclasses
from typing import Any

import nomad
import pytest
from click.testing import CliRunner

from reconciler.cli.main import cli
from reconciler.model.objects import JobRecord
from reconciler.ops.errors import Rejected
from reconciler.ops.jobs import submit_job
from reconciler.ops.namespaces import NamespaceSpec, delete_namespace, namespace_guard, upsert_namespace
from reconciler.spec import job_to_nomad
from reconciler.store import Store
from tests.api.server import ApiServer
from tests.factories import submitted_job


def job_body(namespace: str, job_id: str = "web") -> dict[str, Any]:
    return {"Job": job_to_nomad(dataclasses.replace(submitted_job(job_id), namespace=namespace))}


def test_default_exists_without_a_key_and_cannot_be_deleted(api: ApiServer) -> None:
    status, listed = api.call("GET", "/v1/namespaces")
    assert status == 200
    assert [(n["Name"], n["Description"]) for n in listed] == [("default", "Default shared namespace")]
    assert api.call("GET", "/v1/namespace/default")[1]["Name"] == "default"
    status, err = api.call("DELETE", "/v1/namespace/default")
    assert status == 400
    assert "default namespace can not be deleted" in str(err)
    assert api.call("GET", "/v1/namespace/nope")[0] == 404


def test_create_update_read_list_and_delete(api: ApiServer, store: Store) -> None:
    status, _ = api.call("PUT", "/v1/namespace", {"Name": "prod", "Description": "p", "Meta": {"team": "a"}})
    assert status == 200
    got = api.call("GET", "/v1/namespace/prod")[1]
    assert (got["Name"], got["Description"], got["Meta"]) == ("prod", "p", {"team": "a"})
    created = got["CreateIndex"]
    assert api.call("POST", "/v1/namespace/prod", {"Description": "production"})[0] == 200
    got = api.call("GET", "/v1/namespace/prod")[1]
    assert (got["Description"], got["Meta"], got["CreateIndex"]) == ("production", None, created)
    assert got["ModifyIndex"] > created
    assert [n["Name"] for n in api.call("GET", "/v1/namespaces")[1]] == ["default", "prod"]
    assert [n["Name"] for n in api.call("GET", "/v1/namespaces?prefix=pr")[1]] == ["prod"]
    assert api.call("DELETE", "/v1/namespace/prod")[0] == 200
    assert api.call("GET", "/v1/namespace/prod")[0] == 404
    assert store.get_raw(store.keys.namespace("prod")) is None
    assert api.call("DELETE", "/v1/namespace/prod")[0] == 404


@pytest.mark.parametrize(
    ("body", "path", "field"),
    [
        ({"Name": "bad_name"}, "/v1/namespace", "regex"),
        ({"Name": "prod\n"}, "/v1/namespace", "regex"),  # "$" alone would accept a final newline
        ({"Description": "no name"}, "/v1/namespace", "Name"),
        ({"Name": "a"}, "/v1/namespace/b", "does not match"),
        ({"Name": "a", "Meta": {"k": 1}}, "/v1/namespace", "Meta"),
    ],
)
def test_bad_writes_are_refused(api: ApiServer, body: dict[str, Any], path: str, field: str) -> None:
    status, err = api.call("PUT", path, body)
    assert status == 400
    assert field in str(err)


def test_a_job_needs_its_namespace_and_keeps_it_from_being_deleted(api: ApiServer, store: Store) -> None:
    status, err = api.call("POST", "/v1/jobs", job_body("prod"))
    assert status == 400
    assert 'namespace "prod" does not exist' in str(err)
    assert store.get(store.keys.job("prod", "web"), JobRecord) is None
    assert api.call("PUT", "/v1/namespace/prod", {"Name": "prod"})[0] == 200
    assert api.call("POST", "/v1/jobs", job_body("prod"))[0] == 200
    status, err = api.call("DELETE", "/v1/namespace/prod")
    assert status == 400
    assert "non-terminal jobs: web" in str(err)
    # stopped and purged: nothing is left in the namespace, so it can go
    assert api.call("DELETE", "/v1/job/web?namespace=prod&purge=true")[0] == 200
    assert api.call("DELETE", "/v1/namespace/prod")[0] == 200


def test_python_nomad_namespace_calls(api: ApiServer) -> None:
    client = nomad.Nomad(host="127.0.0.1", port=api.port, timeout=10)
    client.namespace.create_namespace({"Name": "team-a", "Description": "A"})
    assert client.namespace.get_namespace("team-a")["Description"] == "A"
    client.namespace.update_namespace("team-a", {"Name": "team-a", "Description": "B"})
    assert [n["Name"] for n in client.namespaces.get_namespaces()] == ["default", "team-a"]
    client.namespace.delete_namespace("team-a")
    with pytest.raises(nomad.api.exceptions.URLNotFoundNomadException):
        client.namespace.get_namespace("team-a")


def _cli(api: ApiServer, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--address", api.address, "namespace", *args])
    return res.exit_code, res.output


def test_the_namespace_cli(api: ApiServer) -> None:
    assert _cli(api, "apply", "-description", "the team", "team-a") == (
        0,
        'Successfully applied namespace "team-a"!\n',
    )
    assert api.call("PUT", "/v1/namespace/team-a", {"Name": "team-a", "Meta": {"k": "v"}})[0] == 200
    assert _cli(api, "apply", "-description", "team A", "team-a")[0] == 0  # keeps Meta
    code, out = _cli(api, "status", "team-a")
    assert code == 0
    assert "Description = team A" in out
    assert "k = v" in out
    code, out = _cli(api, "list")
    assert (code, out.split()[:2]) == (0, ["Name", "Description"])
    assert "team-a" in out
    assert "team A" in out
    assert _cli(api, "delete", "team-a") == (0, 'Successfully deleted namespace "team-a"!\n')
    code, out = _cli(api, "delete", "default")
    assert code == 1
    assert "Error deleting namespace: default namespace can not be deleted" in out
    assert _cli(api, "status", "team-a")[0] == 1


def test_a_job_write_is_guarded_by_its_namespace(store: Store) -> None:
    """The guard a registration commits with fails once the namespace is gone, so a
    namespace deleted after the check does not get the job."""
    upsert_namespace(store, NamespaceSpec("prod"))
    guard = namespace_guard(store, "prod")
    delete_namespace(store, "prod")
    assert not store.commit(guard.put(store.keys.job("prod", "web"), {"x": 1}))
    with pytest.raises(Rejected, match='namespace "prod" does not exist'):
        submit_job(store, dataclasses.replace(submitted_job(), namespace="prod"), check_namespace=True)
    assert store.commit(namespace_guard(store, "default").put(store.keys.job("default", "x"), {"x": 1}))
