"""While etcd is away the API answers 503 at once with a message that says so (no hang, no
500), keeps nothing back to send later, and the node's heartbeat outlives an outage shorter
than its lease: no node is marked down, and the API takes writes again when etcd returns."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.agent.wiring import API_PATIENCE
from reconciler.spec import job_to_nomad
from reconciler.store import Store
from tests.factories import submitted_job
from tests.faults.cluster import HEARTBEAT_TTL, LEADER_TTL, HostAgent, http_status, kill_all_under
from tests.faults.invariants import InvariantChecker
from tests.ports import free_port
from tests.waiting import wait_for

OUTAGE = HEARTBEAT_TTL * 0.6  # seconds: past every leader lease, inside the heartbeat's


@pytest.fixture
def consul_port() -> int:
    return free_port()


@pytest.fixture
def solo(tmp_path: Path, fault_etcd: EmbeddedEtcd, consul_port: int) -> Iterator[HostAgent]:
    """One agent that is server and client, on the test's own etcd, its Consul face on."""
    a = HostAgent(
        tmp_path / "solo",
        mode=["-server", "-client", "--raw-exec"],
        etcd=fault_etcd.endpoint,
        node_name="solo",
        extra_args=[
            "--prefix",
            "/outage/",
            "--leader-ttl",
            str(LEADER_TTL),
            "--consul-port",
            str(consul_port),
        ],
    )
    a.root.mkdir()
    a.start()
    try:
        yield a
    finally:
        a.stop()
        kill_all_under(a.root)


def test_the_api_answers_503_while_etcd_is_away_and_queues_nothing(
    solo: HostAgent, fault_etcd: EmbeddedEtcd, consul_port: int
) -> None:
    assert LEADER_TTL < OUTAGE < HEARTBEAT_TTL
    wait_for(lambda: len(solo.get("/v1/nodes")) == 1, 20, message="the node registered")
    store = Store([fault_etcd.endpoint], prefix="/outage/", retry_for=30)
    body = json.dumps({"Job": job_to_nomad(submitted_job("refused", count=1))}).encode()
    try:
        with InvariantChecker(store) as checker:
            fault_etcd.stop()
            away = time.monotonic()
            asked = time.monotonic()
            read = http_status(f"{solo.address}/v1/jobs")
            read_took = time.monotonic() - asked
            asked = time.monotonic()
            write = http_status(f"{solo.address}/v1/jobs", "POST", body)
            write_took = time.monotonic() - asked
            kv = http_status(f"http://127.0.0.1:{consul_port}/v1/kv/outage/refused", "PUT", b"v")
            print(
                f"\netcd away: GET answered {read[0]} in {read_took:.2f}s, "
                f"POST {write[0]} in {write_took:.2f}s, Consul KV PUT {kv[0]}"
            )
            # reads are answered from the API's watched caches (docs/api.md), as Nomad's stale
            # reads are; a write needs etcd and is refused with 503
            assert read[0] in (200, 503), read[1]
            assert write[0] == 503, write[1]
            assert "etcd" in json.loads(write[1])["error"], write[1]
            assert kv[0] == 503, kv  # the Consul face: plain text, as Consul's
            assert "etcd" in kv[1], kv
            assert read_took < API_PATIENCE + 2, "the API held the read"
            assert write_took < API_PATIENCE + 2, "the API held the write"
            time.sleep(max(0.0, OUTAGE - (time.monotonic() - away)))  # the outage is the fault under test
            fault_etcd.start()
            wait_for(lambda: http_status(f"{solo.address}/v1/jobs")[0] == 200, 10, message="the API back")
            # a write after the outage is taken
            solo.request("POST", "/v1/jobs", {"Job": job_to_nomad(submitted_job("after", count=1))})
            # the API's caches catch up once their watches are back
            wait_for(
                lambda: http_status(f"{solo.address}/v1/job/after")[0] == 200,
                60,
                message="the job written after the outage readable",
            )
        assert http_status(f"{solo.address}/v1/job/refused")[0] == 404, "a refused write was applied later"
        refused_kv = http_status(f"http://127.0.0.1:{consul_port}/v1/kv/outage/refused")[0]
        assert refused_kv == 404, "a refused KV write was applied later"
        assert not checker.down, f"a {OUTAGE:.0f}s outage marked nodes down: {checker.down}"
        checker.assert_clean()
    finally:
        solo.request("DELETE", "/v1/job/after")
        store.close()
