"""Fixtures for scheduler tests: a running scheduler on the test's etcd prefix, and the API
on a real HTTP port beside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controllers.scheduler.controller import SchedulerController
from controllers.scheduler.plan import plan_job
from reconciler.api.context import ApiContext
from reconciler.cli.client import ApiClient
from reconciler.store import Store
from tests.api.server import ApiServer


@pytest.fixture
def scheduler(store: Store) -> Iterator[SchedulerController]:
    c = SchedulerController(store)
    c.start()
    yield c
    c.stop()


@pytest.fixture
def api(store: Store, scheduler: SchedulerController, tmp_path: Path) -> Iterator[ApiClient]:
    srv = ApiServer(ApiContext(store=store, data_dir=tmp_path, planner=plan_job))
    client = ApiClient(srv.start(), timeout=10)
    yield client
    srv.stop()
