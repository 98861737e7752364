"""The scheduler commands against a real agent API (HTTP, real etcd, running scheduler)."""

from __future__ import annotations

from click.testing import CliRunner

from reconciler.cli.client import ApiClient
from reconciler.cli.main import cli
from reconciler.model.job import Port
from reconciler.model.objects import Node
from reconciler.store import Store
from tests.scheduler.factories import mock_job
from tests.scheduler.sim import add_node, get_eval, submit, wait_for


def run(api: ApiClient, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--address", api.address, *args])
    return res.exit_code, res.output


def test_job_status_layout(api: ApiClient, store: Store) -> None:
    add_node(store, "node-1")
    ev = submit(store, mock_job(2))
    wait_for(lambda: get_eval(store, ev).status == "complete", message="placed")
    code, out = run(api, "job", "status", "web")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[lines.index("Summary") + 1].split() == [
        "Task",
        "Group",
        "Queued",
        "Starting",
        "Running",
        "Failed",
        "Complete",
        "Lost",
    ]
    assert lines[lines.index("Summary") + 2].split() == ["web", "0", "2", "0", "0", "0", "0"]
    header = lines[lines.index("Allocations") + 1]
    assert header.split() == ["ID", "Node", "ID", "Task", "Group", "Version", "Desired", "Status", "Created"]
    assert len(lines) - lines.index("Allocations") - 2 == 2
    assert "Status        = running" in out
    assert "Node Pool     = default" in out


def test_node_commands(api: ApiClient, store: Store) -> None:
    add_node(store, "node-1")
    code, out = run(api, "node", "status")
    assert code == 0
    assert "node-1" in out
    assert "eligible" in out
    assert "ready" in out
    code, out = run(api, "node", "status", "node-1")
    assert code == 0
    assert "Dynamic Ports = 20000-32000" in out
    code, out = run(api, "node", "eligibility", "-disable", "node-1")
    assert code == 0
    assert out.strip() == 'Node "node-1" scheduling eligibility set: ineligible for scheduling'
    assert store.get(store.keys.node("node-1"), Node).value.eligibility == "ineligible"
    code, out = run(api, "node", "eligibility", "-enable", "node-1")
    assert code == 0
    code, out = run(api, "node", "drain", "-enable", "node-1")
    assert code == 0
    assert out.strip() == 'Node "node-1" drain strategy set'
    assert store.get(store.keys.node("node-1"), Node).value.drain
    code, out = run(api, "node", "drain", "-disable", "node-1")
    assert code == 0
    assert not store.get(store.keys.node("node-1"), Node).value.drain
    code, out = run(api, "node", "status", "missing")
    assert code == 1
    assert "node not found" in out


def test_node_pools_are_listed_from_the_nodes_with_the_built_ins(api: ApiClient, store: Store) -> None:
    add_node(store, "node-1")
    add_node(store, "node-2", node_pool="gpu")
    wait_for(lambda: len(api.get("/v1/nodes")) == 2, message="both nodes in the API's cache")
    pools = api.get("/v1/node/pools")
    assert [(p["Name"], p["Description"]) for p in pools] == [
        ("all", "Node pool with all nodes in the cluster."),
        ("default", "Default node pool."),
        ("gpu", ""),
    ]
    assert [p["Name"] for p in api.get("/v1/node/pools", prefix="d")] == ["default"]
    assert api.get("/v1/node/pool/gpu")["Name"] == "gpu"
    assert [n["ID"] for n in api.get("/v1/node/pool/gpu/nodes")] == ["node-2"]
    assert sorted(n["ID"] for n in api.get("/v1/node/pool/all/nodes")) == ["node-1", "node-2"]
    assert {n["ID"]: n["NodePool"] for n in api.get("/v1/nodes")} == {"node-1": "default", "node-2": "gpu"}
    assert api.get("/v1/node/node-2")["NodePool"] == "gpu"
    code, out = run(api, "node", "pool", "list")
    assert code == 0, out
    assert out.splitlines()[0].split() == ["Name", "Description"]
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["all", "default", "gpu"]
    code, out = run(api, "node", "pool", "info", "gpu")
    assert code == 0, out
    assert "Name        = gpu" in out
    code, out = run(api, "node", "pool", "info", "nope")
    assert code == 1
    assert "node pool not found" in out
    code, out = run(api, "node", "status")
    assert out.splitlines()[0].split()[:4] == ["ID", "Node", "Pool", "DC"]
    assert "gpu" in out


def test_eval_status_explains_a_blocked_evaluation(api: ApiClient, store: Store) -> None:
    add_node(store, "node-1")
    ev = submit(store, mock_job(3, ports=[Port("http", static=8080)]))
    wait_for(lambda: get_eval(store, ev).status == "blocked", message="blocked")
    code, out = run(api, "eval", "status", ev)
    assert code == 0, out
    assert "Placement Failures = true" in out
    assert 'Task Group "web" (failed to place 2 allocations):' in out
    assert '* Dimension "network: reserved port collision http=8080" exhausted on 1 node' in out


def test_job_scale(api: ApiClient, store: Store) -> None:
    add_node(store, "node-1")
    ev = submit(store, mock_job(1))
    wait_for(lambda: get_eval(store, ev).status == "complete", message="placed")
    code, out = run(api, "job", "scale", "web", "web", "3")
    assert code == 0, out
    assert "Monitoring evaluation" in out
    assert 'finished with status "complete"' in out
    assert out.count("created: node") == 2


def test_plan_exit_codes(api: ApiClient, store: Store, tmp_path) -> None:
    add_node(store, "node-1")
    path = tmp_path / "web.nomad.hcl"
    path.write_text(
        'job "web" {\n  datacenters = ["dc1"]\n  group "web" {\n    count = 2\n'
        '    network {\n      port "http" { static = 8080 }\n    }\n'
        '    task "server" {\n      driver = "raw_exec"\n'
        '      config { command = "/bin/sleep" }\n    }\n  }\n}\n'
    )
    code, out = run(api, "plan", str(path))
    assert code == 1, out
    assert "Scheduler dry-run:" in out
    assert 'Task Group "web" (failed to place 1 allocation):' in out
    code, out = run(api, "plan", str(tmp_path / "missing.hcl"))
    assert code == 255


def test_job_history_shows_each_versions_diff_and_revert_registers_an_old_one(
    api: ApiClient, store: Store
) -> None:
    from reconciler.ops.jobs import job_history, submit_job

    add_node(store, "node-1")
    submit_job(store, mock_job(1))
    submit_job(store, mock_job(2))
    code, out = run(api, "job", "history", "-p", "web")
    assert code == 0, out
    newest, oldest = out.split("\n\n")
    assert newest.startswith("Version     = 1")
    assert 'Diff        =\n+/- Job: "web"\n+/- Task Group: "web"\n  +/- Count: "1" => "2"' in newest
    assert "Diff" not in oldest  # nothing older to compare with
    assert "Diff" not in run(api, "job", "history", "web")[1]

    code, out = run(api, "job", "revert", "web", "0")
    assert code == 0, out
    assert 'finished with status "complete"' in out
    versions = job_history(store, "default", "web")
    assert [v.version for v in versions] == [2, 1, 0]
    assert versions[0].job.task_groups[0].count == 1

    code, out = run(api, "job", "revert", "-check-index", "1", "web", "1")
    assert code == 1
    assert "current version is 2, not 1" in out


def test_job_stable_marks_a_version_and_job_eval_creates_an_evaluation(api: ApiClient, store: Store) -> None:
    from reconciler.ops.jobs import job_history, submit_job

    add_node(store, "node-1")
    submit_job(store, mock_job(1))
    code, out = run(api, "job", "stable", "web", "0")
    assert (code, out) == (0, "Job 'web' version 0 marked stable\n")
    assert job_history(store, "default", "web")[0].stable
    code, out = run(api, "job", "stable", "-unset", "web", "0")
    assert code == 0, out
    assert not job_history(store, "default", "web")[0].stable
    code, out = run(api, "job", "stable", "web", "5")
    assert code == 1
    assert "no version 5" in out

    code, out = run(api, "job", "eval", "web")
    assert code == 0, out
    assert 'finished with status "complete"' in out
    code, out = run(api, "job", "eval", "nope")
    assert code == 1
    assert "job not found" in out


def test_system_gc_writes_the_request(api: ApiClient, store: Store) -> None:
    code, out = run(api, "system", "gc")
    assert (code, out) == (0, "")
    assert store.get(store.keys.gc_request, dict) is not None


def test_job_allocs_deployments_and_validate(api: ApiClient, store: Store, tmp_path) -> None:
    add_node(store, "node-1")
    ev = submit(store, mock_job(2))
    wait_for(lambda: get_eval(store, ev).status == "complete", message="placed")
    code, out = run(api, "job", "allocs", "web")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID",
        "Node",
        "ID",
        "Task",
        "Group",
        "Version",
        "Desired",
        "Status",
        "Created",
    ]
    assert len(lines) == 3
    code, out = run(api, "job", "deployments", "web")
    assert (code, out) == (0, "No deployments found for job 'web'\n")
    job = tmp_path / "web.nomad"
    job.write_text(
        'job "web" {\n  group "g" {\n    task "t" {\n      driver = "raw_exec"\n'
        '      config {\n        command = "/bin/true"\n      }\n    }\n  }\n}\n'
    )
    assert run(api, "job", "validate", str(job)) == (0, "Job validation successful\n")
