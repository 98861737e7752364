"""Fixtures for deployment tests: the full HTTP API on a real port, the scheduler (with
deployments) and the deployment controller on real etcd, and a simulated node whose agent
reports every allocation placed on it as running."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controllers.deployments.controller import DeploymentController
from controllers.scheduler.controller import SchedulerController
from controllers.scheduler.plan import plan_job
from reconciler.api.context import ApiContext
from reconciler.cli.client import ApiClient
from reconciler.model.objects import Allocation, AllocStatus, TaskState
from reconciler.store import Store
from tests.api.server import ApiServer
from tests.scheduler.sim import add_node


class FakeAgent:
    """Reports each live allocation running (a node agent whose tasks always start)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.seen: set[str] = set()

    def _run(self) -> None:
        while not self.stop_event.wait(0.02):  # the simulated agent's poll interval
            items, _ = self.store.list(self.store.keys.allocs, Allocation)
            for i in items:
                a = i.value
                if a.id in self.seen or a.desired_status != "run":
                    continue
                self.seen.add(a.id)
                now = time.time()
                self.store.put(
                    self.store.keys.alloc_status(a.id),
                    AllocStatus(
                        alloc_id=a.id,
                        node_id=a.node_id,
                        client_status="running",
                        modify_time=now,
                        task_states={t: TaskState(state="running", started_at=now) for t in ("todo",)},
                    ),
                )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)


@pytest.fixture
def cluster(store: Store, tmp_path: Path) -> Iterator[ApiClient]:
    add_node(store, "node-1", cpu=100_000, memory=100_000)
    sched = SchedulerController(store, deployments=True)
    deps = DeploymentController(store)
    agent = FakeAgent(store)
    sched.start()
    deps.start()
    agent.start()
    srv = ApiServer(ApiContext(store=store, data_dir=tmp_path, planner=plan_job))
    yield ApiClient(srv.start(), timeout=10)
    srv.stop()
    agent.stop()
    deps.stop()
    sched.stop()
