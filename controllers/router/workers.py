"""More router processes on the same listener: the data path of one process is bound to one
core (the GIL), so `Router(workers=N)` starts N-1 worker processes that open the same
address with SO_REUSEPORT (the kernel spreads new client connections over them), each
running its own proxy loop (parsers, pools, round-robin counters, passive health) on the
table the router process builds and sends them whole on every rebuild (a pickled
`RouteTable` over a pipe: the same atomic swap as in-process). The router process keeps the
catalog informers, the TCP routes and the admin port; it serves HTTP too.

Started as fresh interpreters (`python -c ...`, a socket pair for the pipe): forking a
process that runs gRPC threads is unsafe, and multiprocessing's `spawn` would leave its
resource-tracker process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

from controllers.router.downstream import Downstream
from controllers.router.limits import Limits
from controllers.router.server import ProxyServer, sweep_period
from controllers.router.table import RouteTable
from reconciler.model.tls import TlsFiles, server_context

log = logging.getLogger(__name__)


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; plain asyncio still works
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main(fd: int) -> None:
    """A worker process: its settings come first on the pipe, then tables; it serves on
    (host, port) with SO_REUSEPORT until the pipe says stop (None) or closes (the router
    process is gone)."""
    conn = Connection(fd)
    host, port, strategy, no_route_status, limits, tls = conn.recv()
    loop = new_loop()
    asyncio.set_event_loop(loop)
    current = [RouteTable()]
    proxy = ProxyServer(
        lambda: current[0],
        strategy=strategy,
        no_route_status=no_route_status,
        limits=limits,
        tls=tls is not None,
    )

    def on_message() -> None:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            msg = None
        if msg is None:
            loop.stop()
        else:
            current[0] = msg

    loop.add_reader(conn.fileno(), on_message)
    srv = loop.run_until_complete(
        loop.create_server(
            lambda: Downstream(proxy),
            host,
            port,
            reuse_port=True,
            backlog=1024,
            ssl=server_context(tls) if tls is not None else None,
        )
    )
    period = sweep_period(limits)

    def tick() -> None:
        proxy.sweep()
        loop.call_later(period, tick)

    loop.call_later(period, tick)
    conn.send("ready")
    try:
        loop.run_forever()
    finally:
        srv.close()
        proxy.close_pools()
        loop.close()


class Workers:
    """The extra worker processes of one router, and the pipes their tables go through."""

    def __init__(
        self,
        count: int,
        host: str,
        strategy: str,
        no_route_status: int,
        limits: Limits,
        tls: TlsFiles | None = None,
    ) -> None:
        self.count = count
        self.host = host
        self.args = (strategy, no_route_status, limits, tls)  # the files, not a context: it is pickled
        self.procs: list[subprocess.Popen[bytes]] = []
        self.conns: list[Connection] = []
        self._lock = threading.Lock()

    def start(self, port: int, table: RouteTable, timeout: float = 30.0) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        for _ in range(self.count):
            mine, theirs = socket.socketpair()
            code = f"from controllers.router.workers import main; main({theirs.fileno()})"
            proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=[theirs.fileno()], env=env)
            theirs.close()
            conn = Connection(mine.detach())
            self.procs.append(proc)
            self.conns.append(conn)
            conn.send((self.host, port, *self.args))
            conn.send(table)
        for i, (proc, conn) in enumerate(zip(self.procs, self.conns, strict=True)):
            if not conn.poll(timeout) or conn.recv() != "ready":
                raise RuntimeError(f"router worker {i + 1} did not start (exit code {proc.poll()})")
        log.info("router workers=%d pids=%s on port %d", self.count + 1, [p.pid for p in self.procs], port)

    def publish(self, table: RouteTable) -> None:
        with self._lock:
            for conn in self.conns:
                try:
                    conn.send(table)
                except OSError as exc:  # a worker that died serves nothing; the others go on
                    log.error("router worker pipe: %s", exc)

    def stop(self) -> None:
        with self._lock:
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.send(None)
            for proc in self.procs:
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            for conn in self.conns:
                conn.close()
            self.procs, self.conns = [], []
