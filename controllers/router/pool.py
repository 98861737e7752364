"""Pooled connections to backends: one `Upstream` protocol per connection, carrying one
exchange at a time, and a `Pool` of idle keep-alive ones per backend."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import TYPE_CHECKING

import httptools

if TYPE_CHECKING:
    from controllers.router.exchange import Exchange

MAX_IDLE_PER_BACKEND = 256


class Pool:
    """Idle keep-alive connections to one backend (most recently used first)."""

    def __init__(self, address: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.address = address
        self.port = port
        self.tls = tls
        self.idle: list[Upstream] = []

    def acquire(self) -> Upstream | None:
        while self.idle:
            up = self.idle.pop()
            if not up.closed and up.transport is not None and not up.transport.is_closing():
                return up
        return None

    def release(self, up: Upstream) -> None:
        # (FastPlan.repeated_fast does the same inline)
        if up.closed or len(self.idle) >= MAX_IDLE_PER_BACKEND:
            up.close()
        else:
            up.idle_since = time.monotonic()
            self.idle.append(up)

    def discard(self, up: Upstream) -> None:
        if up in self.idle:
            self.idle.remove(up)

    def close(self) -> None:
        for up in self.idle:
            up.close()
        self.idle.clear()


class Watcher:
    """Callbacks of the fast-path parser: where a message begins and where its head and it end."""

    def __init__(self, up: Upstream) -> None:
        self.up = up

    def on_message_begin(self) -> None:
        if self.up.exchange is not None and self.up.exchange.response_done:
            self.up.exchange.overrun = True  # a second response to one request

    def on_headers_complete(self) -> None:
        if self.up.exchange is not None:
            self.up.exchange.on_watched_head()

    def on_message_complete(self) -> None:
        if self.up.exchange is not None:
            self.up.exchange.on_message_complete()


class Upstream(asyncio.Protocol):
    """One connection to a backend; carries one exchange at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        # the last whole response forwarded as it came, and what its parse found (Exchange.memo)
        self.last_raw = b""
        self.last_method = b""
        self.last_status = 0
        self.last_keep_alive = False
        # one response parser per connection, reused message after message (cheaper than
        # one per exchange); replaced after a HEAD response, whose body length it cannot know
        self.parser = httptools.HttpResponseParser(self)
        # the fast path's parser: only finds where a response ends (see Exchange.forwardable)
        self.watcher = httptools.HttpResponseParser(Watcher(self))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def on_message_begin(self) -> None:
        if self.exchange is not None and self.exchange.response_done:
            self.exchange.overrun = True  # a second response to one request

    def on_status(self, reason: bytes) -> None:
        if self.exchange is not None:
            self.exchange.on_status(reason)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.exchange is not None:
            self.exchange.on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.exchange is not None:
            self.exchange.on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.exchange is not None:
            self.exchange.on_body(body)

    def on_message_complete(self) -> None:
        if self.exchange is not None:
            self.exchange.on_message_complete()

    def data_received(self, data: bytes) -> None:
        ex = self.exchange
        if ex is None:
            self.close()  # a backend talking out of turn cannot be trusted with the next request
            return
        plan = ex.plan
        # a repeated request's first read of its response, being this connection's last response
        # again (Exchange.same_kind holds for it: an HTTP/1.1 keep-alive client, no upgrade)
        if (
            plan is not None
            and data == self.last_raw
            and not ex.response_started
            and ex.method == self.last_method
        ):
            plan.repeated_fast(ex, self, data)
            return
        ex.on_upstream_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.discard(self)
        ex, self.exchange = self.exchange, None
        if ex is not None:
            ex.on_upstream_lost(exc)

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.conn.pause_reading()

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.conn.resume_reading()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
