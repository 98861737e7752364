"""A client node lost with everything on it (agent and tasks SIGKILLed, as a host that
dies): its allocations run elsewhere within the heartbeat lease + 2 s, and not one request
through the router fails meanwhile (it retries a dead instance's refused connection on
another instance)."""

from __future__ import annotations

import time

from tests.e2e.traffic import Traffic, assert_no_failures, steady
from tests.faults.cluster import HEARTBEAT_TTL, Cluster
from tests.faults.figures import record
from tests.faults.invariants import InvariantChecker, router_targets
from tests.waiting import wait_for

COUNT = 4
RATE = 50.0  # requests/s, each on a fresh connection (the issue asks for at least 50)


def test_a_lost_node_is_replaced_within_the_lease_and_no_request_fails(cluster: Cluster) -> None:
    cluster.run_app(COUNT)
    allocs = cluster.running()
    victim = max(cluster.clients, key=lambda c: sum(a["NodeName"] == c.node_name for a in allocs))
    victim_id = cluster.node_id(victim)
    lost = sum(a["NodeID"] == victim_id for a in allocs)
    assert lost, f"no instance on either client: {allocs}"
    routes = router_targets(cluster.router.admin_port, "/zd")
    with (
        InvariantChecker(cluster.store, routes=routes, lease=HEARTBEAT_TTL) as checker,
        Traffic(cluster.router.port, "/zd", rate=RATE) as traffic,
    ):
        started = time.monotonic()
        steady(traffic)
        killed = time.monotonic()
        cluster.kill(victim)
        wait_for(
            lambda: len(cluster.running(besides=victim_id)) == COUNT,
            HEARTBEAT_TTL * 4,
            message=f"{COUNT} instances running without {victim.node_name}",
        )
        replaced = time.monotonic() - killed
        wait_for(lambda: len(routes()) == COUNT, 30, message=f"{COUNT} routed instances again")
        steady(traffic)
    assert_no_failures(traffic.tally, time.monotonic() - started, RATE)
    record(f"node loss ({lost} of {COUNT} instances): running elsewhere", replaced, HEARTBEAT_TTL + 2)
    checker.assert_clean()
