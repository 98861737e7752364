"""What the data path allows a client and a backend, and how it says no.

Every limit has a status a client can act on: a request line too long 414, headers too big
or too many 431, a body too big 413, headers or a body too slow 408, too many connections
503, a backend too slow 504, a malformed request 400, a transfer coding we do not speak 501.
Defaults follow nginx where it has one (`large_client_header_buffers`, `client_header_timeout`,
`proxy_read_timeout`, `keepalive_timeout`, `max_fails`/`fail_timeout`); the header budget is
64 KiB (nginx allows 4 x 8 KiB buffers, Go's servers 1 MiB).
"""

from __future__ import annotations

from dataclasses import dataclass

REASONS = {
    100: b"Continue",
    101: b"Switching Protocols",
    200: b"OK",
    301: b"Moved Permanently",
    302: b"Found",
    303: b"See Other",
    307: b"Temporary Redirect",
    308: b"Permanent Redirect",
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})


@dataclass(frozen=True)
class Limits:
    max_line: int = 8 << 10  # request line (method, target, version)
    max_header_bytes: int = 64 << 10  # the request line and every header together
    max_headers: int = 100
    max_body: int = 0  # bytes of one request body; 0: no limit (bodies stream, nothing is held)
    max_conns: int = 4096  # client connections at once
    header_timeout: float = 10.0  # from the first byte of a request (or the connection) to its last header
    body_timeout: float = 60.0  # longest pause between two reads of a request body
    response_timeout: float = 60.0  # longest wait for (the next bytes of) a backend's response
    client_idle_timeout: float = 75.0  # a keep-alive client connection with no request
    upstream_idle_timeout: float = 60.0  # a pooled backend connection nobody used
    connect_timeout: float = 5.0
    max_tries: int = 3  # instances one request may be tried on (see `Exchange.retryable`)
    max_fails: int = 1  # failures within fail_timeout that take an instance out...
    fail_timeout: float = 10.0  # ...for this long (passive health, nginx's semantics)


class Refused(Exception):
    """Raised inside a parser callback: the request breaks a limit and gets `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str, *, close: bool, extra: bytes = b"") -> bytes:
    """A complete HTTP/1.1 answer from the router itself: plain text that says why."""
    body = (message + "\n").encode()
    return (
        b"HTTP/1.1 %d %b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n%bConnection: %b"
        b"\r\n\r\n%b"
        % (
            status,
            REASONS.get(status, b"Error"),
            len(body),
            extra,
            b"close" if close else b"keep-alive",
            body,
        )
    )
