"""The job endpoints over real HTTP against a real etcd, in Nomad's shapes."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from reconciler.model.objects import Evaluation, JobRecord
from reconciler.spec import job_from_nomad, job_to_nomad
from reconciler.store import Store
from tests.api.server import ApiServer
from tests.factories import submitted_job


def body(job_id: str = "web", count: int = 1) -> dict[str, Any]:
    return {"Job": job_to_nomad(submitted_job(job_id, count=count))}


def test_register_stores_the_job_and_an_evaluation(api: ApiServer, store: Store) -> None:
    status, resp = api.call("POST", "/v1/jobs", body())
    assert status == 200
    assert set(resp) >= {"EvalID", "EvalCreateIndex", "JobModifyIndex", "Index", "Warnings"}
    assert store.get(store.keys.eval(resp["EvalID"]), Evaluation) is not None
    rec = store.get(store.keys.job("default", "web"), JobRecord)
    assert rec is not None
    assert rec.value.job == submitted_job("web")


def test_list_read_and_versions_speak_nomad_json(api: ApiServer) -> None:
    api.call("POST", "/v1/jobs", body(count=1))
    api.call("PUT", "/v1/jobs", body(count=2))
    status, jobs = api.call("GET", "/v1/jobs")
    assert status == 200
    assert [j["ID"] for j in jobs] == ["web"]
    assert jobs[0]["Version"] == 1
    assert jobs[0]["Type"] == "service"
    status, job = api.call("GET", "/v1/job/web")
    assert status == 200
    assert job["TaskGroups"][0]["Count"] == 2
    assert job["Version"] == 1
    assert job_from_nomad({"Job": job}) == submitted_job("web", count=2)
    status, versions = api.call("GET", "/v1/job/web/versions")
    assert [v["Version"] for v in versions["Versions"]] == [1, 0]


def test_stop_then_purge(api: ApiServer, store: Store) -> None:
    api.call("POST", "/v1/jobs", body())
    status, resp = api.call("DELETE", "/v1/job/web")
    assert status == 200
    assert "EvalID" in resp
    assert api.call("GET", "/v1/job/web")[1]["Stop"] is True
    status, _ = api.call("DELETE", "/v1/job/web?purge=true")
    assert status == 200
    assert api.call("GET", "/v1/job/web")[0] == 404


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"", 400, None),
        (b'{"Jobs": {}}', 400, "Job"),
        (b'{"Job": {"ID": "web", "TaskGroups": [{"Name": "g", "Count": "five"}]}}', 400, "Count"),
        (b'{"Job": {"ID": "../../etc", "TaskGroups": []}}', 400, "ID"),
    ],
    ids=[
        "malformed JSON is a 400",
        "an empty body is a 400",
        "a body without Job names the field",
        "a wrong type names the field",
        "an id that cannot be a key is refused",
    ],
)
def test_bad_bodies_are_4xx_with_the_field_and_change_nothing(
    api: ApiServer, store: Store, raw: bytes, status: int, field: str | None
) -> None:
    code, resp = api.call("POST", "/v1/jobs", raw=raw)
    assert code == status, resp
    assert resp["error"]
    if field:
        assert field.lower() in resp.get("field", "").lower(), resp
    assert store.count(store.keys.prefix) == 0


def test_a_body_over_the_limit_is_refused(api: ApiServer, store: Store) -> None:
    code, resp = api.call("POST", "/v1/jobs", raw=b'{"Job": "' + b"x" * (5 * 1024 * 1024) + b'"}')
    assert code == 413
    assert "limit" in resp["error"]
    assert store.count(store.keys.prefix) == 0


def test_unknown_job_is_404_and_path_ids_are_checked(api: ApiServer) -> None:
    assert api.call("GET", "/v1/job/nope")[0] == 404
    assert api.call("DELETE", "/v1/job/nope")[0] == 404
    assert api.call("GET", "/v1/job/bad..%2Fid")[0] in (400, 404)


def test_parse_turns_hcl_into_nomad_json(api: ApiServer) -> None:
    hcl = textwrap.dedent(
        """\
        job "x" {
          group "g" {
            task "t" {
              driver = "raw_exec"
              config {
                command = "true"
              }
            }
          }
        }
        """
    )
    status, job = api.call("POST", "/v1/jobs/parse", {"JobHCL": hcl})
    assert status == 200
    assert job["ID"] == "x"
    assert job["TaskGroups"][0]["Tasks"][0]["Driver"] == "raw_exec"
    status, err = api.call("POST", "/v1/jobs/parse", {"JobHCL": 'job "x" {\n  group "g" {\n'})
    assert status == 400
    assert "<request>:3:1" in err["error"]
    assert "expected '}'" in err["error"]


def test_agent_self_and_leader(api: ApiServer) -> None:
    status, me = api.call("GET", "/v1/agent/self")
    assert status == 200
    assert me["config"]["Datacenter"] == "dc1"
    assert api.call("GET", "/v1/status/leader")[0] == 200


def test_a_job_read_from_the_api_can_be_posted_back_unchanged(api: ApiServer) -> None:
    """`reconciler job inspect web > web.json; curl --data @web.json .../v1/jobs` (the README's tour)."""
    api.call("POST", "/v1/jobs", body())
    _, job = api.call("GET", "/v1/job/web")
    status, resp = api.call("POST", "/v1/jobs", {"Job": job})
    assert status == 200, resp
    assert resp["Changed"] is False
    assert resp["JobVersion"] == 0


def test_a_field_not_supported_is_a_400_naming_its_json_path(api: ApiServer, store: Store) -> None:
    """Never a silent drop (issue 12): a task's Vault block would otherwise be ignored."""
    data = body()
    data["Job"]["TaskGroups"][0]["Tasks"][0]["Vault"] = {"Policies": ["db"]}
    status, resp = api.call("POST", "/v1/jobs", data)
    assert status == 400, resp
    assert "Job.TaskGroups[0].Tasks[0].Vault: not supported yet" in resp["error"], resp
    assert store.get(store.keys.job("default", "web"), JobRecord) is None
