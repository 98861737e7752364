"""Lifecycle tasks across a node agent killed with SIGKILL: the next agent adopts the running
main task and sidecar (same pids, started once) and does not run the finished prestart
task again."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from controllers.driver_runner import status
from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.job import SECOND, Lifecycle, LifecycleHook, RestartPolicy, Task
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
from tests.driver_runner.test_reattach import AgentProc, agent_procs, marked_pids, marker
from tests.waiting import wait_for

__all__ = ["agent_procs", "marker"]

LOOP = "import time\nwhile True:\n    time.sleep(0.2)"


def loop(name: str, marker: str, lc: Lifecycle | None = None) -> Task:
    args = ["-c", LOOP, f"{marker}-{name}"]
    return Task(name=name, driver="raw_exec", config={"command": sys.executable, "args": args}, lifecycle=lc)


def test_a_new_agent_adopts_the_sidecar_and_main_and_runs_no_prestart_again(
    etcd: EmbeddedEtcd, prefix: str, store: Store, tmp_path: Path, marker: str, agent_procs: list[AgentProc]
) -> None:
    data = tmp_path / "data"
    first = AgentProc(etcd, prefix, data, tmp_path / "agent.log")
    agent_procs.append(first)
    first.start()
    init = Task(
        name="init",
        driver="raw_exec",
        config={"command": "/bin/sh", "args": ["-c", 'echo run >> "$NOMAD_ALLOC_DIR/init.runs"']},
        lifecycle=Lifecycle(LifecycleHook.PRESTART),
    )
    tasks = [init, loop("side", marker, Lifecycle(LifecycleHook.PRESTART, sidecar=True)), loop("app", marker)]
    policy = RestartPolicy(attempts=3, interval=600 * SECOND, delay=0, mode="fail")
    job = make_job("life", tasks=tasks, restart=policy, ports=())
    put_job(store, job)
    alloc = put_alloc(store, make_alloc(job, first.node_id))
    st = wait_status(store, alloc.id, "running")
    wait_for(lambda: len(marked_pids(marker)) == 2, 30, message="the sidecar and the main task to run")
    st = wait_for(
        lambda: (s := get_status(store, alloc.id)) and s.task_states["app"].pid and s, 30, message="app's pid"
    )
    pids = {t: st.task_states[t].pid for t in ("side", "app")}

    first.kill9()
    second = AgentProc(etcd, prefix, data, tmp_path / "agent.log")
    agent_procs.append(second)
    second.start()
    log = tmp_path / "agent.log"
    wait_for(lambda: "task=app re-attached" in log.read_text(), 30, message="the main task re-attached")
    st = get_status(store, alloc.id)
    assert st is not None
    runs = data / "allocs" / alloc.id / "alloc" / "init.runs"
    assert runs.read_text() == "run\n"
    for t in ("side", "app"):
        assert st.task_states[t].pid == pids[t]
        assert event_types(st, t).count(status.STARTED) == 1
    assert sorted(pids.values()) == marked_pids(marker)
    # the new agent supervises them: a stop ends both (the sidecar too) and completes
    put_alloc(store, replace(alloc, desired_status=DesiredStatus.STOP))
    wait_status(store, alloc.id, "complete")
    wait_for(lambda: marked_pids(marker) == [], 15, message="the adopted tasks to end")
