"""One request and its response between a client connection and an upstream one: the
request body is re-framed as it arrives, the response is forwarded byte for byte while a
parser watches for its end."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httptools

from controllers.router.table import Target

if TYPE_CHECKING:
    from controllers.router.downstream import Downstream
    from controllers.router.pool import Upstream

log = logging.getLogger(__name__)

MAX_BUFFERED = 1 << 20  # request bytes held while the upstream connection is being opened


class Exchange:
    """One request and its response, between a client connection and an upstream one."""

    __slots__ = (
        "conn", "url", "headers", "method", "keep_alive", "chunked", "has_body", "buffer", "buffered",
        "request_done", "upstream", "head", "target", "discard", "started", "response_started", "response_done",
        "response_keep_alive", "resp_parser", "retried", "interim",
    )

    def __init__(self, conn: Downstream) -> None:
        self.conn = conn
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.method = b"GET"
        self.keep_alive = True
        self.chunked = False
        self.has_body = False
        self.buffer: list[bytes] = []
        self.buffered = 0
        self.request_done = False
        self.upstream: Upstream | None = None
        self.head = b""
        self.target: Target | None = None
        self.discard = False
        self.started = False
        self.response_started = False
        self.response_done = False
        self.response_keep_alive = False
        self.resp_parser: Any = None
        self.retried = False
        self.interim = False

    # request side ------------------------------------------------------------------------
    def frame(self, body: bytes) -> bytes:
        return b"%x\r\n%b\r\n" % (len(body), body) if self.chunked else body

    def add_body(self, body: bytes) -> None:
        if self.discard:
            return
        framed = self.frame(body)
        if self.upstream is not None:
            self.upstream.write(framed)
        else:
            self.buffer.append(framed)
            self.buffered += len(framed)
            if self.buffered > MAX_BUFFERED:
                self.conn.pause_reading()

    def end_request(self) -> None:
        self.request_done = True
        if self.discard:
            self.conn.finished(self, close_upstream=False)
            return
        if self.chunked:
            if self.upstream is not None:
                self.upstream.write(b"0\r\n\r\n")
            else:
                self.buffer.append(b"0\r\n\r\n")

    def attach(self, up: Upstream) -> None:
        self.upstream = up
        up.exchange = self
        self.resp_parser = up.parser
        data = self.head + b"".join(self.buffer) if self.buffer else self.head
        self.buffer = []
        if self.buffered > MAX_BUFFERED:
            self.conn.resume_reading()
        self.buffered = 0
        up.write(data)

    # response side (parser callbacks and upstream events) --------------------------------
    # (keep-alive is read inside the callbacks: llhttp forgets it once the message is over)
    def on_headers_complete(self) -> None:
        if 100 <= self.resp_parser.get_status_code() < 200:
            self.interim = True  # "100 Continue": forwarded; the real response follows
            return
        if self.method == b"HEAD":
            self.response_keep_alive = self.resp_parser.should_keep_alive()
            self.response_done = True

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        if not self.response_done:
            self.response_keep_alive = self.resp_parser.should_keep_alive()
        self.response_done = True

    def on_upstream_data(self, data: bytes) -> None:
        self.response_started = True
        self.conn.write(data)
        try:
            self.resp_parser.feed_data(data)
        except httptools.HttpParserError as exc:
            log.warning("router upstream=%s:%s bad response: %s", *self._where(), exc)
            self.conn.finished(self, close_upstream=True, close_client=True)
            return
        if self.response_done:
            reuse = self.request_done and self.response_keep_alive
            self.conn.finished(self, close_upstream=not reuse, close_client=not self.request_done)

    def on_upstream_lost(self, exc: Exception | None) -> None:
        if self.response_done:
            return
        if self.response_started:
            # a response framed by the end of the connection (or a backend that died midway):
            # the client must see the end too
            self.conn.finished(self, close_upstream=True, close_client=True)
            return
        if self.upstream is not None and self.upstream.reused and not self.retried and not self.has_body:
            # a pooled connection the backend had closed while idle: try once on a new one
            self.retried = True
            self.upstream = None
            self.conn.server.connect(self)
            return
        self.conn.error(self, 502, f"backend {self._where()[0]}:{self._where()[1]} closed the connection: {exc or 'EOF'}")

    def _where(self) -> tuple[str, int]:
        return (self.target.address, self.target.port) if self.target else ("?", 0)
