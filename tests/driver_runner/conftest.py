"""Fixtures for the node agent tests: a running NodeAgent on a temp data dir, and a guard
that fails a test which leaves a task process behind. The utilities they and the tests
share (jobs and allocations written straight to etcd, status waits) are in support.py."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from controllers.driver_runner import NodeAgent
from reconciler.store import Store
from tests.driver_runner.support import ProcessGuard
from tests.waiting import wait_for


@pytest.fixture
def guard() -> Iterator[ProcessGuard]:
    g = ProcessGuard()
    yield g
    if g.pids:
        try:
            wait_for(
                lambda: not g.leftovers(), 15, message=lambda: f"task processes left behind: {g.leftovers()}"
            )
        finally:
            for pid in g.leftovers():
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def agent(store: Store, tmp_path: Path) -> Iterator[NodeAgent]:
    a = NodeAgent(
        store,
        data_dir=tmp_path / "data",
        node_name="node-1",
        raw_exec_enabled=True,
        heartbeat_ttl=5,
        artifact_file_roots=(str(tmp_path / "artifacts"),),  # the tests' own `file://` artifacts
    )
    a.start()
    yield a
    a.stop(drain=True, timeout=30)
