"""The liveness controller after its heartbeat watch broke (etcd restarted): it still sees
a heartbeat vanish and marks the node down. The periodic sweep is set far beyond the test,
so only the re-opened watch can tell it."""

from __future__ import annotations

import uuid

from controllers.liveness.controller import LivenessController
from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.objects import Node, NodeStatus
from reconciler.store import Store
from tests.scheduler.sim import add_node
from tests.waiting import wait_for


def status(store: Store, node_id: str) -> str:
    got = store.get(store.keys.node(node_id), Node)
    assert got is not None
    return got.value.status


def test_a_dead_node_is_marked_down_after_the_watch_broke(private_etcd: EmbeddedEtcd) -> None:
    store = Store([private_etcd.endpoint], prefix=f"/t-{uuid.uuid4().hex[:8]}/", retry_for=30)
    _, lease1 = add_node(store, "n1", ttl=60)
    add_node(store, "n2", ttl=60)
    live = LivenessController(store, grace=0.0, sweep_every=3600)
    live.start()
    try:
        wait_for(
            lambda: len(live.heartbeats.list()) == 2 and live.queue.idle(), message="both heartbeats seen"
        )
        private_etcd.stop()
        private_etcd.start()
        # a heartbeat written after the restart reaching the cache shows the watch was
        # re-opened (not that a sweep happened to run)
        store.put(store.keys.heartbeat("n3"), "alive")
        wait_for(
            lambda: live.heartbeats.get(store.keys.heartbeat("n3")) is not None,
            timeout=30,
            message="the heartbeat watch re-opened",
        )
        wait_for(live.queue.idle, message="the sweeps after the restart done")
        lease1.revoke()  # type: ignore[attr-defined]  # n1's agent dies: only the watch can tell
        wait_for(lambda: status(store, "n1") == NodeStatus.DOWN, timeout=30, message="n1 marked down")
        assert status(store, "n2") == NodeStatus.READY
    finally:
        live.stop()
        store.close()
