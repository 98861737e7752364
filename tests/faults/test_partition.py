"""A network partition with real network namespaces (issue 13): one client agent runs in a
namespace of its own and reaches etcd over a veth pair; cutting the link (`ip link set
down`) cuts it off from the cluster while its tasks keep running. The app job has a
`disconnect` window, so:

- the client's allocations become `unknown` (its node `disconnected`) and are replaced on
  the other client after the heartbeat lease and the group's reschedule delay;
- the router stops sending traffic to the cut-off instances (their catalog entries expire
  with the cut-off registrar's lease, and unknown allocations are never registered);
- when the link comes back, one copy of each instance survives (`reconcile =
  "keep_original"`: the originals, their replacements stopped) and the router has every
  instance again.

Skipped, with the reason, where `ip netns` cannot run (not root, no CAP_NET_ADMIN)."""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from tests.factories import job_text
from tests.faults.cluster import HEARTBEAT_TTL, Cluster, HostAgent, processes_under
from tests.faults.figures import record
from tests.faults.invariants import InvariantChecker, router_targets
from tests.ports import free_port
from tests.waiting import wait_for

COUNT = 4
RESCHEDULE_DELAY = 1  # seconds: the group's reschedule delay, counted from the disconnect
DISCONNECT = """
    disconnect {
      @disconnect
    }

    reschedule {
      delay          = "1s"
      delay_function = "constant"
      unlimited      = true
    }

    spread {
      attribute = "${node.unique.name}"
    }

    migrate {"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@dataclass
class Link:
    """A namespace and the veth pair between it and the host: `host_ip` on the host side,
    `ns_ip` inside."""

    ns: str
    host_dev: str
    host_ip: str
    ns_ip: str

    def cut(self) -> None:
        _ip("link", "set", self.host_dev, "down")

    def restore(self) -> None:
        _ip("link", "set", self.host_dev, "up")


@pytest.fixture
def link() -> Iterator[Link]:
    tag = f"{os.getpid() % 10000}{random.randrange(100):02d}"
    subnet = f"10.{200 + random.randrange(50)}.{random.randrange(250)}"
    lk = Link(f"rc-part-{tag}", f"rcp{tag}h", f"{subnet}.1", f"{subnet}.2")
    peer = f"rcp{tag}n"
    try:
        _ip("netns", "add", lk.ns)
    except (OSError, subprocess.CalledProcessError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        pytest.skip(f"`ip netns add` cannot run here (needs root / CAP_NET_ADMIN): {exc} {err.decode()}")
    try:
        _ip("link", "add", lk.host_dev, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", lk.ns)
        _ip("addr", "add", f"{lk.host_ip}/24", "dev", lk.host_dev)
        _ip("link", "set", lk.host_dev, "up")
        _ip("netns", "exec", lk.ns, "ip", "addr", "add", f"{lk.ns_ip}/24", "dev", peer)
        _ip("netns", "exec", lk.ns, "ip", "link", "set", peer, "up")
        _ip("netns", "exec", lk.ns, "ip", "link", "set", "lo", "up")
        yield lk
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", lk.host_dev)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("netns", "del", lk.ns)


@dataclass
class NamespacedAgent(HostAgent):
    """A client agent started inside the network namespace `ns`."""

    ns: str = ""

    def args(self) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *super().args()]


@pytest.fixture
def partition_cluster(tmp_path: Path, link: Link) -> Iterator[Cluster]:
    etcd = EmbeddedEtcd(
        data_dir=tmp_path / "etcd",
        client_port=free_port(link.host_ip),
        peer_port=free_port(link.host_ip),
        name="partition",
        host=link.host_ip,  # reachable from the host and, over the veth, from the namespace
    )
    etcd.start()
    c = Cluster(tmp_path / "cluster", etcd, "/faults/")
    old = c.clients[0]
    c.clients[0] = NamespacedAgent(
        old.root,
        mode=old.mode,
        etcd=etcd.endpoint,
        node_name=old.node_name,
        host=link.ns_ip,
        extra_args=[*old.extra_args[:-2], "--bind", link.ns_ip],
        ns=link.ns,
    )
    try:
        c.start()
        yield c
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            link.restore()
        c.stop()
        etcd.stop()


KEEP_ORIGINAL = 'lost_after = "120s"\n      reconcile  = "keep_original"'
STOP_AFTER = 3  # seconds: `stop_on_client_after` of the second test


def _run_app(cluster: Cluster, disconnect: str = KEEP_ORIGINAL) -> None:
    text = job_text(
        "zero-downtime", python=sys.executable, app=cluster.app, release="1", count=COUNT, canary=""
    ).replace("    migrate {", DISCONNECT.replace("@disconnect", disconnect), 1)
    path = cluster.root / "partition.nomad"
    path.write_text(text, encoding="utf-8")
    out = cluster.servers[0].cli("job", "run", "-detach", str(path), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    wait_for(lambda: len(cluster.targets()) == COUNT, 60, message=f"{COUNT} routed instances of zd")


def test_a_partitioned_client_is_replaced_and_one_copy_survives_the_reconnect(
    partition_cluster: Cluster, link: Link
) -> None:
    cluster = partition_cluster
    api = cluster.servers[0]  # on the host side: it stays reachable during the cut
    _run_app(cluster)
    victim = cluster.clients[0]
    victim_id = next(str(n["ID"]) for n in api.get("/v1/nodes") if n["Name"] == victim.node_name)
    allocs = api.get("/v1/job/zd/allocations")
    originals = {a["ID"] for a in allocs if a["NodeID"] == victim_id and a["DesiredStatus"] == "run"}
    assert originals, f"no instance on the namespaced client: {allocs}"
    routes = router_targets(cluster.router.admin_port, "/zd")

    def running(besides: str = "") -> list[dict[str, object]]:
        return [
            a
            for a in api.get("/v1/job/zd/allocations")
            if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run" and a["NodeID"] != besides
        ]

    with InvariantChecker(cluster.store, routes=routes, lease=HEARTBEAT_TTL) as checker:
        cut = time.monotonic()
        link.cut()
        wait_for(
            lambda: len(running(besides=victim_id)) == COUNT,
            (HEARTBEAT_TTL + RESCHEDULE_DELAY) * 4,
            message=f"{COUNT} instances running without {victim.node_name}",
        )
        replaced = time.monotonic() - cut
        by_id = {a["ID"]: a for a in api.get("/v1/job/zd/allocations")}
        assert {by_id[i]["ClientStatus"] for i in originals} == {"unknown"}
        assert {n["Status"] for n in api.get("/v1/nodes") if n["ID"] == victim_id} == {"disconnected"}
        wait_for(
            lambda: len(routes()) == COUNT and not any(link.ns_ip in t for t in routes()),
            30,
            message="the router sends nothing to the cut-off client",
        )
        restored = time.monotonic()
        link.restore()

        def one_copy_each() -> bool:
            live = running()
            return (
                len(live) == COUNT
                and originals <= {str(a["ID"]) for a in live}
                and max(Counter(str(a["Name"]) for a in live).values()) == 1
            )

        def state() -> str:
            rows = [
                f"{a['Name']} {a['ID'][:8]} on {a['NodeName']}: {a['DesiredStatus']}/{a['ClientStatus']}"
                for a in api.get("/v1/job/zd/allocations")
            ]
            nodes = [f"{n['Name']}: {n['Status']}" for n in api.get("/v1/nodes")]
            log = victim.log()[-3000:]
            return f"one copy of each instance, the originals kept; now {rows} {nodes}\n{log}"

        wait_for(one_copy_each, 90, message=state)
        reconciled = time.monotonic() - restored
        wait_for(lambda: len(routes()) == COUNT, 60, message=f"{COUNT} routed instances again")
    record(
        f"partition ({len(originals)} of {COUNT} instances cut off): running elsewhere",
        replaced,
        HEARTBEAT_TTL + RESCHEDULE_DELAY + 2,
    )
    record("partition healed: one copy of each instance", reconciled, HEARTBEAT_TTL + 2)
    checker.assert_clean()


def _apps_under(root: Path, app: Path) -> list[int]:
    """Pids of the app's processes among those working under `root` (a client's tasks)."""
    found = []
    for pid in processes_under(root):
        with contextlib.suppress(OSError):
            if str(app) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                found.append(pid)
    return found


def test_a_partitioned_client_stops_its_tasks_before_they_are_replaced(
    partition_cluster: Cluster, link: Link
) -> None:
    """`stop_on_client_after`: the cut-off client stops the group's tasks once its lease has
    been out that long, and the replacements elsewhere start only after (the server waits
    as long, plus the kill timeout): never two copies of an instance running."""
    cluster = partition_cluster
    api = cluster.servers[0]
    _run_app(cluster, f'stop_on_client_after = "{STOP_AFTER}s"')
    victim = cluster.clients[0]
    victim_id = next(str(n["ID"]) for n in api.get("/v1/nodes") if n["Name"] == victim.node_name)
    on_victim = [a for a in api.get("/v1/job/zd/allocations") if a["NodeID"] == victim_id]
    assert on_victim, "no instance on the namespaced client"
    assert _apps_under(victim.root, cluster.app), "the cut-off client's tasks are not found"
    cut = time.monotonic()
    link.cut()
    wait_for(
        lambda: not _apps_under(victim.root, cluster.app),
        (HEARTBEAT_TTL + STOP_AFTER) * 4,
        message="the cut-off client stopped its tasks",
    )
    stopped = time.monotonic() - cut
    replacements_running = [
        a
        for a in api.get("/v1/job/zd/allocations")
        if a["NodeID"] != victim_id and a["ClientStatus"] == "running" and a["PreviousAllocation"]
    ]
    assert not replacements_running, (
        f"replaced {[a['Name'] for a in replacements_running]} before the originals stopped "
        f"({stopped:.1f}s after the cut); the cut-off agent's log:\n{victim.log()[-4000:]}"
    )

    def running_elsewhere() -> bool:
        allocs = api.get("/v1/job/zd/allocations")
        live = [a for a in allocs if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run"]
        return len(live) == COUNT and all(a["NodeID"] != victim_id for a in live)

    wait_for(running_elsewhere, (HEARTBEAT_TTL + STOP_AFTER + 5) * 4, message="replaced elsewhere")
    replaced = time.monotonic() - cut
    record(
        "partition, stop_on_client_after = 3s: the cut-off tasks stopped",
        stopped,
        HEARTBEAT_TTL + STOP_AFTER + 2,
    )
    record(
        "partition, stop_on_client_after = 3s: replaced elsewhere",
        replaced,
        HEARTBEAT_TTL + STOP_AFTER + 5 + 3,
    )
