"""The dev agent as a user runs it: start, answer, refuse a second agent, shut down clean,
survive SIGKILL without leaving etcd behind, and come back with its state."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from reconciler.agent.etcd_process import port_in_use
from tests.agent.harness import BIN, AgentProcess
from tests.ports import free_port
from tests.waiting import wait_for


def etcd_pid(agent: AgentProcess) -> int:
    return int((agent.data_dir / "etcd.pid").read_text().split()[0])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.split(")")[-1].split()[0] != "Z"


def test_agent_answers_and_reports_itself(agent: AgentProcess) -> None:
    me = agent.get("/v1/agent/self")
    assert me["config"]["Datacenter"] == "dc1"
    assert me["config"]["Etcd"]["Endpoints"] == [agent.etcd_endpoint]
    assert "is healthy" in agent.etcdctl("endpoint", "health")


def test_sigterm_shuts_down_in_order_and_leaves_no_etcd(agent: AgentProcess) -> None:
    pid = etcd_pid(agent)
    assert alive(pid)
    assert agent.stop(signal.SIGTERM) == 0
    wait_for(lambda: not alive(pid), timeout=10, message="etcd still running after agent exit")
    assert not port_in_use("127.0.0.1", agent.etcd_port)
    assert not port_in_use("127.0.0.1", agent.http_port)


def test_a_second_agent_on_the_same_data_dir_refuses(agent: AgentProcess, tmp_path: Path) -> None:
    second = AgentProcess(
        agent.root, http_port=free_port(), etcd_port=free_port(), etcd_peer_port=free_port()
    )
    out = subprocess.run(second.args(), capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert "another agent" in out.stderr
    assert str(agent.data_dir) in out.stderr


def test_sigkill_takes_etcd_down_and_a_restart_keeps_state(agent: AgentProcess) -> None:
    agent.etcdctl("put", "/reconciler/probe", "kept")
    pid = etcd_pid(agent)
    assert agent.proc is not None
    agent.proc.kill()
    agent.proc.wait()
    wait_for(lambda: not alive(pid), timeout=10, message="etcd outlived its SIGKILLed agent")
    agent.proc = None
    agent.start()
    assert agent.etcdctl("get", "--print-value-only", "/reconciler/probe").strip() == "kept"


def test_cli_says_clearly_when_no_agent_answers(tmp_path: Path) -> None:
    port = free_port()
    out = subprocess.run(
        [str(BIN / "reconciler"), "-address", f"http://127.0.0.1:{port}", "job", "history", "web"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "cannot reach the reconciler agent" in lines[0]
