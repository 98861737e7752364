"""etcd stops for longer than the leader leases (but shorter than the node heartbeats) and
starts again: within 2 s of etcd being healthy every cluster controller is led again and a
change is applied; no node is marked down and nothing the cluster held is lost."""

from __future__ import annotations

import json
import time

from reconciler.model.objects import Allocation
from tests.faults.cluster import CONTROLLERS, HEARTBEAT_TTL, LEADER_TTL, Cluster, http_status
from tests.faults.figures import record
from tests.faults.invariants import InvariantChecker, router_targets
from tests.waiting import wait_for

OUTAGE = LEADER_TTL + 1.0  # seconds: every leader steps down; every heartbeat lease survives
RESUMED_WITHIN = 2.0


def test_after_an_etcd_restart_the_cluster_resumes_within_2s(cluster: Cluster) -> None:
    assert OUTAGE < HEARTBEAT_TTL
    cluster.run_app(2)
    routes = router_targets(cluster.router.admin_port, "/zd")
    with InvariantChecker(cluster.store, routes=routes) as checker:
        before = {c: cluster.leader_lease(c) for c in CONTROLLERS}
        cluster.etcd.stop()
        time.sleep(OUTAGE)  # the outage's length is the fault under test, not a synchronisation
        cluster.etcd.start()  # returns once etcd answers its health check
        healthy = time.monotonic()
        wait_for(
            lambda: all(cluster.leader_lease(c) not in (None, before[c]) for c in CONTROLLERS),
            30,
            message="every controller led in a new term",
        )
        led = time.monotonic() - healthy

        scale = json.dumps({"Count": 3, "Target": {"Group": "web"}}).encode()

        def scaled() -> bool:
            return http_status(f"{cluster.api().address}/v1/job/zd/scale", "POST", scale)[0] == 200

        wait_for(scaled, 30, interval=0.1, message="the API to take a scale")
        print(f"scale accepted {time.monotonic() - healthy:.2f}s after etcd was healthy")

        def placed() -> bool:
            # the scheduler's placement, read from etcd (not through the API's caches)
            allocs = [v.value for v in cluster.store.list(cluster.store.keys.allocs, Allocation)[0]]
            return len([a for a in allocs if a.job_id == "zd" and a.desired_status == "run"]) == 3

        wait_for(placed, 30, interval=0.05, message="a third allocation placed")
        applied = time.monotonic() - healthy
        # the node agent's watches resumed too: it starts the new instance
        wait_for(lambda: len(cluster.running()) == 3, 30, message="the third instance running")
        running = time.monotonic() - healthy
    record("etcd restart: every controller led again", led, RESUMED_WITHIN)
    record("etcd restart: a change (scale) placed", applied, RESUMED_WITHIN)
    record("etcd restart: the new instance running", running, RESUMED_WITHIN)
    assert not checker.down, f"nodes marked down by a {OUTAGE:.0f} s etcd outage: {checker.down}"
    checker.assert_clean()
