"""Re-attach: the agent is killed with SIGKILL and started again; running tasks are adopted
(same pids, nothing started twice), a task that died meanwhile goes through its restart
policy, and the new agent can still stop everything."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.job import SECOND, RestartPolicy, Task
from reconciler.model.objects import DesiredStatus
from reconciler.store import Store
from tests.driver_runner.support import (
    event_types,
    get_status,
    make_alloc,
    make_job,
    put_alloc,
    put_job,
    wait_status,
)
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def marked_pids(marker: str) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                cmd = fh.read()
            with open(f"/proc/{d}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmd and b"executor.py" not in cmd and state != "Z":
            out.append(int(d))
    return sorted(out)


class AgentProc:
    def __init__(self, etcd: EmbeddedEtcd, prefix: str, data_dir: Path, log: Path) -> None:
        self.args = [
            sys.executable,
            "-m",
            "tests.driver_runner.agent_proc",
            etcd.endpoint,
            prefix,
            str(data_dir),
        ]
        self.log = log
        self.proc: subprocess.Popen[str] | None = None
        self.node_id = ""

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(self.log, "a") as err:
            self.proc = subprocess.Popen(
                self.args, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=ROOT
            )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        assert ready, f"agent did not start in 60s; see {self.log}"
        line = self.proc.stdout.readline()
        assert line.startswith("ready "), f"agent failed to start ({line!r}); see {self.log}"
        self.node_id = line.split()[1]

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def marker() -> Iterator[str]:
    m = f"reattach-{uuid.uuid4().hex[:8]}"
    yield m
    for pid in marked_pids(m):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def agent_procs(etcd: EmbeddedEtcd, prefix: str, tmp_path: Path, marker: str) -> Iterator[list[AgentProc]]:
    """Agent processes started by a test; whatever happens, they are SIGKILLed at the end
    (before `marker` kills the tasks, so no agent is left to restart them)."""
    procs: list[AgentProc] = []
    yield procs
    for p in procs:
        if p.proc is not None and p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(10)


def test_kill9_agent_and_restart_adopts_tasks(
    etcd: EmbeddedEtcd, prefix: str, store: Store, tmp_path: Path, marker: str, agent_procs: list[AgentProc]
) -> None:
    data = tmp_path / "data"
    logf = tmp_path / "agent.log"
    first = AgentProc(etcd, prefix, data, logf)
    agent_procs.append(first)
    first.start()
    script = "import sys,time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.2)"
    task = Task(
        name="t",
        driver="raw_exec",
        config={"command": sys.executable, "args": ["-c", script, marker]},
        kill_timeout=2 * SECOND,
    )
    job = make_job(
        "sleepy",
        tasks=[task],
        count=3,
        restart=RestartPolicy(attempts=3, interval=600 * SECOND, delay=0, mode="fail"),
    )
    put_job(store, job)
    allocs = [put_alloc(store, make_alloc(job, first.node_id, i)) for i in range(3)]
    before = {a.id: wait_status(store, a.id, "running").task_states["t"].pid for a in allocs}
    assert sorted(before.values()) == marked_pids(marker)

    first.kill9()
    assert marked_pids(marker) == sorted(before.values()), "tasks survive the agent"
    victim = allocs[2]
    os.kill(before[victim.id], signal.SIGKILL)  # dies while no agent watches
    wait_for(lambda: before[victim.id] not in marked_pids(marker), 5, message="victim gone")
    log_file = data / "allocs" / allocs[0].id / "alloc" / "logs" / "t.stdout.0"
    size_at_kill = log_file.stat().st_size

    second = AgentProc(etcd, prefix, data, logf)
    agent_procs.append(second)
    try:
        second.start()
        assert second.node_id == first.node_id
        # the victim is restarted per its policy; the others keep their pids
        st = wait_for(
            lambda: (
                (s := get_status(store, victim.id))
                and s.task_states["t"].restarts == 1
                and s.task_states["t"].state == "running"
                and s
            ),
            15,
            message="victim restarted",
        )
        assert "Restarting" in event_types(st, "t")
        for a in allocs[:2]:
            s = get_status(store, a.id)
            assert s is not None
            assert s.task_states["t"].pid == before[a.id]
            assert event_types(s, "t").count("Started") == 1
        pids = marked_pids(marker)
        assert len(pids) == 3, "no duplicate process"
        assert before[allocs[0].id] in pids
        assert before[allocs[1].id] in pids
        # logging went on while the agent was away and after
        wait_for(lambda: log_file.stat().st_size > size_at_kill, 5, message="log grows")
        # the new agent can stop adopted tasks
        for a in allocs:
            a.desired_status = DesiredStatus.STOP
            put_alloc(store, a)
        for a in allocs:
            s = wait_status(store, a.id, "complete")
            assert event_types(s, "t")[-1] == "Killed"
        wait_for(lambda: not marked_pids(marker), 10, message="nothing left")
    finally:
        second.stop()


def test_graceful_stop_leaves_tasks_for_the_next_agent(store: Store, tmp_path: Path, marker: str) -> None:
    from controllers.driver_runner import NodeAgent

    data = tmp_path / "data"
    first = NodeAgent(store, data_dir=data, node_name="n", raw_exec_enabled=True)
    first.start()
    task = Task(
        name="t",
        driver="raw_exec",
        config={"command": sys.executable, "args": ["-c", "import time;time.sleep(600)", marker]},
    )
    job = make_job("calm", tasks=[task])
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, first.node_id))
    pid = wait_status(store, a.id, "running").task_states["t"].pid
    first.stop()
    assert marked_pids(marker) == [pid]
    second = NodeAgent(store, data_dir=data, node_name="n", raw_exec_enabled=True)
    assert second.node_id == first.node_id
    second.start()
    try:
        wait_for(
            lambda: second.runner(a.id) is not None and second.runner(a.id).running_pids() == {"t": pid},
            30,
            message="adopted",
        )
        assert marked_pids(marker) == [pid]
    finally:
        second.stop(drain=True)
    assert not marked_pids(marker)


def test_leader_exit_kills_the_other_tasks(store: Store, tmp_path: Path) -> None:
    from controllers.driver_runner import NodeAgent

    agent = NodeAgent(store, data_dir=tmp_path / "d", node_name="n", raw_exec_enabled=True)
    agent.start()
    try:
        leader = Task(
            name="main",
            driver="raw_exec",
            leader=True,
            config={"command": sys.executable, "args": ["-c", "pass"]},
        )
        side = Task(
            name="side",
            driver="raw_exec",
            config={"command": sys.executable, "args": ["-c", "import time;time.sleep(600)"]},
        )
        job = make_job("led", tasks=[leader, side], type="batch")
        put_job(store, job)
        a = put_alloc(store, make_alloc(job, agent.node_id))
        st = wait_status(store, a.id, "complete")
        assert "Leader Task Dead" in event_types(st, "side")
        assert event_types(st, "side")[-1] == "Killed"
    finally:
        agent.stop(drain=True)


def test_allocation_deleted_while_agent_down_leaves_no_orphan(
    store: Store, tmp_path: Path, marker: str
) -> None:
    from controllers.driver_runner import NodeAgent

    data = tmp_path / "data"
    first = NodeAgent(store, data_dir=data, node_name="n", raw_exec_enabled=True)
    first.start()
    task = Task(
        name="t",
        driver="raw_exec",
        config={"command": sys.executable, "args": ["-c", "import time;time.sleep(600)", marker]},
    )
    job = make_job("gone", tasks=[task])
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, first.node_id))
    pid = wait_status(store, a.id, "running").task_states["t"].pid
    first.stop()
    assert marked_pids(marker) == [pid]
    store.delete(store.keys.alloc(a.id))
    second = NodeAgent(store, data_dir=data, node_name="n", raw_exec_enabled=True)
    second.start()
    try:
        wait_for(lambda: not marked_pids(marker), 30, message="orphan killed")
        # the directory goes after the kill is confirmed: wait for it, do not race it
        wait_for(lambda: not (data / "allocs" / a.id).exists(), 30, message="orphan's directory removed")
        assert get_status(store, a.id) is None
    finally:
        second.stop(drain=True)
