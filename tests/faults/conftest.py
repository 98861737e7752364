"""Fixtures of the fault suite: an etcd of the test's own (tests stop and restart it) and the
cluster of separate processes around it (cluster.py). The figures every test recorded are
printed again in the session's summary (tests/summaries.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from tests.faults.cluster import Cluster
from tests.ports import free_port


@pytest.fixture
def fault_etcd(tmp_path: Path) -> Iterator[EmbeddedEtcd]:
    server = EmbeddedEtcd(
        data_dir=tmp_path / "etcd", client_port=free_port(), peer_port=free_port(), name="faults"
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cluster(tmp_path: Path, fault_etcd: EmbeddedEtcd) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "cluster", fault_etcd, "/faults/")
    try:
        c.start()
        yield c
    finally:
        c.stop()
