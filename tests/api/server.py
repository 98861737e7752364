"""Serve the real aiohttp application on a free port from a background thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from reconciler.api.acl import AclCache
from reconciler.api.app import make_app
from reconciler.api.context import ApiContext
from reconciler.api.gate import GateSettings
from tests.ports import free_port


class ApiServer:
    def __init__(
        self, ctx: ApiContext, gate: GateSettings | None = None, acl: AclCache | None = None
    ) -> None:
        self.ctx = ctx
        self.gate = gate
        self.acl = acl
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def app(self) -> web.Application:
        """The application being served (its router lists every endpoint)."""
        assert self._runner is not None, "start() first"
        return self._runner.app

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        """Serve; returns the address."""
        self._thread.start()

        async def up() -> None:
            self._runner = web.AppRunner(make_app(self.ctx, self.gate, acl=self.acl), shutdown_timeout=1.0)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

        asyncio.run_coroutine_threadsafe(up(), self._loop).result(10)
        return self.address

    def prestart_workers(self, n: int) -> None:
        prestart_workers(self._loop, n)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.run_until_complete(self._loop.shutdown_default_executor())  # the handlers' worker threads
        self._loop.close()

    def get(self, path: str, *, timeout: float = 10) -> tuple[int, Mapping[str, str], Any]:
        """GET with a timeout of its own (a blocking query may be held for its `wait`)."""
        try:
            with urllib.request.urlopen(self.address + path, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")

    def head_of(self, path: str, *, timeout: float = 10) -> tuple[int, Mapping[str, str]]:
        """Status and headers of a GET, without reading the body (a stream never ends)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders())
        finally:
            conn.close()

    def call(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None, token: str = ""
    ) -> tuple[int, Any]:
        status, _, out = self.exchange(method, path, body, raw=raw, token=token)
        return status, out

    def exchange(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None, token: str = ""
    ) -> tuple[int, Mapping[str, str], Any]:
        """Status, response headers and decoded body (JSON; a plain-text body as a string)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json", **({"X-Nomad-Token": token} if token else {})}
        req = urllib.request.Request(self.address + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, dict(resp.headers), _decoded(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), _decoded(exc.read())


def _decoded(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode(errors="replace")


def prestart_workers(loop: asyncio.AbstractEventLoop, n: int) -> None:
    """Give a served loop's handlers a pool of `n` worker threads started now, so that a
    module-scoped server's threads exist before its tests (the leak check would count them)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=n, thread_name_prefix="api-worker")
    barrier = threading.Barrier(n + 1)
    for _ in range(n):
        pool.submit(barrier.wait, 10)
    barrier.wait(10)
    loop.call_soon_threadsafe(loop.set_default_executor, pool)


def make_server(
    store: Any, tmp_path: Path, gate: GateSettings | None = None, acl: AclCache | None = None, **ctx_kw: Any
) -> ApiServer:
    server = ApiServer(ApiContext(store=store, data_dir=tmp_path, node_name="test", **ctx_kw), gate, acl)
    server.start()
    return server
