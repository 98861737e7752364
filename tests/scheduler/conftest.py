"""Fixtures for scheduler tests: the API on a real HTTP port with a running scheduler."""

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
def api(store: Store, tmp_path: Path) -> Iterator[ApiClient]:
    sched = SchedulerController(store)
    sched.start()
    srv = ApiServer(ApiContext(store=store, data_dir=tmp_path, planner=plan_job))
    client = ApiClient(srv.start(), timeout=10)
    yield client
    srv.stop()
    sched.stop()
