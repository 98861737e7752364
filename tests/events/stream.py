"""A test client of `GET /v1/event/stream`: reads the ndjson frames on a thread and lets the
test wait (with a deadline) for the frames it expects."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

from tests.waiting import wait_for

Frame = dict[str, Any]


class EventReader:
    def __init__(self, address: str, **params: Any) -> None:
        url = urllib.parse.urlsplit(address)
        self.conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
        query = urllib.parse.urlencode(params, doseq=True)
        self.conn.request("GET", "/v1/event/stream" + (f"?{query}" if query else ""))
        self.sock = self.conn.sock  # kept: the connection may hand it to the response
        self.resp = self.conn.getresponse()
        self.frames: list[Frame] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, name="event-reader", daemon=True)
        if self.resp.status == 200:
            self._thread.start()

    def _read(self) -> None:
        try:
            while line := self.resp.readline():
                with self._lock:
                    self.frames.append(json.loads(line))
        except Exception:  # closed by the test: http.client fails in several ways mid-read
            return

    def snapshot(self) -> list[Frame]:
        with self._lock:
            return list(self.frames)

    def events(self) -> list[dict[str, Any]]:
        return [e for f in self.snapshot() for e in f.get("Events", [])]

    def wait_event(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 15.0, what: str = ""
    ) -> Any:
        return wait_for(
            lambda: next((e for e in self.events() if pred(e)), None),
            timeout,
            message=lambda: (
                f"event {what} among {[(e['Topic'], e['Type'], e['Key']) for e in self.events()]}"
            ),
        )

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):  # wakes the reader blocked in recv
                self.sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()
        if self._thread.is_alive():
            self._thread.join(10)

    def __enter__(self) -> EventReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
