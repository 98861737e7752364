"""A dev agent's shutdown: its node agent kills the tasks (as Nomad's dev agent destroys its
allocations), so its cluster controllers stop first; a scheduler still running would place
replacements for the killed tasks on the node that is going away. The agent runs on an etcd
of the test's own prefix, so what it left behind can be read after it is gone."""

from __future__ import annotations

from pathlib import Path

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.objects import Allocation
from reconciler.store import Store
from tests.agent.harness import AgentProcess
from tests.factories import job_file
from tests.waiting import wait_for


def test_a_dev_agent_places_nothing_while_it_stops(etcd: EmbeddedEtcd, prefix: str, tmp_path: Path) -> None:
    agent = AgentProcess(tmp_path, etcd=etcd.endpoint, extra_args=["--prefix", prefix])
    agent.start()
    try:
        out = agent.cli("job", "run", "-detach", str(job_file(tmp_path, "sleeper", job="sleepy", count=3)))
        assert out.returncode == 0, out.stderr
        wait_for(lambda: len(agent.running("sleepy")) == 3, 60, message="three instances running")
    finally:
        assert agent.stop() == 0, agent.log()
    store = Store([etcd.endpoint], prefix=prefix)
    try:
        allocs = [i.value for i in store.list(store.keys.allocs, Allocation)[0]]
    finally:
        store.close()
    assert len(allocs) == 3, [(a.name, a.desired_status, a.create_time) for a in allocs]
    assert "placed=" not in agent.log().partition("shutting down")[2], agent.log()
