"""A node started against the wrong etcd or prefix refuses to start rather than wiping its
allocations (review H10): the cluster's identity is created once in etcd, remembered in the
data dir, and compared before anything is collected as an orphan."""

from __future__ import annotations

from pathlib import Path

import pytest

from controllers.driver_runner import NodeAgent
from controllers.driver_runner.node import CLUSTER_FILE, ClusterMismatch, check_cluster
from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.ids import new_id
from reconciler.store import Store
from tests.agent.harness import AgentProcess


def test_the_cluster_id_is_created_once_and_remembered(store: Store, tmp_path: Path) -> None:
    first = check_cluster(store, tmp_path / "a")
    assert check_cluster(store, tmp_path / "b") == first  # another node of the same cluster
    assert (tmp_path / "a" / CLUSTER_FILE).read_text().strip() == first
    assert check_cluster(store, tmp_path / "a") == first


def test_a_node_against_another_prefix_keeps_its_allocations(
    store: Store, etcd: EmbeddedEtcd, prefix: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    node = NodeAgent(store, data_dir=data, node_name="n")
    node.start()
    node.stop()
    # an allocation this node ran for the first cluster, with data of its own
    kept = data / "allocs" / new_id() / "alloc" / "data" / "db"
    kept.parent.mkdir(parents=True)
    kept.write_text("precious")
    other = Store([etcd.endpoint], prefix=prefix + "elsewhere/")
    try:
        wrong = NodeAgent(other, data_dir=data, node_name="n")
        with pytest.raises(ClusterMismatch, match="belongs to cluster"):
            wrong.start()
    finally:
        other.close()
    assert kept.read_text() == "precious"


def test_the_agent_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    a = AgentProcess(tmp_path)
    a.start()
    a.stop()
    again = AgentProcess(tmp_path, extra_args=["--prefix", "/another/"])
    with pytest.raises(RuntimeError, match="agent exited with 1"):
        again.start()
    assert "belongs to cluster" in again.log()
    assert f"delete {tmp_path / 'data' / CLUSTER_FILE}" in again.log()
