"""The router as a component: a runtime Controller with one key, "table". Catalog informers
enqueue it on every change (the work queue coalesces a burst into one rebuild and retries a
failed one with backoff), and reconciling it builds the table from the caches with a pure
function. The proxy runs on its own event loop thread (uvloop when installed) and reads the
current table through one attribute, which each rebuild replaces whole (an atomic swap: a
request sees either the old table or the new one, never half of each).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from typing import Any

from aiohttp import web

from controllers.router.admin import admin_app
from controllers.router.downstream import Downstream
from controllers.router.limits import Limits
from controllers.router.option_checks import OptionChecks
from controllers.router.server import ProxyServer, sweep_period
from controllers.router.table import RouteTable, build_table
from controllers.router.tcp import TcpClient
from controllers.router.workers import Workers, new_loop
from reconciler.model.services import CheckStatus, ServiceRegistration
from reconciler.model.tls import TlsFiles, server_context
from reconciler.runtime import Controller, Informer, Requeue
from reconciler.store import Store

TABLE = "table"


class TcpListener:
    """A TCP route's listener, opening in the background; closing it also stops the opening."""

    def __init__(self, task: asyncio.Task[asyncio.AbstractServer | None]) -> None:
        self.task = task

    def close(self) -> None:
        if not self.task.done():
            self.task.cancel()
        elif (srv := self.task.result()) is not None:
            srv.close()


