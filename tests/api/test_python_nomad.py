"""python-nomad, the Python client others wrote for Nomad, against the real API over real
HTTP and etcd: every read it has that we serve, the new cluster endpoints, and a clear 501
naming the endpoint for those we do not serve."""

from __future__ import annotations

import nomad
import pytest

from reconciler.model.objects import Evaluation
from reconciler.spec import job_to_nomad
from reconciler.store import Store
from tests.api.conftest import Seeded
from tests.api.server import ApiServer
from tests.factories import submitted_job


@pytest.fixture
def client(api: ApiServer) -> nomad.Nomad:
    return nomad.Nomad(host="127.0.0.1", port=api.port, timeout=10)


def test_python_nomad_reads(client: nomad.Nomad, seeded: Seeded) -> None:
    s = seeded
    assert [j["ID"] for j in client.jobs.get_jobs()] == [s.job_id]
    assert client.job.get_job(s.job_id)["Status"] == "running"
    assert client.job.get_versions(s.job_id)["Versions"][0]["Version"] == 0
    assert [a["ID"] for a in client.job.get_allocations(s.job_id)] == [s.alloc_id]
    assert [e["ID"] for e in client.job.get_evaluations(s.job_id)] == [s.eval_id]
    assert [d["ID"] for d in client.job.get_deployments(s.job_id)] == [s.deployment_id]
    assert client.job.get_deployment(s.job_id)["ID"] == s.deployment_id
    assert client.job.get_summary(s.job_id)["Summary"]["web"]["Running"] == 1
    assert [a["ID"] for a in client.allocations.get_allocations()] == [s.alloc_id]
    assert client.allocation.get_allocation(s.alloc_id)["ClientStatus"] == "running"
    assert [e["ID"] for e in client.evaluations.get_evaluations()] == [s.eval_id]
    assert client.evaluation.get_evaluation(s.eval_id)["JobID"] == s.job_id
    assert client.evaluation.get_allocations(s.eval_id) == []
    assert [d["ID"] for d in client.deployments.get_deployments()] == [s.deployment_id]
    assert client.deployment.get_deployment(s.deployment_id)["JobID"] == s.job_id
    assert [a["ID"] for a in client.deployment.get_deployment_allocations(s.deployment_id)] == [s.alloc_id]
    assert [n["ID"] for n in client.nodes.get_nodes()] == [s.node_id]
    assert client.node.get_node(s.node_id)["Name"] == s.node_id
    assert [a["ID"] for a in client.node.get_allocations(s.node_id)] == [s.alloc_id]
    assert client.status.leader.get_leader() == ""
    assert client.status.peers.get_peers() == []
    assert client.agent.get_agent()["config"]["NodeName"] == "test"


def test_python_nomad_list_options(client: nomad.Nomad, store: Store, seeded: Seeded) -> None:
    assert client.allocations.get_allocations(prefix="nope") == []
    assert len(client.allocations.get_allocations(filter_="ClientStatus == running")) == 1
    assert client.allocations.get_allocations(filter_="ClientStatus == failed") == []
    assert [n["ID"] for n in client.nodes.get_nodes(prefix="node")] == [seeded.node_id]
    assert client.evaluations.get_evaluations(prefix=seeded.eval_id[:4])[0]["ID"] == seeded.eval_id
    with pytest.raises(nomad.api.exceptions.BadRequestNomadException):
        client.allocations.get_allocations(filter_="ClientStatus ==")


def test_python_nomad_cluster_endpoints(client: nomad.Nomad, seeded: Seeded) -> None:
    members = client.agent.get_members()
    assert [m["Status"] for m in members["Members"]] == ["alive"]
    assert len(client.agent.get_servers()) == 1
    assert client.regions.get_regions() == ["global"]
    assert [n["Name"] for n in client.namespaces.get_namespaces()] == ["default"]
    assert client.namespace.get_namespace("default")["Name"] == "default"
    found = client.search.search(seeded.job_id[:2], "jobs")
    assert found["Matches"]["jobs"] == [seeded.job_id]
    everywhere = client.search.search("node-", "all")
    assert everywhere["Matches"]["nodes"] == [seeded.node_id]
    ok = client.validate.validate_job({"Job": job_to_nomad(submitted_job("other"))}).json()
    assert ok["ValidationErrors"] is None
    bad = job_to_nomad(submitted_job("other"))
    bad["TaskGroups"][0]["Count"] = -1
    refused = client.validate.validate_job({"Job": bad}).json()
    assert refused["ValidationErrors"]
    assert "Count" in refused["Error"] or "count" in refused["Error"]


def test_python_nomad_drain_with_the_enable_parameter(client: nomad.Nomad, seeded: Seeded) -> None:
    client.node.drain_node(seeded.node_id, enable=True)
    assert client.node.get_node(seeded.node_id)["Drain"] is True
    client.node.drain_node(seeded.node_id, enable=False)
    assert client.node.get_node(seeded.node_id)["Drain"] is False


def test_python_nomad_evaluates_a_job_and_marks_a_version_stable(
    client: nomad.Nomad, store: Store, seeded: Seeded
) -> None:
    out = client.job.evaluate_job(seeded.job_id)
    ev = store.get(store.keys.eval(out["EvalID"]), Evaluation)
    assert ev is not None
    assert ev.value.job_id == seeded.job_id
    assert ev.value.triggered_by == "job-eval"
    assert client.job.get_versions(seeded.job_id)["Versions"][0]["Stable"] is False
    client.job.stable_job(seeded.job_id, 0, True)
    assert client.job.get_versions(seeded.job_id)["Versions"][0]["Stable"] is True
    assert client.job.get_job(seeded.job_id)["Stable"] is True
    client.job.stable_job(seeded.job_id, 0, False)
    assert client.job.get_job(seeded.job_id)["Stable"] is False
    with pytest.raises(nomad.api.exceptions.BaseNomadException) as info:
        client.job.stable_job(seeded.job_id, 7, True)
    assert info.value.nomad_resp.status_code == 404


def test_python_nomad_forces_a_garbage_collection(client: nomad.Nomad, store: Store) -> None:
    client.system.initiate_garbage_collection()
    assert store.get(store.keys.gc_request, dict) is not None


UNSERVED_CALLS = [
    ("purge_node", lambda c, s: c.node.purge_node(s.node_id), "/v1/node/{node_id}/purge"),
    ("alloc_stats", lambda c, s: c.client.allocation.read_allocation_stats(s.alloc_id), "/stats"),
    ("fs_ls", lambda c, s: c.client.ls.list_files(s.alloc_id), "/v1/client/fs/ls/{alloc_id}"),
    ("raft", lambda c, s: c.operator.get_configuration(), "/v1/operator/raft/configuration"),
    ("scaling", lambda c, s: c.scaling.get_scaling_policies(), "/v1/scaling/policies"),
]


@pytest.mark.parametrize(
    ("call", "path"), [(c[1], c[2]) for c in UNSERVED_CALLS], ids=[c[0] for c in UNSERVED_CALLS]
)
def test_unserved_endpoints_answer_501_naming_themselves(
    client: nomad.Nomad, seeded: Seeded, call, path
) -> None:
    with pytest.raises(nomad.api.exceptions.BaseNomadException) as info:
        call(client, seeded)
    resp = info.value.nomad_resp
    assert resp.status_code == 501
    assert path in resp.json()["error"]
    assert "not implemented" in resp.json()["error"]
