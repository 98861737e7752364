"""A steady request loop through the router, counting every failed request.

What a user measures from outside during a change: requests at a fixed rate (default 100/s,
the issue asks for at least 50), each on a fresh connection so that a request is never
saved by a connection that happened to be opened to a healthy instance earlier. A request
fails on a non-2xx status or any connection error; failures keep their reason so a
failing test says what the client saw.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType

from tests.waiting import wait_for


@dataclass
class Tally:
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    bodies: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return self.ok + len(self.failed)


class Traffic:
    """`with Traffic(port, "/todo") as t: ...` then `t.tally`; the loop runs in a thread."""

    def __init__(
        self,
        port: int,
        path: str,
        *,
        rate: float = 100.0,
        host: str = "127.0.0.1",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.port, self.path, self.rate, self.host = port, path, rate, host
        self.headers = headers or {}
        self.tally = Tally()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"traffic:{path}", daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> Tally:
        self._stop.set()
        self._thread.join(30)
        return self.tally

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return self.tally.ok, len(self.tally.failed)

    def _one(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", self.path, headers=self.headers)
            resp = conn.getresponse()
            body = resp.read().decode(errors="replace")
            with self._lock:
                if 200 <= resp.status < 300:
                    self.tally.ok += 1
                    self.tally.bodies[body.strip()[:40]] += 1
                else:
                    self.tally.failed.append(f"{time.time():.3f} HTTP {resp.status}: {body[:120]!r}")
        except (OSError, http.client.HTTPException) as exc:
            with self._lock:
                self.tally.failed.append(f"{time.time():.3f} {type(exc).__name__}: {exc}")
        finally:
            conn.close()

    def _run(self) -> None:
        period = 1.0 / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._one()
            next_at += period
            # a fixed schedule, not a sleep to synchronise: the loop's own pacing
            self._stop.wait(max(0.0, next_at - time.monotonic()))


def steady(traffic: Traffic, requests: int = 50) -> None:
    """Wait until the loop has served `requests` more requests (the traffic really flows)."""
    start = traffic.snapshot()[0]
    wait_for(lambda: traffic.snapshot()[0] >= start + requests, 30, message=f"{requests} requests served")


def assert_no_failures(tally: Tally, seconds: float, rate: float = 100.0) -> None:
    """No request failed, and the loop kept (half) its rate for `seconds`: a loop starved by
    a loaded machine would prove nothing."""
    assert tally.failed == [], f"{len(tally.failed)} of {tally.total} requests failed: {tally.failed[:10]}"
    assert tally.total >= 0.5 * rate * seconds, (
        f"the loop ran at {tally.total / seconds:.0f}/s, not {rate:.0f}/s"
    )
