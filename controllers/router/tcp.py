"""TCP routes (`urlprefix-:5432 proto=tcp`, as Fabio): a listener per port; each client
connection is joined to a connection to one healthy instance of the route, and bytes pass
both ways untouched. The instance is picked like an HTTP one (strategy, passive health), and
a connection refused is tried on another instance: nothing was sent, so it is always safe.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controllers.router.server import ProxyServer
    from controllers.router.table import Route, Target


class TcpClient(asyncio.Protocol):
    """A client of a TCP route; what it sends before its instance's connection is open is held."""

    def __init__(self, server: ProxyServer, port: int) -> None:
        self.server = server
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.upstream: TcpUpstream | None = None
        self.closed = False
        self.early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        route = self.server.table().tcp().get(self.port)
        if route is None or not route.targets or not route.admits(peer[0] if peer else ""):
            self.close()
            return
        asyncio.get_running_loop().create_task(self._connect(route, []))

    async def _connect(self, route: Route, tried: list[Target]) -> None:
        loop = asyncio.get_running_loop()
        while not self.closed:
            target = self.server.pick(route, tried)
            if target is None or len(tried) >= self.server.limits.max_tries:
                self.close()
                return
            tried.append(target)
            try:
                _, up = await asyncio.wait_for(
                    loop.create_connection(lambda: TcpUpstream(self), target.address, target.port),
                    timeout=self.server.limits.connect_timeout,
                )
            except (TimeoutError, OSError):
                self.server.failed(target)
                continue
            self.server.succeeded(target)
            if self.closed:
                up.close()
                return
            self.upstream = up
            if self.early:
                up.write(b"".join(self.early))
                self.early = []
            return

    def data_received(self, data: bytes) -> None:
        if self.upstream is not None:
            self.upstream.write(data)
        else:
            self.early.append(data)
            if sum(map(len, self.early)) > 1 << 20:
                self.close()  # a megabyte before the instance's connection is even open

    def eof_received(self) -> bool:
        if (
            self.upstream is not None
            and self.upstream.transport is not None
            and self.upstream.transport.can_write_eof()
        ):
            self.upstream.transport.write_eof()
            return True  # half-closed: the instance may still answer
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.upstream is not None:
            self.upstream.close()

    def pause_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.resume_reading()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()


class TcpUpstream(asyncio.Protocol):
    """The instance's side of a TCP route connection."""

    def __init__(self, client: TcpClient) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.client.write(data)

    def eof_received(self) -> bool:
        if (
            self.client.transport is not None
            and not self.client.closed
            and self.client.transport.can_write_eof()
        ):
            self.client.transport.write_eof()
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.close()

    def pause_writing(self) -> None:
        if self.client.transport is not None:
            self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.client.transport is not None:
            self.client.transport.resume_reading()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
