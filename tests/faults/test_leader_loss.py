"""The server leading the cluster controllers dies (SIGKILL): the standby holds every lease
it held within `--leader-ttl` + 1 s and places new work; requests through the router never
notice (the router needs only etcd)."""

from __future__ import annotations

import time

from tests.e2e.traffic import Traffic, assert_no_failures, steady
from tests.faults.cluster import CONTROLLERS, LEADER_TTL, Cluster
from tests.faults.figures import record
from tests.faults.invariants import InvariantChecker, router_targets
from tests.waiting import wait_for

RATE = 50.0


def test_a_lost_leader_is_replaced_within_its_ttl_and_no_request_fails(cluster: Cluster) -> None:
    cluster.run_app(2)
    identity = cluster.leader("scheduler")
    assert identity is not None
    leader = cluster.server_of(identity)
    led = [c for c in CONTROLLERS if cluster.leader(c) == identity]
    routes = router_targets(cluster.router.admin_port, "/zd")
    with (
        InvariantChecker(cluster.store, routes=routes) as checker,
        Traffic(cluster.router.port, "/zd", rate=RATE) as traffic,
    ):
        started = time.monotonic()
        steady(traffic)
        killed = time.monotonic()
        cluster.kill(leader)
        wait_for(
            lambda: all(cluster.leader(c) not in (None, identity) for c in led),
            LEADER_TTL * 4,
            message=f"the standby leading {', '.join(led)}",
        )
        took_over = time.monotonic() - killed
        out = cluster.api().cli("job", "scale", "-detach", "zd", "web", "3", timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        wait_for(lambda: len(cluster.running()) == 3, 30, message="the new leader's third instance running")
        placed = time.monotonic() - killed
        steady(traffic)
    assert_no_failures(traffic.tally, time.monotonic() - started, RATE)
    record(f"leader loss: standby leads {', '.join(led)}", took_over, LEADER_TTL + 1)
    print(f"leader loss: new work running {placed:.2f} s after the kill")
    checker.assert_clean()
