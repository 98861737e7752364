"""Fixtures for scheduler tests: the API on a real HTTP port with a running scheduler."""

from __future__ import annotations

import asyncio
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from controllers.scheduler.controller import SchedulerController
from controllers.scheduler.plan import plan_job
from reconciler.agent.etcd_process import free_port
from reconciler.api.context import ApiContext
from reconciler.api.sched_routes import routes
from reconciler.cli.client import ApiClient
from reconciler.model.objects import JobRecord
from reconciler.spec.model import Job
from reconciler.store import Store
from tests.scheduler.sim import submit


class Server:
    def __init__(self, ctx: ApiContext) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.ctx = ctx
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.add_routes(routes(self.ctx))
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()

    def start(self) -> str:
        self.thread.start()
        assert self.ready.wait(10)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[ApiClient]:
    sched = SchedulerController(store)
    sched.start()
    srv = Server(ApiContext(store=store, data_dir=tmp_path, planner=plan_job))
    client = ApiClient(srv.start(), timeout=10)
    yield client
    srv.stop()
    sched.stop()


@pytest.fixture
def fake_submit(monkeypatch: pytest.MonkeyPatch, store: Store) -> None:
    """Stand-in for the lead's reconciler.jobs.submit (documented signature), used only if
    the real module is absent."""
    try:
        import reconciler.jobs.submit  # noqa: F401
        return
    except ImportError:
        pass

    class Result:
        def __init__(self, eval_id: str, version: int) -> None:
            self.eval_id, self.version, self.changed = eval_id, version, True

    def submit_job(st: Store, job: Job, source_file: str = "") -> Result:
        cur = st.get(st.keys.job(job.namespace, job.id), JobRecord)
        version = cur.value.version + 1 if cur else 0
        return Result(submit(st, job, version), version)

    mod = types.ModuleType("reconciler.jobs.submit")
    mod.submit_job = submit_job  # type: ignore[attr-defined]
    pkg = types.ModuleType("reconciler.jobs")
    pkg.submit = mod  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "reconciler.jobs", pkg)
    monkeypatch.setitem(sys.modules, "reconciler.jobs.submit", mod)


