"""The router's admin endpoint (Fabio has a UI on :9998): `GET /routes` lists the live table
as JSON, `GET /health` answers ok. Separate port, so no route can shadow it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httptools

from controllers.router.table import RouteTable, describe


class AdminProtocol(asyncio.Protocol):
    def __init__(self, table: Callable[[], RouteTable]) -> None:
        self.table = table
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        path = self.url.partition(b"?")[0]
        if path in (b"/routes", b"/api/routes"):
            status, body = 200, json.dumps(describe(self.table()), indent=2).encode() + b"\n"
        elif path == b"/health":
            status, body = 200, b"OK\n"
        else:
            status, body = 404, b'{"error": "not found: try /routes"}\n'
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 %d %b\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b"
            % (status, b"OK" if status == 200 else b"Not Found", len(body), body)
        )
        if not self.parser.should_keep_alive():
            self.transport.close()
