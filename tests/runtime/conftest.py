"""An etcd of the test's own, for tests that restart or compact it (the session etcd is
shared and must not be disturbed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from tests.ports import free_port


@pytest.fixture
def private_etcd(tmp_path: Path) -> Iterator[EmbeddedEtcd]:
    server = EmbeddedEtcd(
        data_dir=tmp_path / "etcd", client_port=free_port(), peer_port=free_port(), name="private"
    )
    server.start()
    yield server
    server.stop()
