"""Process facts from /proc: start times (to tell a live task from a recycled pid), liveness,
and waiting on a process that is not our child (pidfd_open, polling as a fallback)."""

from __future__ import annotations

import os
import select
import signal
import time


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), or None if the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    try:
        fields = raw[raw.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            return None  # a zombie is dead for our purposes
        return int(fields[19])
    except (ValueError, IndexError):
        return None


def is_same_process(pid: int, start: int) -> bool:
    """True if `pid` runs and is the process that started at `start` (not a recycled pid)."""
    if pid <= 0:
        return False
    st = start_time(pid)
    return st is not None and (start == 0 or st == start)


def wait_gone(pid: int, start: int, timeout: float | None = None) -> bool:
    """Block until the process is gone (True) or `timeout` passes (False)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    fd = -1
    try:
        fd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        fd = -1
    try:
        if fd >= 0 and is_same_process(pid, start):
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            while True:
                ms = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
                if poller.poll(ms):
                    return True
                if not is_same_process(pid, start):
                    return True
                if deadline is not None and time.monotonic() >= deadline:
                    return False
        while is_same_process(pid, start):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True
    finally:
        if fd >= 0:
            os.close(fd)


def kill_group(pgid: int, sig: int) -> bool:
    """Signal a whole process group; False if it no longer exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def parse_signal(name: str) -> int:
    """'SIGINT', 'INT', 'sigterm' or a number -> the signal number."""
    s = name.strip().upper()
    if not s:
        return int(signal.SIGINT)
    if s.isdigit():
        return int(s)
    if not s.startswith("SIG"):
        s = "SIG" + s
    try:
        return int(signal.Signals[s])
    except KeyError:
        raise ValueError(f"unknown signal {name!r}") from None
