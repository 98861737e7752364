"""A real HTTP/1.1 backend for router and registrar tests: answers with its name, echoes
request bodies (including chunked ones), can stream a chunked response, and has a /health
endpoint the test turns unhealthy and healthy again. Paths for hostile cases: `/sleep/<s>`
answers late, `/close` closes without an answer, `/hop` answers with hop-by-hop headers,
`/http10` answers in HTTP/1.0, `/twice` sends two responses (the first of them is what `/once`
always sends), `/ws` with `Upgrade: echo`
switches to an upper-casing echo."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ONCE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Handler(BaseHTTPRequestHandler):
    """The backend's request handler; `backend` is set on a subclass made per Backend."""

    protocol_version = "HTTP/1.1"
    backend: Backend

    def setup(self) -> None:
        super().setup()
        self.backend.connections += 1
        self.backend.sockets.append(self.connection)

    def log_message(self, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _handle(self) -> None:
        body = self._body()
        self.backend.requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        if self.path == "/health":
            healthy = self.backend.healthy
            self._send(200 if healthy else self.backend.health_status, b"ok" if healthy else b"sick")
            return
        if self.path.startswith("/sleep/"):
            time.sleep(float(self.path.rsplit("/", 1)[1]))
        for suffix, special in SPECIAL.items():
            if self.path.endswith(suffix) and special(self):
                return
        self._send(200, self._echo(body))

    def _echo(self, body: bytes) -> bytes:
        return json.dumps(
            {
                "backend": self.backend.name,
                "path": self.path,
                "body": body.decode(),
                "xff": self.headers.get("X-Forwarded-For"),
                "xfproto": self.headers.get("X-Forwarded-Proto"),
                "xfhost": self.headers.get("X-Forwarded-Host"),
                "headers": dict(self.headers),
            }
        ).encode()

    # the hostile and special answers: each returns True when it answered
    def _close(self) -> bool:
        self.close_connection = True
        return True

    def _hop(self) -> bool:
        self.send_response(200)
        self.send_header("Connection", "X-Internal")
        self.send_header("X-Internal", "secret")
        self.send_header("Keep-Alive", "timeout=5")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        return True

    def _ws(self) -> bool:
        if self.headers.get("Upgrade") != "echo":
            return False
        self.send_response(101)
        self.send_header("Connection", "Upgrade")
        self.send_header("Upgrade", "echo")
        self.end_headers()
        self.wfile.flush()
        while data := self.rfile.read1(65536):  # the new protocol: an echo, upper-cased
            self.connection.sendall(data.upper())
        self.close_connection = True
        return True

    def _once(self) -> bool:  # the same bytes every time (no Date): the first half of /twice
        self.wfile.write(ONCE)
        return True

    def _twice(self) -> bool:  # a second, unasked-for response in the same write
        self.wfile.write(ONCE + b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsmuggl")
        return True

    def _http10(self) -> bool:
        self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        self.close_connection = True
        return True

    def _chunked(self) -> bool:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (b"one-", b"two-", self.backend.name.encode()):
            self.wfile.write(b"%x\r\n%b\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")
        return True

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _handle


SPECIAL: dict[str, Callable[[Handler], bool]] = {
    "/close": Handler._close,
    "/hop": Handler._hop,
    "/ws": Handler._ws,
    "/twice": Handler._twice,
    "/once": Handler._once,
    "/http10": Handler._http10,
    "/chunked": Handler._chunked,
}


class Backend:
    def __init__(
        self, name: str, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None, port: int = 0
    ) -> None:
        self.name = name
        self.healthy = True
        self.health_status = 500
        self.requests: list[dict[str, object]] = []
        self.connections = 0
        self.sockets: list[socket.socket] = []
        handler = type("BackendHandler", (Handler,), {"backend": self})
        self.server = ThreadingHTTPServer((host, port), handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.host = host
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Backend:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        for s in self.sockets:  # as when the process dies: its open connections end too
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
