"""A stopping allocation leaves the service catalog before its task is signalled, then waits
its `shutdown_delay` (Nomad's order), with the real registrar and node agent on real etcd.

The task itself reads etcd when its kill signal arrives (through etcd's JSON gateway), so
the test sees the catalog exactly as the task's last moment saw it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from controllers.driver_runner import NodeAgent
from controllers.registrar import Registrar
from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.job import SECOND, Service, Task
from reconciler.model.objects import DesiredStatus
from reconciler.model.services import ServiceRegistration
from reconciler.store import Store
from tests.driver_runner.support import (
    PY,
    ProcessGuard,
    make_alloc,
    make_job,
    put_alloc,
    put_job,
    wait_status,
)
from tests.waiting import wait_for

# On SIGINT: list the keys under the services prefix, write them to a file, exit 0.
TASK = r"""
import base64, json, signal, sys, time, urllib.request
endpoint, prefix, out = sys.argv[1:4]

def keys():
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    body = {"key": base64.b64encode(prefix.encode()).decode(),
            "range_end": base64.b64encode(end.encode()).decode(), "keys_only": True}
    req = urllib.request.Request(endpoint + "/v3/kv/range", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return [base64.b64decode(kv["key"]).decode() for kv in json.load(resp).get("kvs", [])]

def on_signal(*_):
    with open(out, "w") as f:
        json.dump(keys(), f)
    sys.exit(0)

signal.signal(signal.SIGINT, on_signal)
open(out + ".ready", "w").close()
while True:
    time.sleep(1)
"""


@pytest.fixture
def registrar(store: Store, agent: NodeAgent) -> Iterator[Registrar]:
    r = Registrar(store, agent.node, lease_ttl=5)
    r.start()
    yield r
    r.stop()


def test_a_stopped_allocation_leaves_the_catalog_before_its_kill_signal(
    store: Store,
    etcd: EmbeddedEtcd,
    agent: NodeAgent,
    registrar: Registrar,
    guard: ProcessGuard,
    tmp_path: Path,
) -> None:
    seen = tmp_path / "seen-at-signal.json"
    task = Task(
        name="server",
        driver="raw_exec",
        kill_timeout=5 * SECOND,
        shutdown_delay=SECOND // 2,
        config={"command": PY, "args": ["-c", TASK, etcd.endpoint, store.keys.services, str(seen)]},
    )
    job = make_job("ordered", tasks=[task])
    group = job.task_groups[0]
    group.services = [Service(name="ordered-web", port="http")]
    group.shutdown_delay = SECOND // 2
    put_job(store, job)
    alloc = put_alloc(store, make_alloc(job, agent.node.id))
    wait_status(store, alloc.id, "running")
    runner = agent.runner(alloc.id)
    assert runner is not None
    guard.add(runner.running_pids()["server"])
    wait_for(
        lambda: any(
            v.value.alloc_id == alloc.id for v in store.list(store.keys.services, ServiceRegistration)[0]
        ),
        20,
        message="the allocation's service registered",
    )

    wait_for(lambda: Path(f"{seen}.ready").exists(), 20, message="the task's signal handler installed")

    alloc.desired_status = DesiredStatus.STOP
    store.put(store.keys.alloc(alloc.id), alloc)
    st = wait_status(store, alloc.id, "complete")

    at_signal = json.loads(seen.read_text())
    assert [k for k in at_signal if alloc.id in k] == [], "the task was signalled while still in the catalog"
    events = st.task_states["server"].events
    kinds = [e.type for e in events]
    assert "Waiting for shutdown delay" in kinds
    assert "Killing" in kinds
    waiting = next(e for e in events if e.type == "Waiting for shutdown delay")
    killing = next(e for e in events if e.type == "Killing")
    assert kinds.index("Waiting for shutdown delay") < kinds.index("Killing")
    # group 0.5 s + task 0.5 s: a lower bound the code guarantees, not a timing race
    assert killing.time - waiting.time >= 0.9
