"""Warm executors: a few executor processes started ahead of need, each waiting for the
path of a launch spec on its stdin.

Why: starting a Python process costs ~30 ms of wall time here (mostly not CPU), and it sits
on every task start. A warm executor has paid that already, so a launch is one write to a
pipe. Taking one refills the pool in the background. A standby whose agent dies reads EOF
and exits, so standbys never outlive the agent; once given a spec, the executor is in its
own session and outlives the agent as designed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

EXECUTOR = str(Path(__file__).with_name("executor.py"))


@dataclass
class Standby:
    popen: subprocess.Popen[bytes]
    ready_r: int  # our end of the pipe the executor reports on
    ready_w: int  # the executor's fd number for it (passed through, same number)

    def give(self, spec_path: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(spec_path.encode() + b"\n")
        self.popen.stdin.close()


def spawn() -> Standby:
    r, w = os.pipe()
    try:
        popen = subprocess.Popen(
            [sys.executable, "-S", "-E", EXECUTOR, "--standby"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(w,),
            start_new_session=True,
            close_fds=True,
        )
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    return Standby(popen, r, w)


class ExecutorPool:
    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._idle: list[Standby] = []
        self._lock = threading.Lock()
        self._refilling = False
        self._closed = False

    def take(self) -> Standby:
        with self._lock:
            sb = self._idle.pop() if self._idle else None
        self._refill()
        return sb if sb is not None else spawn()

    def _refill(self) -> None:
        with self._lock:
            if self._refilling or self._closed or self.size <= 0:
                return
            self._refilling = True
        threading.Thread(target=self._fill, name="executor-pool", daemon=True).start()

    def _fill(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed or len(self._idle) >= self.size:
                        return
                try:
                    sb = spawn()
                except OSError as exc:
                    log.warning("executor pool: cannot start a standby executor: %s", exc)
                    return
                with self._lock:
                    if self._closed:
                        _discard(sb)
                        return
                    self._idle.append(sb)
        finally:
            with self._lock:
                self._refilling = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for sb in idle:
            _discard(sb)


def _discard(sb: Standby) -> None:
    with contextlib.suppress(OSError):
        if sb.popen.stdin is not None:
            sb.popen.stdin.close()
    with contextlib.suppress(OSError):
        os.close(sb.ready_r)
    with contextlib.suppress(subprocess.TimeoutExpired):
        sb.popen.wait(5)


_default: ExecutorPool | None = None
_default_lock = threading.Lock()


def default_pool() -> ExecutorPool:
    """One pool per process (several agents in one test process share it)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = ExecutorPool()
        return _default
