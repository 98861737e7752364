"""One request and its response, between a client connection and an upstream one.

The request is framed by httptools before any of it is forwarded: its framing (chunked or
Content-Length) is known when its headers end, so its body is re-framed chunk by chunk as it
arrives, whether the request runs now or waits behind a pipelined one; trailers are dropped.
The response is re-framed the same way: its head is rebuilt (an HTTP/1.1 status line, the
hop-by-hop headers and those named in `Connection` removed: `headers.forwarded_lines`), its
body forwarded as the response parser delivers it. Everything one read of the backend
produced goes out in one write. The common case takes a fast path (`forwardable`): a head
that would be rebuilt unchanged is forwarded as it came, and a parser without header
callbacks only finds where the response ends (and refuses a second response to one
request). A repeated request's exchange is a `repeated.Repeated`, its response handled by
`repeated.FastPlan`.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

import httptools

from controllers.router.headers import forwarded_lines
from controllers.router.limits import IDEMPOTENT, REASONS
from controllers.router.table import Route, Target

if TYPE_CHECKING:
    from controllers.router.downstream import Downstream
    from controllers.router.pool import Upstream
    from controllers.router.repeated import FastPlan

log = logging.getLogger(__name__)

MAX_BUFFERED = 1 << 20  # request bytes held while the upstream connection is being opened
MEMO_MAX = 4096  # longest response an upstream connection keeps for `Exchange.repeated`

# a response head naming none of these, framed by Content-Length (or bodiless), needs no change;
# `Connection: keep-alive` (nginx's, for one) says what the client is told anyway. One compiled
# search instead of a lowered copy and a scan per name: this runs on every response.
REFRAME = re.compile(
    rb"\n(?:connection:(?! keep-alive\r)|keep-alive:|transfer-encoding:|trailer:|upgrade:|proxy-|te:)",
    re.IGNORECASE,
)
CONTENT_LENGTH = re.compile(rb"\ncontent-length:", re.IGNORECASE)


class Exchange:
    """One request and its response; retried on another instance while that is safe."""

    # defaults on the class: an exchange is made per request, and only what differs from them
    # (and what is mutable) is set on it
    url: bytes = b""
    host: bytes = b""
    xff: bytes = b""
    head_bytes: int = 0
    method: bytes = b"GET"
    keep_alive: bool = True
    client_11: bool = True
    chunked: bool = False
    has_body: bool = False
    body_bytes: int = 0
    buffered: int = 0
    request_done: bool = False
    headers_done: bool = False
    upstream: Upstream | None = None
    head: bytes = b""
    route: Route | None = None
    target: Target | None = None
    failure: str = ""  # why the last instance tried did not answer
    upgrade: bool = False  # the client asked to switch protocols (Connection: upgrade + Upgrade)
    tunneled: bool = False  # the backend switched: bytes now pass both ways untouched
    raw: bool = False  # this response is forwarded as it came (the fast path)
    overrun: bool = False  # the backend sent more than this one response
    discard: bool = False
    started: bool = False
    sent: bool = False  # a byte of this request reached a backend (so it may have acted on it)
    last_up: float = 0.0
    response_started: bool = False
    response_done: bool = False
    response_keep_alive: bool = False
    resp_parser: Any = None
    interim: bool = False
    resp_reason: bytes = b""
    resp_chunked: bool = False
    resp_close: bool = False
    resp_head_done: bool = False
    head_out: bool = False  # the final response's head went to the client
    framed: bool = False  # the response's end can be told without closing the connection
    status: int = 0  # of a response forwarded as it came
    plan: FastPlan | None = None  # a repeated request's (repeated.repeat)
    # made by `begin_response` when the response is parsed (not for a repeated response)
    resp_headers: list[tuple[bytes, bytes]]
    out: list[bytes]

    def __init__(self, conn: Downstream) -> None:
        self.conn = conn
        self.born = time.monotonic()  # the router's latency histograms (stats.RouterStats)
        self.headers: list[tuple[bytes, bytes]] = []
        self.fwd: list[bytes] = []  # the request's header lines as every backend sees them
        self.buffer: list[bytes] = []
        self.tried: list[Target] = []

    # request side ------------------------------------------------------------------------
    def add_body(self, body: bytes) -> None:
        if self.discard:
            return
        framed = b"%x\r\n%b\r\n" % (len(body), body) if self.chunked else body
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

    def retryable(self) -> bool:
        """Whether trying another instance cannot apply this request twice: nothing of it
        was sent yet (all of its body is still held), or it is an idempotent request without
        a body (nginx's and Go's rule: never replay what a backend may have acted on)."""
        if len(self.tried) >= self.conn.server.limits.max_tries or self.response_started:
            return False
        return not self.sent or (self.method in IDEMPOTENT and not self.has_body)

    def attach(self, up: Upstream) -> None:
        self.upstream = up
        up.exchange = self
        self.resp_parser = up.parser
        self.sent = True
        self.last_up = time.monotonic()
        head = self.head
        if self.route is not None and self.route.host_header == "dst" and self.target is not None:
            head = head[:-2] + b"Host: %b:%d\r\n\r\n" % (self.target.address.encode(), self.target.port)
        data = head + b"".join(self.buffer) if self.buffer else head
        self.buffer = []
        if self.buffered > MAX_BUFFERED:
            self.conn.resume_reading()
        self.buffered = 0
        up.write(data)

    # response side (parser callbacks through the Upstream, and upstream events) ---------
    # (keep-alive is read inside the callbacks: llhttp forgets it once the message is over)
    def on_status(self, reason: bytes) -> None:
        self.resp_reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.resp_head_done:  # afterwards they are trailers, which are dropped
            self.resp_headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.resp_parser
        status = parser.get_status_code()
        headers, self.resp_headers = self.resp_headers, []
        reason, self.resp_reason = self.resp_reason or REASONS.get(status, b""), b""
        if status < 200:
            self.interim_head(status, reason, headers)
            return
        self.resp_head_done = True
        self.conn.server.stats.response(self.route, status, self.born)
        self.conn.server.succeeded(self.target)
        no_body = self.method == b"HEAD" or status in (204, 304)
        lines = [b"HTTP/1.1 %d %b" % (status, reason), *forwarded_lines(self, headers, no_body)]
        self.resp_close = not self.framed or not self.keep_alive
        if self.resp_close:
            lines.append(b"Connection: close")
        elif not self.client_11:
            lines.append(b"Connection: keep-alive")
        lines.append(b"\r\n")
        self.out.append(b"\r\n".join(lines))
        if no_body:
            self.response_keep_alive = parser.should_keep_alive()
            self.response_done = True

    def interim_head(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        """A 1xx response: `101` to an upgrade switches the connection to a tunnel; others
        ("100 Continue") are forwarded, and the real response follows."""
        if status == 101 and self.upgrade:
            lines = [b"HTTP/1.1 101 %b" % reason]
            lines += [name + b": " + value for name, value in headers]
            self.out.append(b"\r\n".join(lines) + b"\r\n\r\n")
            self.tunneled = self.response_done = self.response_started = True
            return
        if status == 101:  # a client that did not ask to switch must not be told it has (a 502)
            raise httptools.HttpParserError("101 Switching Protocols to a request without Upgrade")
        if status < 100:  # no status: what follows it would reach the client as its own response
            raise httptools.HttpParserError(f"status {status} is not an HTTP status")
        self.interim = True
        self.out.append(b"HTTP/1.1 %d %b\r\n\r\n" % (status, reason))

    def forwardable(self, data: bytes) -> bool:
        """The fast path: a whole HTTP/1.1 head in the first read, with no hop-by-hop header and
        framed by Content-Length (or without a body), for an HTTP/1.1 keep-alive client, is
        forwarded byte for byte, as it would be rebuilt identically; only its end is watched."""
        if not self.client_11 or not self.keep_alive or self.upgrade or not data.startswith(b"HTTP/1.1 "):
            return False
        end = data.find(b"\r\n\r\n")
        if end < 0 or data[9:10] == b"1" or REFRAME.search(data, 0, end + 2) is not None:
            return False
        return (
            CONTENT_LENGTH.search(data, 0, end + 2) is not None
            or self.method == b"HEAD"
            or data[9:12] in (b"204", b"304")
        )

    def on_watched_head(self) -> None:
        self.conn.server.succeeded(self.target)
        status = self.status = self.resp_parser.get_status_code()
        self.conn.server.stats.response(self.route, status, self.born)
        if self.method == b"HEAD" or status in (204, 304):
            self.response_keep_alive = self.resp_parser.should_keep_alive()
            self.response_done = True

    def on_body(self, body: bytes) -> None:
        if self.resp_chunked:
            self.out.append(b"%x\r\n%b\r\n" % (len(body), body))
        else:
            self.out.append(body)

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        if not self.response_done:
            self.response_keep_alive = self.resp_parser.should_keep_alive()
            if self.resp_chunked:
                self.out.append(b"0\r\n\r\n")  # trailers, if any, stay behind
        self.response_done = True

    def on_upstream_data(self, data: bytes) -> None:
        if self.tunneled:
            self.conn.write(data)
            return
        first = not self.response_started
        if first and self.begin_response(data):
            return
        self.last_up = time.monotonic()
        try:
            self.resp_parser.feed_data(data)
            if self.overrun:
                self.out = []
                raise httptools.HttpParserError("more than one response to one request")
            if self.raw:
                self.conn.write(data)  # parsed first: only bytes of this response go out
                self.head_out = True
        except httptools.HttpParserUpgrade as exc:
            self.switched(data, exc)
            return
        except httptools.HttpParserError as exc:
            self.flush()
            log.warning("router upstream=%s:%s bad response: %s", *self._where(), exc)
            self.conn.server.failed(self.target)
            if not self.head_out:  # before the response began: a 502, and the connection ends
                self.keep_alive = False
                self.conn.error(
                    self, 502, f"backend {self._where()[0]}:{self._where()[1]} sent a bad response"
                )
                return
            self.conn.finished(self, close_upstream=True, close_client=True)
            return
        self.flush()
        if self.response_done:
            if first and self.raw:
                self.memo(data)
            reuse = self.request_done and self.response_keep_alive
            self.conn.finished(
                self, close_upstream=not reuse, close_client=self.resp_close or not self.request_done
            )

    def begin_response(self, data: bytes) -> bool:
        """The first read of the response: choose the fast path (`forwardable`) or the parser
        that rebuilds the head; True when it was the connection's last response again
        (`repeated`), which is then done."""
        up = self.upstream
        if up is not None and data == up.last_raw and self.same_kind(up):
            self.repeated(up, data)
            return True
        self.response_started = True
        self.resp_headers, self.out = [], []
        if self.forwardable(data) and up is not None:
            self.raw = True
            self.resp_parser = up.watcher
        return False

    def same_kind(self, up: Upstream) -> bool:
        """Whether this exchange would take the fast path for the response `up` memoised."""
        return self.method == up.last_method and self.client_11 and self.keep_alive and not self.upgrade

    def memo(self, data: bytes) -> None:
        """A whole response forwarded as it came, in one read: its connection keeps its bytes
        (a backend repeats itself within the second of its `Date`), for `repeated`."""
        up = self.upstream
        if (
            up is not None
            and len(data) <= MEMO_MAX
            and self.method != b"HEAD"
            and self.status not in (204, 304)
        ):
            up.last_raw, up.last_method = data, self.method
            up.last_status, up.last_keep_alive = self.status, self.response_keep_alive

    def repeated(self, up: Upstream, data: bytes) -> None:
        """The first read of a response is the very response this connection forwarded last,
        to a request of the same kind: the fast path's parser would find the same single
        message in the same bytes (a message's end resets it), so its findings are reused."""
        self.response_started = self.raw = self.response_done = True
        self.status = up.last_status
        self.response_keep_alive = up.last_keep_alive
        server = self.conn.server
        server.succeeded(self.target)
        server.stats.response(self.route, self.status, self.born)
        self.conn.write(data)
        reuse = self.request_done and self.response_keep_alive
        self.conn.finished(self, close_upstream=not reuse, close_client=not self.request_done)

    def switched(self, data: bytes, exc: httptools.HttpParserUpgrade) -> None:
        """The response parser stopped at a `101`: what follows it is the new protocol's."""
        self.flush()
        if not self.tunneled:
            self.conn.finished(self, close_upstream=True, close_client=True)
            return
        self.request_done = True
        offset = exc.args[0] if exc.args and isinstance(exc.args[0], int) else len(data)
        if data[offset:]:
            self.conn.write(data[offset:])

    def flush(self) -> None:
        if self.out:
            self.conn.write(b"".join(self.out) if len(self.out) > 1 else self.out[0])
            self.out = []
            self.head_out = self.head_out or self.resp_head_done

    def tunnel_from_client(self, data: bytes) -> None:
        """Bytes after an upgrade request: to the backend (held while its connection opens)."""
        if self.upstream is not None:
            self.upstream.write(data)
        else:
            self.buffer.append(data)  # sent with the head, or after it by attach

    def on_upstream_lost(self, exc: Exception | None) -> None:
        if self.tunneled:
            self.conn.close()
            return
        if self.response_done:
            return
        if self.head_out:
            # a response framed by the end of the connection (or a backend that died midway):
            # the client must see the end too
            self.conn.finished(self, close_upstream=True, close_client=True)
            return
        if self.response_started:  # only a 1xx (or part of a head) came: no retry, a 502
            self.failure = f"backend {self._where()[0]}:{self._where()[1]} closed before its response"
            self.keep_alive = False
            self.conn.error(self, 502, self.failure)
            return
        reused = self.upstream is not None and self.upstream.reused
        self.upstream = None
        if not reused:
            self.conn.server.failed(self.target)
        self.failure = f"backend {self._where()[0]}:{self._where()[1]} closed the connection: {exc or 'EOF'}"
        if self.retryable():
            self.conn.server.retry(self, same_target_ok=reused)
            return
        self.conn.error(self, 502, self.failure)

    def _where(self) -> tuple[str, int]:
        return (self.target.address, self.target.port) if self.target else ("?", 0)
