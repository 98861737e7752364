"""`alloc signal` and `alloc stats` against a running node agent and a real task: the signal
reaches the task's process (it writes what it got), with a Signaling event; the stats are
the task's own memory and CPU."""

from __future__ import annotations

import base64
import json
import textwrap
import urllib.request
from collections.abc import Iterator

import nomad
import pytest
from click.testing import CliRunner

from controllers.driver_runner import NodeAgent
from reconciler.cli.main import cli
from reconciler.model.alloc_dir import AllocDir
from reconciler.model.job import Task
from reconciler.model.objects import Allocation
from reconciler.store import Store
from tests.api.server import ApiServer, make_server
from tests.driver_runner.support import (
    PY,
    event_types,
    get_status,
    make_alloc,
    make_job,
    put_alloc,
    put_job,
    wait_status,
)
from tests.waiting import wait_for

CATCHER = textwrap.dedent(
    """\
    import os, signal, sys, time
    chunk = bytearray(32 * 1024 * 1024)  # 32 MiB the stats must see
    for i in range(0, len(chunk), 4096):
        chunk[i] = 1
    def got(sig, frame):
        with open(os.path.join(os.environ["NOMAD_TASK_DIR"], "signals"), "a") as fh:
            fh.write(signal.Signals(sig).name + "\\n")
    signal.signal(signal.SIGHUP, got)
    signal.signal(signal.SIGUSR1, got)
    print("ready", flush=True)
    end = time.time() + 600
    while time.time() < end:
        sum(range(10000))
        time.sleep(0.01)"""
)


@pytest.fixture
def api(store: Store, agent: NodeAgent) -> Iterator[ApiServer]:
    server = make_server(store, agent.data_dir)
    yield server
    server.stop()


def _start(store: Store, agent: NodeAgent) -> Allocation:
    task = Task(name="web", driver="raw_exec", config={"command": PY, "args": ["-c", CATCHER]})
    job = make_job("catcher", tasks=[task])
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "running")
    logs = AllocDir(agent.data_dir, a.id).logs / "web.stdout.0"
    wait_for(lambda: logs.exists() and b"ready" in logs.read_bytes(), 30, message="task ready")
    return a


def test_signal_reaches_the_task_with_a_signaling_event(
    store: Store, agent: NodeAgent, api: ApiServer
) -> None:
    a = _start(store, agent)
    signals = AllocDir(agent.data_dir, a.id).local_dir("web") / "signals"
    client = nomad.Nomad(host="127.0.0.1", port=api.port, timeout=10)
    client.client.allocation.signal_allocation(a.id, "SIGHUP", task="web")
    wait_for(lambda: signals.exists() and signals.read_text() == "SIGHUP\n", 30, message="SIGHUP delivered")
    st = wait_for(
        lambda: (s := get_status(store, a.id)) is not None and "Signaling" in event_types(s, "web") and s,
        30,
        message="the Signaling event written",
    )
    ev = next(e for e in st.task_states["web"].events if e.type == "Signaling")
    assert ev.details["signal"] == "SIGHUP"
    wait_for(lambda: store.get(store.keys.alloc_signal(a.id), dict) is None, 30, message="request consumed")
    res = CliRunner().invoke(cli, ["--address", api.address, "alloc", "signal", "-s", "usr1", a.id[:8]])
    assert res.exit_code == 0, res.output
    wait_for(lambda: signals.read_text() == "SIGHUP\nSIGUSR1\n", 30, message="SIGUSR1 delivered")
    # what the task wrote, through the fs API
    assert "signals" in [e["Name"] for e in client.client.ls.list_files(a.id, path="/web/local")]
    assert client.client.cat.read_file(a.id, path="/web/local/signals") == "SIGHUP\nSIGUSR1\n"
    assert client.client.stat.stat_file(a.id, path="/web/local/signals")["Size"] == len("SIGHUP\nSIGUSR1\n")
    url = f"{api.address}/v1/client/fs/stream/{a.id}?path=/alloc/logs/web.stdout.0&offset=0&origin=start"
    with urllib.request.urlopen(url, timeout=30) as resp:  # follows: read the first frame, go away
        frame = json.loads(resp.readline())
    assert base64.b64decode(frame["Data"]).startswith(b"ready\n")
    assert get_status(store, a.id).client_status == "running"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "status"),
    [({"Signal": "SIGNOPE"}, 400), ({"Signal": "SIG_DFL"}, 400), ({"Signal": "HUP", "Task": "nope"}, 404)],
)
def test_bad_signal_requests_are_refused(
    store: Store, agent: NodeAgent, api: ApiServer, body: dict[str, str], status: int
) -> None:
    a = _start(store, agent)
    got, _, answer = api.exchange("POST", f"/v1/client/allocation/{a.id}/signal", body)
    assert got == status, answer
    assert store.get(store.keys.alloc_signal(a.id), dict) is None


def test_stats_report_the_tasks_memory_and_cpu(store: Store, agent: NodeAgent, api: ApiServer) -> None:
    a = _start(store, agent)
    client = nomad.Nomad(host="127.0.0.1", port=api.port, timeout=10)
    first = client.client.allocation.read_allocation_stats(a.id)
    web = first["Tasks"]["web"]["ResourceUsage"]
    assert web["MemoryStats"]["RSS"] > 32 * 1024 * 1024
    assert web["CpuStats"]["UserMode"] + web["CpuStats"]["SystemMode"] > 0
    assert first["ResourceUsage"]["MemoryStats"]["RSS"] == web["MemoryStats"]["RSS"]
    assert first["Timestamp"] > 0

    def busy() -> bool:
        u = client.client.allocation.read_allocation_stats(a.id)["Tasks"]["web"]["ResourceUsage"]
        return bool(u["CpuStats"]["Percent"] > 0)

    wait_for(busy, 30, message="a CPU percentage between two reads")
    res = CliRunner().invoke(cli, ["--address", api.address, "alloc", "status", "-stats", a.id[:8]])
    assert res.exit_code == 0, res.output
    assert "Memory" in res.output
    assert "CPU" in res.output
