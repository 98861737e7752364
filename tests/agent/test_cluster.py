"""Beyond one machine: an existing etcd, one server agent (cluster controllers, leader-
elected) and two client agents (one node each), all separate processes. Allocations spread
over both nodes; the API of any agent shows the same cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.spec import job_to_nomad
from tests.agent.harness import AgentProcess
from tests.factories import submitted_job
from tests.waiting import wait_for


@pytest.fixture
def cluster(etcd: EmbeddedEtcd, tmp_path: Path, prefix: str) -> Iterator[list[AgentProcess]]:
    common = ["--prefix", prefix]
    agents = [
        AgentProcess(
            tmp_path / "server", mode=["-server"], etcd=etcd.endpoint, node_name="server", extra_args=common
        ),
        AgentProcess(
            tmp_path / "client1",
            mode=["-client", "--raw-exec"],
            etcd=etcd.endpoint,
            node_name="client1",
            extra_args=common,
        ),
        AgentProcess(
            tmp_path / "client2",
            mode=["-client", "--raw-exec"],
            etcd=etcd.endpoint,
            node_name="client2",
            extra_args=common,
        ),
    ]
    try:
        for a in agents:
            a.root.mkdir()
            a.start()
        yield agents
    finally:
        for a in agents:
            a.stop()


def test_server_and_two_clients_share_one_cluster(cluster: list[AgentProcess]) -> None:
    server, c1, c2 = cluster
    wait_for(lambda: len(server.get("/v1/nodes")) == 2, timeout=20, message="both clients registered")
    names = sorted(n["Name"] for n in c1.get("/v1/nodes"))
    assert names == ["client1", "client2"]

    server.request("POST", "/v1/jobs", {"Job": job_to_nomad(submitted_job("spread", count=4))})

    def running() -> list[dict[str, object]] | None:
        allocs = [a for a in c2.get("/v1/job/spread/allocations") if a["ClientStatus"] == "running"]
        return allocs if len(allocs) == 4 else None

    allocs = wait_for(running, timeout=30, message="four running allocations")
    nodes = {a["NodeID"] for a in allocs}
    assert len(nodes) == 2, "instances of one group are spread over both nodes"

    server.request("DELETE", "/v1/job/spread")
    wait_for(
        lambda: all(a["ClientStatus"] != "running" for a in server.get("/v1/job/spread/allocations")),
        timeout=30,
        message="every allocation stopped",
    )
