"""Node registration details: heartbeat lease expiry, advertised address, cgroup fallbacks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from controllers.driver_runner import NodeAgent, cgroups
from controllers.driver_runner.drivers import ExecDriver, TaskContext
from controllers.driver_runner.fingerprint import interface_address
from reconciler.model.job import Task
from reconciler.model.objects import Node
from reconciler.store import Store
from tests.waiting import wait_for


def test_heartbeat_vanishes_when_the_agent_stops_refreshing(store: Store, tmp_path: Path) -> None:
    agent = NodeAgent(
        store,
        data_dir=tmp_path,
        node_name="short-lived",
        heartbeat_ttl=2,
        raw_exec_enabled=True,
        meta={"rack": "r1"},
        port_range=(30000, 30100),
    )
    agent.start()
    key = store.keys.heartbeat(agent.node_id)
    assert store.get_raw(key) is not None
    node = store.get(store.keys.node(agent.node_id), Node)
    assert node is not None
    assert node.value.meta == {"rack": "r1"}
    assert (node.value.min_dynamic_port, node.value.max_dynamic_port) == (30000, 30100)
    agent.stop()  # no drain: the lease is left to expire, as if the agent had died
    wait_for(lambda: store.get_raw(key) is None, 10, message="heartbeat key expired")
    assert store.get(store.keys.node(agent.node_id), Node) is not None


def test_advertise_address_from_interface(store: Store, tmp_path: Path) -> None:
    assert interface_address("lo") == "127.0.0.1"
    agent = NodeAgent(store, data_dir=tmp_path, node_name="n", network_interface="lo")
    assert agent.node.address == "127.0.0.1"
    assert agent.node.attributes["unique.network.ip-address"] == "127.0.0.1"
    with pytest.raises(ValueError, match="has no IPv4 address"):
        interface_address("nope0")


def test_exec_without_writable_cgroups_reports_an_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cgroups, "ROOT", tmp_path / "no-cgroups")
    d = ExecDriver()
    d.unshare = "/usr/bin/unshare"
    ctx = TaskContext(
        alloc_id="a1",
        task=Task(name="t", driver="exec"),
        config={"command": "/bin/true"},
        env={},
        task_dir=tmp_path,
        logs_dir=tmp_path,
        cgroup_name="a1.t",
    )
    spec = d.prepare(ctx)
    assert spec.argv[:2] == ["/usr/bin/unshare", "--pid"]
    assert spec.cgroup_procs == []
    kinds = [k for k, _ in ctx.events]
    assert kinds == ["Resource Limits Unavailable", "Resource Limits Unavailable"]
    assert "memory limit not set" in ctx.events[0][1]


def test_re_registering_keeps_what_operators_set_meanwhile(store: Store, tmp_path: Path) -> None:
    """The node record is written with a compare: a lost heartbeat lease re-registers the
    node without undoing a drain or eligibility change made while the agent ran."""
    agent = NodeAgent(store, data_dir=tmp_path, node_name="n", heartbeat_ttl=2, raw_exec_enabled=True)
    agent.start()
    try:
        key = store.keys.node(agent.node_id)
        store.update(key, Node, lambda n: replace(n, drain=True, eligibility="ineligible") if n else None)
        lease = agent.heartbeat.lease
        assert lease is not None
        lease.revoke()  # as if the lease expired
        # the heartbeat key is written first, then the node record: wait for both, and for the
        # agent's own copy, which follows what the record's update stored
        wait_for(
            lambda: (
                agent.heartbeat.lease is not lease
                and store.get_raw(store.keys.heartbeat(agent.node_id))
                and agent.node.drain
                and agent.node.eligibility == "ineligible"
            ),
            message="re-registered under a new lease",
        )
        node = store.get(key, Node)
        assert node is not None
        assert node.value.drain
        assert node.value.eligibility == "ineligible"
    finally:
        agent.stop()
