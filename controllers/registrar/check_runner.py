"""Runs health checks on a schedule: one scheduler thread and a small, bounded thread pool.

Each check runs at most once at a time: its next run is scheduled only when the previous
one finished (`interval` after it), so a slow backend cannot pile up probes. Results go
through the pure state machine; `on_change` (the etcd write) is called only when the
reported status changes, so a steady check costs no writes at all.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from controllers.registrar import check_restart
from controllers.registrar.check_state import CheckCounter, advance, initial
from reconciler.model.job import CheckRestart
from reconciler.model.services import CheckState

log = logging.getLogger(__name__)


class Probe(Protocol):
    def run(self) -> tuple[CheckState, str]: ...


@dataclass(frozen=True)
class CheckSpec:
    probe: Probe
    interval: float
    success_before_passing: int = 0
    failures_before_critical: int = 0
    failures_before_warning: int = 0
    initial_status: str = ""
    restart: CheckRestart | None = None
    on_change: Callable[[CheckState, str], None] = field(default=lambda status, output: None, compare=False)
    on_restart: Callable[[], None] = field(default=lambda: None, compare=False)


@dataclass
class _Entry:
    spec: CheckSpec
    state: CheckCounter
    generation: int
    watch: check_restart.RestartWatch = field(default_factory=check_restart.RestartWatch)


class CheckRunner:
    def __init__(self, *, workers: int = 8, name: str = "checks") -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._cond = threading.Condition()
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, str, int]] = []
        self._seq = itertools.count()
        self._gen = itertools.count(1)
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=f"{name}-scheduler", daemon=True)
        self._thread.start()

    def set(self, key: str, spec: CheckSpec) -> None:
        """Add a check, or replace it if its definition changed (an unchanged one keeps its
        state and schedule). A new check reports its initial status, then probes at once."""
        with self._cond:
            if self._stopped:
                return
            cur = self._entries.get(key)
            if cur is not None and cur.spec == spec:
                return
            gen = next(self._gen)
            entry = _Entry(spec=spec, state=initial(spec.initial_status), generation=gen)
            if spec.restart is not None:
                entry.watch = check_restart.watch_start(spec.restart, time.monotonic())
            self._entries[key] = entry
        # reported before the first probe is scheduled, so it can never overwrite a result
        self._report(key, spec, entry.state.status, "")
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic(), next(self._seq), key, gen))
            self._cond.notify()

    def remove(self, key: str) -> None:
        with self._cond:
            self._entries.pop(key, None)

    def keys(self) -> list[str]:
        with self._cond:
            return list(self._entries)

    def reannounce(self) -> None:
        """Report every check's current status again (its key was lost with a lease)."""
        with self._cond:
            current = [(k, e.spec, e.state.status) for k, e in self._entries.items()]
        for key, spec, status in current:
            self._report(key, spec, status, "")

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._entries.clear()
            self._cond.notify()
        self._thread.join(5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    # internals ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
                if self._stopped:
                    return
                _, _, key, gen = heapq.heappop(self._heap)
                entry = self._entries.get(key)
                if entry is None or entry.generation != gen:
                    continue  # removed or replaced since it was scheduled
                spec = entry.spec
            try:
                self._pool.submit(self._run, key, gen, spec)
            except RuntimeError:
                return  # pool shut down

    def _run(self, key: str, gen: int, spec: CheckSpec) -> None:
        try:
            result, output = spec.probe.run()
        except Exception as exc:  # a broken probe is a critical check, not a dead runner
            result, output = CheckState.CRITICAL, f"probe error: {type(exc).__name__}: {exc}"
        with self._cond:
            entry = self._entries.get(key)
            if entry is None or entry.generation != gen or self._stopped:
                return
            old = entry.state
            entry.state = advance(
                old,
                result,
                spec.success_before_passing,
                spec.failures_before_critical,
                spec.failures_before_warning,
            )
            now = time.monotonic()
            heapq.heappush(self._heap, (now + spec.interval, next(self._seq), key, gen))
            self._cond.notify()
            changed = entry.state.status != old.status
            status = entry.state.status
            restart = False
            if spec.restart is not None:
                entry.watch, restart = check_restart.apply(
                    spec.restart, spec.interval, entry.watch, status, now
                )
        if changed:
            self._report(key, spec, status, output)
        if restart:
            try:
                spec.on_restart()
            except Exception:  # the next unhealthy spell asks again
                log.exception("check=%s restart request failed", key)

    def _report(self, key: str, spec: CheckSpec, status: CheckState, output: str) -> None:
        try:
            spec.on_change(status, output)
        except Exception:  # a failed write is logged; the next change writes again
            log.exception("check=%s status write failed", key)
