"""Shared fixtures: a real etcd per test session (random ports, temp data dir) and a fresh
key prefix per test so tests never see each other's keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd, free_port
from reconciler.store import Store


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedEtcd]:
    server = EmbeddedEtcd(
        data_dir=Path(tmp_path_factory.mktemp("etcd")),
        client_port=free_port(),
        peer_port=free_port(),
        name="test",
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def prefix() -> str:
    return f"/t-{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def store(etcd: EmbeddedEtcd, prefix: str) -> Iterator[Store]:
    s = Store([etcd.endpoint], prefix=prefix)
    yield s
    s.close()
