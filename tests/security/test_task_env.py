"""Tasks never see the agent's own environment (review finding H6): a real node agent runs a
real raw_exec task that dumps its environment; only the allow-list and `--task-env` names
are inherited. And raw_exec is off unless enabled (issue 9 item 6)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from controllers.driver_runner import NodeAgent
from reconciler.model.job import Task
from reconciler.model.taskenv import inherited_env
from reconciler.store import Store
from tests.driver_runner.support import make_alloc, make_job, put_alloc, put_job, wait_status

DUMP = (
    "import os,json;"
    "json.dump(dict(os.environ), open(os.path.join(os.environ['NOMAD_ALLOC_DIR'],'env.json'),'w'))"
)


@pytest.mark.parametrize(
    ("environ", "extra", "want"),
    [
        ({"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "k", "VAULT_TOKEN": "t"}, (), {"PATH": "/bin"}),
        (
            {"PATH": "/bin", "LANG": "C", "JAVA_HOME": "/j"},
            ("JAVA_HOME",),
            {"PATH": "/bin", "LANG": "C", "JAVA_HOME": "/j"},
        ),
        ({"TZ": "UTC"}, ("MISSING",), {"TZ": "UTC"}),
    ],
    ids=["secrets dropped", "operator allow-list", "absent names skipped"],
)
def test_inherited_env(environ: dict[str, str], extra: tuple[str, ...], want: dict[str, str]) -> None:
    assert inherited_env(environ, extra) == want


def run_dump(store: Store, agent: NodeAgent) -> dict[str, str]:
    task = Task(name="t", driver="raw_exec", config={"command": sys.executable, "args": ["-c", DUMP]})
    job = make_job("envdump", tasks=[task], type="batch")
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "complete")
    return dict(json.loads((agent.data_dir / "allocs" / a.id / "alloc" / "env.json").read_text()))


def test_raw_exec_task_does_not_inherit_agent_secrets(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    monkeypatch.setenv("ETCDCTL_PASSWORD", "pw")
    monkeypatch.setenv("SHARED_CA", "/etc/ca.pem")
    agent = NodeAgent(
        store,
        data_dir=tmp_path / "data",
        node_name="node-1",
        raw_exec_enabled=True,
        heartbeat_ttl=5,
        task_env=("SHARED_CA",),
    )
    agent.start()
    try:
        env = run_dump(store, agent)
    finally:
        agent.stop(drain=True, timeout=30)
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert "ETCDCTL_PASSWORD" not in env
    assert env["SHARED_CA"] == "/etc/ca.pem"
    assert env["NOMAD_TASK_NAME"] == "t"
    assert "PATH" in env


@pytest.mark.parametrize("enabled", [False, True])
def test_raw_exec_is_off_unless_enabled(store: Store, tmp_path: Path, enabled: bool) -> None:
    agent = NodeAgent(
        store, data_dir=tmp_path / "data", node_name="node-1", heartbeat_ttl=5, raw_exec_enabled=enabled
    )
    assert bool(agent.node.drivers.get("raw_exec")) is enabled  # not detected at all when disabled
