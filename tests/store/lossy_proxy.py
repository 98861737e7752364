"""A TCP proxy in front of etcd that can lose one direction of traffic, to make a real
"the request was applied but its answer never came back" happen.

`lose("answers")` discards everything etcd sends from then on; `hold` seconds after the
first discarded byte the connection is cut (the client's call fails with UNAVAILABLE) and
the proxy passes traffic again, so the client reconnects. etcd received and applied the
request. `lose("requests")` does the same in the other direction: the request never
arrives.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Literal

from tests.ports import free_port

Direction = Literal["answers", "requests"]


class LossyProxy:
    def __init__(self, upstream_port: int, *, hold: float = 1.0) -> None:
        self.upstream_port = upstream_port
        self.hold = hold
        self.port = free_port()
        self.dropped = 0  # bytes discarded
        self.cuts = 0  # connections cut after losing traffic
        self._losing: Direction | None = None
        self._first_drop: float | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.1)
        self._spawn(self._accept)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lose(self, direction: Direction) -> None:
        with self._lock:
            self._losing, self._first_drop = direction, None

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.close()
        for t in self._threads:
            t.join(5)

    def _spawn(self, target: object, *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(t)
        t.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._sockets += [client, upstream]
            self._spawn(self._pump, client, upstream, "requests")
            self._spawn(self._pump, upstream, client, "answers")

    def _pump(self, src: socket.socket, dst: socket.socket, direction: Direction) -> None:
        src.settimeout(0.05)
        while not self._stopped.is_set():
            if self._cut_due(direction):
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)
                        s.close()
                return
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                return
            if self._drop(direction, len(data)):
                continue
            try:
                dst.sendall(data)
            except OSError:
                return

    def _drop(self, direction: Direction, n: int) -> bool:
        with self._lock:
            if self._losing != direction:
                return False
            self.dropped += n
            if self._first_drop is None:
                self._first_drop = time.monotonic()
            return True

    def _cut_due(self, direction: Direction) -> bool:
        with self._lock:
            if self._losing != direction or self._first_drop is None:
                return False
            if time.monotonic() - self._first_drop < self.hold:
                return False
            self._losing, self._first_drop = None, None
            self.cuts += 1
            return True
