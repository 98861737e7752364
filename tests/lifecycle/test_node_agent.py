"""The lifecycle order on a real node agent and real processes: a prestart task finishes
before the main task starts, a prestart sidecar restarts beside the main task (each run
leaves a line) and is ended once it ends, and a poststop task runs after it."""

from __future__ import annotations

from controllers.driver_runner import NodeAgent, status
from reconciler.model.job import SECOND, Lifecycle, LifecycleHook, RestartPolicy, Task
from reconciler.store import Store
from tests.driver_runner.support import event_types, make_alloc, make_job, put_alloc, put_job, wait_status

D = '"$NOMAD_ALLOC_DIR"'
INIT = f"sleep 0.5; touch {D}/init.done"
SIDE = f"echo run >> {D}/side.runs; sleep 0.2"
# the main task fails unless init finished and the sidecar started before it, then waits
# (30 s at most) for the sidecar to run twice more beside it
APP = (
    f"test -f {D}/init.done || exit 3; test -f {D}/side.runs || exit 4; "
    f"n0=$(wc -l < {D}/side.runs); i=0; "
    f'while [ "$(wc -l < {D}/side.runs)" -lt $((n0 + 2)) ] && [ $i -lt 300 ]; '
    f"do sleep 0.1; i=$((i+1)); done; "
    f'[ "$(wc -l < {D}/side.runs)" -ge $((n0 + 2)) ] || exit 5; touch {D}/app.done'
)
CLEAN = f"test -f {D}/app.done && touch {D}/clean.done"


def sh(name: str, script: str, lc: Lifecycle | None = None) -> Task:
    return Task(
        name=name, driver="raw_exec", config={"command": "/bin/sh", "args": ["-c", script]}, lifecycle=lc
    )


def test_prestart_finishes_first_a_sidecar_restarts_and_poststop_runs_last(
    store: Store, agent: NodeAgent
) -> None:
    tasks = [
        sh("clean", CLEAN, Lifecycle(LifecycleHook.POSTSTOP)),
        sh("app", APP),
        sh("side", SIDE, Lifecycle(LifecycleHook.PRESTART, sidecar=True)),
        sh("init", INIT, Lifecycle(LifecycleHook.PRESTART)),
    ]
    policy = RestartPolicy(attempts=50, interval=600 * SECOND, delay=0, mode="fail")
    job = make_job("life", tasks=tasks, type="batch", restart=policy, ports=())
    put_job(store, job)
    alloc = put_alloc(store, make_alloc(job, agent.node_id))
    st = wait_status(store, alloc.id, "complete", timeout=60)
    ts = st.task_states
    assert not any(t.failed for t in ts.values()), {n: t.events for n, t in ts.items()}
    assert 0 < ts["init"].finished_at <= ts["app"].started_at
    assert ts["side"].restarts >= 2
    assert status.MAIN_DEAD in event_types(st, "side")
    assert ts["app"].finished_at <= ts["clean"].started_at
    alloc_dir = agent.data_dir / "allocs" / alloc.id / "alloc"
    assert (alloc_dir / "clean.done").exists()
    assert event_types(st, "clean").count(status.STARTED) == 1
