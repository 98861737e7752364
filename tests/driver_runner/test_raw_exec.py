"""raw_exec end to end: real etcd, real processes."""

from __future__ import annotations

import os
import urllib.request

from controllers.driver_runner import NodeAgent
from reconciler.model.job import SECOND, RestartPolicy, Task
from reconciler.model.objects import DesiredStatus
from reconciler.store import Store
from tests.driver_runner.support import (
    PY,
    ProcessGuard,
    event_types,
    get_status,
    make_alloc,
    make_job,
    put_alloc,
    put_job,
    wait_status,
)
from tests.waiting import wait_for


def _get(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
            return int(resp.status)
    except OSError:
        return 0


def test_count_five_http_servers_answer_on_five_ports_and_stop_leaves_nothing(
    store: Store, agent: NodeAgent, guard: ProcessGuard
) -> None:
    job = make_job(count=5)
    put_job(store, job)
    allocs = [put_alloc(store, make_alloc(job, agent.node_id, i)) for i in range(5)]
    ports = [a.ports[0].value for a in allocs]
    assert len(set(ports)) == 5
    for a in allocs:
        st = wait_status(store, a.id, "running")
        guard.add(st.task_states["server"].pid)
    for p in ports:
        wait_for(lambda p=p: _get(p) == 200, 10, message=f"http on {p}")
    st = get_status(store, allocs[0].id)
    assert st is not None
    assert event_types(st, "server")[:3] == ["Received", "Task Setup", "Started"]
    for a in allocs:
        a.desired_status = DesiredStatus.STOP
        put_alloc(store, a)
    for a in allocs:
        st = wait_status(store, a.id, "complete")
        types = event_types(st, "server")
        assert types[-3:] == ["Killing", "Terminated", "Killed"], types
    assert not guard.leftovers()
    for p in ports:
        assert _get(p) == 0


def test_env_and_interpolation_reach_the_task(store: Store, agent: NodeAgent) -> None:
    script = (
        "import os,json,sys;"
        "keys=[k for k in os.environ if k.startswith('NOMAD_') or k=='GREETING'];"
        "json.dump({k:os.environ[k] for k in keys},"
        " open(os.path.join(os.environ['NOMAD_ALLOC_DIR'],'env.json'),'w'));"
        "json.dump(sys.argv[1:], open(os.path.join(os.environ['NOMAD_ALLOC_DIR'],'args.json'),'w'))"
    )
    task = Task(
        name="t",
        driver="raw_exec",
        config={
            "command": PY,
            "args": [
                "-c",
                script,
                "${NOMAD_PORT_http}",
                "${node.unique.name}",
                "${meta.rack}",
                "${NOMAD_ADDR_http}",
            ],
        },
        env={"GREETING": "port=${NOMAD_PORT_http} alloc=${NOMAD_ALLOC_INDEX}"},
        meta={"owner": "ops"},
    )
    job = make_job("envjob", tasks=[task], type="batch", meta={"team": "a"})
    put_job(store, job)
    agent.node.meta["rack"] = "r1"
    a = put_alloc(store, make_alloc(job, agent.node_id, 3))
    wait_status(store, a.id, "complete")
    import json

    alloc_dir = agent.data_dir / "allocs" / a.id
    env = json.loads((alloc_dir / "alloc" / "env.json").read_text())
    args = json.loads((alloc_dir / "alloc" / "args.json").read_text())
    port = a.ports[0].value
    assert args == [str(port), "node-1", "r1", f"127.0.0.1:{port}"]
    assert env["GREETING"] == f"port={port} alloc=3"
    expected = {
        "NOMAD_PORT_http": str(port),
        "NOMAD_HOST_PORT_http": str(port),
        "NOMAD_IP_http": "127.0.0.1",
        "NOMAD_ADDR_http": f"127.0.0.1:{port}",
        "NOMAD_ALLOC_ID": a.id,
        "NOMAD_ALLOC_NAME": a.name,
        "NOMAD_ALLOC_INDEX": "3",
        "NOMAD_ALLOC_DIR": str(alloc_dir / "alloc"),
        "NOMAD_TASK_DIR": str(alloc_dir / "t" / "local"),
        "NOMAD_SECRETS_DIR": str(alloc_dir / "t" / "secrets"),
        "NOMAD_JOB_ID": "envjob",
        "NOMAD_JOB_NAME": "envjob",
        "NOMAD_GROUP_NAME": "g",
        "NOMAD_TASK_NAME": "t",
        "NOMAD_DC": "dc1",
        "NOMAD_REGION": "global",
        "NOMAD_NAMESPACE": "default",
        "NOMAD_CPU_LIMIT": "100",
        "NOMAD_MEMORY_LIMIT": "300",
        "NOMAD_META_team": "a",
        "NOMAD_META_owner": "ops",
    }
    for k, v in expected.items():
        assert env.get(k) == v, k
    for d in ("alloc", "t/local", "t/secrets", "t/tmp"):
        assert (alloc_dir / d).is_dir()


def test_failing_task_restarts_attempts_times_then_fails(store: Store, agent: NodeAgent) -> None:
    task = Task(name="t", driver="raw_exec", config={"command": PY, "args": ["-c", "raise SystemExit(3)"]})
    job = make_job(
        "flaky", tasks=[task], restart=RestartPolicy(attempts=2, interval=60 * SECOND, delay=0, mode="fail")
    )
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    st = wait_status(store, a.id, "failed")
    types = event_types(st, "t")
    assert types.count("Started") == 3
    assert types.count("Terminated") == 3
    assert types.count("Restarting") == 2
    assert types[-1] == "Not Restarting"
    ts = st.task_states["t"]
    assert ts.failed
    assert ts.state == "dead"
    assert ts.restarts == 2
    assert [e.exit_code for e in ts.events if e.type == "Terminated"] == [3, 3, 3]


def test_batch_task_exiting_zero_completes(store: Store, agent: NodeAgent) -> None:
    task = Task(name="t", driver="raw_exec", config={"command": PY, "args": ["-c", "print('done')"]})
    job = make_job("batch1", tasks=[task], type="batch")
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    st = wait_status(store, a.id, "complete")
    assert event_types(st, "t") == ["Received", "Task Setup", "Started", "Terminated"]
    assert not st.task_states["t"].failed


def test_kill_timeout_escalates_to_sigkill_for_the_whole_group(
    store: Store, agent: NodeAgent, guard: ProcessGuard
) -> None:
    # the task ignores SIGINT and starts a child that ignores it too
    script = (
        "import signal,subprocess,sys,time,os;signal.signal(signal.SIGINT, signal.SIG_IGN);"
        "p=subprocess.Popen([sys.executable,'-c',"
        "'import signal,time;signal.signal(signal.SIGINT,signal.SIG_IGN);time.sleep(600)']);"
        "open(os.path.join(os.environ['NOMAD_ALLOC_DIR'],'child'),'w').write(str(p.pid));time.sleep(600)"
    )
    task = Task(
        name="t", driver="raw_exec", config={"command": PY, "args": ["-c", script]}, kill_timeout=SECOND // 2
    )
    job = make_job("stubborn", tasks=[task])
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    st = wait_status(store, a.id, "running")
    guard.add(st.task_states["t"].pid)
    child_file = agent.data_dir / "allocs" / a.id / "alloc" / "child"
    wait_for(lambda: child_file.exists() and child_file.read_text(), 10, message="child pid")
    guard.add(int(child_file.read_text()))
    a.desired_status = DesiredStatus.STOP
    put_alloc(store, a)
    st = wait_status(store, a.id, "complete")
    term = [e for e in st.task_states["t"].events if e.type == "Terminated"][-1]
    assert term.signal == 9
    wait_for(lambda: not guard.leftovers(), 5, message="no process left")


def test_missing_driver_and_bad_config_fail_with_events(store: Store, agent: NodeAgent) -> None:
    bad = Task(name="t", driver="raw_exec", config={"command": PY, "bogus": 1})
    job = make_job("bad", tasks=[bad])
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    st = wait_status(store, a.id, "failed")
    assert event_types(st, "t")[-1] == "Failed Validation"
    assert "bogus" in st.task_states["t"].events[-1].message
    nodrv = Task(name="t", driver="docker", config={"image": "x"})
    job2 = make_job("nodrv", tasks=[nodrv])
    put_job(store, job2)
    a2 = put_alloc(store, make_alloc(job2, agent.node_id))
    st2 = wait_status(store, a2.id, "failed")
    assert event_types(st2, "t")[-1] == "Driver Failure"


def test_node_registered_with_heartbeat_and_fingerprint(store: Store, agent: NodeAgent) -> None:
    from reconciler.model.objects import Node, NodeHeartbeat

    node = store.get(store.keys.node(agent.node_id), Node)
    assert node is not None
    n = node.value
    assert n.name == "node-1"
    assert n.datacenter == "dc1"
    assert n.drivers.get("raw_exec") is True
    for attr in ("kernel.name", "os.name", "unique.hostname", "cpu.numcores", "memory.totalbytes"):
        assert n.attributes.get(attr), attr
    assert n.resources.cores >= 1
    assert n.resources.memory_mb > 0
    assert n.resources.cpu_mhz > 0
    hb = store.get(store.keys.heartbeat(agent.node_id), NodeHeartbeat)
    assert hb is not None
    assert hb.value.node_id == agent.node_id
    assert os.path.exists(agent.data_dir / "client" / "node-id")


def test_raw_exec_disabled_unless_enabled(store: Store, tmp_path) -> None:
    a = NodeAgent(store, data_dir=tmp_path / "d2", node_name="n2")
    assert "raw_exec" not in a.node.drivers


def test_raw_exec_task_fails_on_a_node_where_it_is_disabled(store: Store, tmp_path) -> None:
    a = NodeAgent(store, data_dir=tmp_path / "d3", node_name="locked")
    a.start()
    try:
        task = Task(name="t", driver="raw_exec", config={"command": PY, "args": ["-c", "pass"]})
        job = make_job("locked", tasks=[task], type="batch")
        put_job(store, job)
        al = put_alloc(store, make_alloc(job, a.node_id))
        st = wait_status(store, al.id, "failed")
        last = st.task_states["t"].events[-1]
        assert last.type == "Driver Failure"
        assert "disabled" in last.message
    finally:
        a.stop(drain=True)


def test_stop_reaches_a_child_that_left_the_process_group(
    store: Store, agent: NodeAgent, guard: ProcessGuard
) -> None:
    from controllers.driver_runner import cgroups

    if not cgroups.tracking("probe").dirs:
        import pytest

        pytest.skip("no writable cgroup to track processes that leave the group")
    cgroups.remove(cgroups.tracking("probe").dirs)
    script = (
        "import os,subprocess,sys,time;"
        "p=subprocess.Popen([sys.executable,'-c','import time;time.sleep(600)'],start_new_session=True);"
        "open(os.path.join(os.environ['NOMAD_ALLOC_DIR'],'child'),'w').write(str(p.pid));time.sleep(600)"
    )
    task = Task(
        name="t", driver="raw_exec", config={"command": PY, "args": ["-c", script]}, kill_timeout=SECOND
    )
    job = make_job("escaper", tasks=[task])
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "running")
    child_file = agent.data_dir / "allocs" / a.id / "alloc" / "child"
    wait_for(lambda: child_file.exists() and child_file.read_text(), 10, message="child pid")
    guard.add(int(child_file.read_text()))
    a.desired_status = DesiredStatus.STOP
    put_alloc(store, a)
    wait_status(store, a.id, "complete")
    wait_for(lambda: not guard.leftovers(), 5, message="the escaped child is gone")
