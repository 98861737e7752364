"""Recovery after etcd restarts, against the test's own etcd: leadership, kept leases and
informers resume within 2 s of etcd answering again (issue 13's target). Each test prints
its figure (`pytest -s tests/runtime/test_etcd_restart.py`; docs/architecture.md)."""

from __future__ import annotations

import time
import uuid

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.objects import Node
from reconciler.runtime import Informer, LeaderElector
from reconciler.store import KeptLease, Store
from tests.waiting import wait_for

RESUMED_WITHIN = 2.0  # seconds after etcd is healthy again


def test_leadership_resumes_after_an_outage_longer_than_the_ttl(private_etcd: EmbeddedEtcd) -> None:
    """The leader steps down while etcd is away; etcd restores every lease with its full
    TTL when it restarts, so the old term's lease is revoked as soon as etcd answers rather
    than holding the key (and everyone) off for another TTL."""
    store = Store([private_etcd.endpoint], prefix=f"/r-{uuid.uuid4().hex[:8]}/", retry_for=30)
    e = LeaderElector(store, "scheduler", "solo", ttl=5)
    e.start(lambda: None, lambda: None)
    try:
        wait_for(e.is_leader.is_set, message="leadership")
        private_etcd.stop()
        wait_for(lambda: not e.is_leader.is_set(), timeout=10, message="stepping down within the TTL")
        private_etcd.start()  # returns once etcd is healthy
        healthy = time.monotonic()
        wait_for(
            lambda: e.is_leader.is_set() and e.leader() == "solo",
            timeout=RESUMED_WITHIN,
            message="leadership again within 2 s of etcd being healthy",
        )
        print(f"\nleadership resumed {time.monotonic() - healthy:.2f}s after etcd was healthy (TTL 5 s)")
    finally:
        e.stop()
        store.close()


def test_a_kept_lease_survives_an_outage_shorter_than_its_ttl(private_etcd: EmbeddedEtcd) -> None:
    store = Store([private_etcd.endpoint], prefix=f"/r-{uuid.uuid4().hex[:8]}/", retry_for=30)
    lease = KeptLease.grant(store, 8, name="heartbeat").start()
    key = store.keys.heartbeat("n1")
    store.put(key, b"{}", lease=lease.id)
    try:
        private_etcd.stop()
        private_etcd.start()
        healthy = time.monotonic()
        wait_for(
            lambda: lease.refreshed_at > healthy,
            timeout=RESUMED_WITHIN,
            message="a refresh within 2 s of etcd being healthy",
        )
        print(f"\nlease refreshed {lease.refreshed_at - healthy:.2f}s after etcd was healthy")
        assert not lease.lost.is_set()
        assert store.get_raw(key) is not None
    finally:
        lease.stop(revoke=True)
        store.close()


def test_an_informer_resumes_after_a_restart(private_etcd: EmbeddedEtcd) -> None:
    prefix = f"/r-{uuid.uuid4().hex[:8]}/"
    store = Store([private_etcd.endpoint], prefix=prefix, retry_for=30)
    writer = Store([private_etcd.endpoint], prefix=prefix, retry_for=30)
    inf: Informer[Node] = Informer(store, store.keys.nodes, Node)
    inf.start()
    try:
        assert inf.wait_synced(10)
        private_etcd.stop()
        private_etcd.start()
        healthy = time.monotonic()
        writer.put(store.keys.node("n1"), Node(id="n1", name="n1"))
        wait_for(
            lambda: inf.get(store.keys.node("n1")) is not None,
            timeout=RESUMED_WITHIN,
            message="an event written after the restart within 2 s",
        )
        print(f"\ninformer saw a new event {time.monotonic() - healthy:.2f}s after etcd was healthy")
    finally:
        inf.stop()
        store.close()
        writer.close()