class Router(Controller):
    name = "router"

    def __init__(
        self,
        store: Store,
        *,
        host: str = "127.0.0.1",
        port: int = 9999,
        admin_port: int | None = 9998,
        strategy: str = "rr",
        no_route_status: int = 404,
        client_idle_timeout: float | None = None,
        upstream_idle_timeout: float | None = None,
        limits: Limits | None = None,
        workers: int = 1,
        tls: TlsFiles | None = None,
    ) -> None:
        if strategy not in ("rr", "rnd"):
            raise ValueError(f"unknown strategy {strategy!r}: use rr or rnd")
        super().__init__(store)
        self.host = host
        self.port = port
        self.admin_port = admin_port
        self.table: RouteTable = RouteTable()
        limits = limits or Limits()
        if client_idle_timeout is not None:
            limits = replace(limits, client_idle_timeout=client_idle_timeout)
        if upstream_idle_timeout is not None:
            limits = replace(limits, upstream_idle_timeout=upstream_idle_timeout)
        # the listener's certificate (and the CA of client certificates): HTTPS to clients
        self.tls = tls if tls is not None and tls.enabled else None
        self.proxy = ProxyServer(
            lambda: self.table,
            strategy=strategy,
            no_route_status=no_route_status,
            limits=limits,
            tls=self.tls is not None,
        )
        self.services: Informer[ServiceRegistration] = self.informer(
            store.keys.services, ServiceRegistration, name="router:services"
        )
        self.checks: Informer[CheckStatus] = self.informer(
            store.keys.checks, CheckStatus, name="router:checks"
        )
        self.services.add_handler(self._changed)
        self.checks.add_handler(self._changed)
        self.option_checks = OptionChecks(store, self.checks)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[Any] = []
        self._admin: web.AppRunner | None = None
        self._tcp: dict[int, TcpListener] = {}  # port -> listener of a TCP route
        self.bound_port = port
        self.bound_admin_port = admin_port or 0
        # processes serving beside this one on the same port (SO_REUSEPORT), if more than one
        self.extra = (
            Workers(workers - 1, host, strategy, no_route_status, limits, self.tls) if workers > 1 else None
        )

    # table -------------------------------------------------------------------------------
    def _changed(self, key: str, old: Any, new: Any) -> None:
        self.enqueue(TABLE)

    def reconcile(self, key: str) -> Requeue | None:
        self.rebuild()
        return None

    def rebuild(self) -> None:
        regs = self.services.list()
        table = build_table(regs, self.checks.list())
        if table.routes != self.table.routes:
            self.log.info(
                "controller=router key=table changed: %d routes, %d targets",
                len(table.routes),
                sum(len(r.targets) for r in table.routes),
            )
        self.table = table
        if self.extra is not None and self.extra.procs:
            self.extra.publish(table)
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._sync_tcp, table)
        self.option_checks.sync(regs)  # last: a store error retries the key, the table is in place

    def _sync_tcp(self, table: RouteTable) -> None:
        """Open a listener for each TCP route's port and close those of routes gone (on the loop)."""
        want = set(table.tcp())
        for port in set(self._tcp) - want:
            self._tcp.pop(port).close()
        for port in want - set(self._tcp):
            self._tcp[port] = TcpListener(asyncio.get_running_loop().create_task(self._listen_tcp(port)))

    async def _listen_tcp(self, port: int) -> asyncio.AbstractServer | None:
        loop = asyncio.get_running_loop()
        try:
            srv = await loop.create_server(
                lambda: TcpClient(self.proxy, port), self.host, port, reuse_address=True
            )
        except OSError as exc:
            self.log.error("controller=router key=table tcp route :%d cannot listen: %s", port, exc)
            return None
        self.log.info("controller=router key=table tcp route :%d listening", port)
        return srv

    # lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:  # type: ignore[override]
        try:
            super().start(sync_timeout=timeout)
        except BaseException:
            super().stop()  # no informer or worker left behind
            raise

    def on_start(self) -> None:
        """The caches are synced: build the first table, then open the listeners."""
        self.rebuild()
        ready = threading.Event()
        errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(ready, errors), name="router-loop", daemon=True
        )
        self._thread.start()
        ready.wait(30)
        if errors:
            exc = errors[0]
            if isinstance(exc, OSError):
                raise OSError(
                    exc.errno,
                    f"router cannot listen on {self.host}:{self.port} (admin {self.admin_port}): "
                    f"{exc.strerror or exc} (another router running? pick other ports: "
                    f"agent --router-port/--router-admin-port or --no-router)",
                )
            raise exc
        if self.extra is not None:
            self.extra.start(self.bound_port, self.table)
        self.log.info(
            "router listening on %s:%d (admin %s) strategy=%s",
            self.host,
            self.bound_port,
            self.bound_admin_port or "off",
            self.proxy.strategy,
        )

    def _run(self, ready: threading.Event, errors: list[BaseException]) -> None:
        loop = self._loop = new_loop()
        asyncio.set_event_loop(loop)
        try:
            srv = loop.run_until_complete(
                loop.create_server(
                    lambda: Downstream(self.proxy),
                    self.host,
                    self.port,
                    reuse_address=True,
                    reuse_port=self.extra is not None,
                    backlog=1024,
                    ssl=server_context(self.tls) if self.tls is not None else None,
                )
            )
            self._servers.append(srv)
            self.bound_port = srv.sockets[0].getsockname()[1]
            if self.admin_port is not None:
                self._admin = web.AppRunner(admin_app(lambda: self.table, self.proxy.stats), access_log=None)
                loop.run_until_complete(self._admin.setup())
                site = web.TCPSite(self._admin, self.host, self.admin_port, reuse_address=True)
                loop.run_until_complete(site.start())
                self.bound_admin_port = self._admin.addresses[0][1]
        except BaseException as exc:
            errors.append(exc)
            for s in self._servers:
                s.close()
            if self._admin is not None:
                loop.run_until_complete(self._admin.cleanup())
            loop.close()
            ready.set()
            return
        ready.set()
        loop.call_soon(self._sync_tcp, self.table)
        period = sweep_period(self.proxy.limits)

        def tick() -> None:
            self.proxy.sweep()
            loop.call_later(period, tick)

        loop.call_later(period, tick)
        try:
            loop.run_forever()
        finally:
            for s in self._servers:
                s.close()
            for listener in self._tcp.values():
                listener.close()
            self._tcp.clear()
            if self._admin is not None:
                loop.run_until_complete(self._admin.cleanup())
                self._admin = None
            self.proxy.close_pools()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    def on_stop(self) -> None:
        if self.extra is not None:
            self.extra.stop()
        loop = self._loop
        if loop is not None and self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(10)
        self._servers.clear()
        self._loop = None
        self.option_checks.stop()
