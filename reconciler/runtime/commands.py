"""Run a short command a job asked for (a script check, `alloc exec`) without letting it take
the agent down: bounded time, bounded memory, and no process left behind.

`subprocess.run(capture_output=True, timeout=...)` buffers all output however large, and on
timeout kills only the direct child, so `sh -c "yes"` fills memory and `sh -c "sleep 1d &"`
outlives the call (review H4, H5, M12). Here the command runs in a session (process group)
of its own; output past `max_output` bytes per stream is read and thrown away (so the
command never blocks on a full pipe); on timeout, and again once it exits, its whole
process group is killed, so background children go with it. A child that calls `setsid`
itself leaves the group: only a cgroup catches that (the task drivers' job, not this one).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DRAIN_AFTER_EXIT = 1.0  # seconds to read what is left in the pipes once the group is gone


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    truncated: bool = False  # output past `max_output` was dropped


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(pgid, signal.SIGKILL)


class _Capture:
    """Both pipes of a process, read as they fill, each kept up to `limit` bytes."""

    def __init__(self, proc: subprocess.Popen[bytes], limit: int) -> None:
        self.limit = limit
        self.sel = selectors.DefaultSelector()
        self.out: dict[int, bytearray] = {}
        self.truncated = False
        for stream in (proc.stdout, proc.stderr):
            assert stream is not None
            self.sel.register(stream, selectors.EVENT_READ)
            self.out[stream.fileno()] = bytearray()

    def open(self) -> bool:
        return bool(self.sel.get_map())

    def read(self, wait: float) -> None:
        for key, _ in self.sel.select(max(wait, 0.0)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                self.sel.unregister(key.fileobj)
                continue
            buf = self.out[key.fd]
            room = self.limit - len(buf)
            if len(chunk) > room:
                self.truncated = True
            buf.extend(chunk[: max(room, 0)])

    def close(self) -> None:
        self.sel.close()


def run_command(
    cmd: Sequence[str],
    *,
    cwd: str | Path | None,
    env: Mapping[str, str],
    timeout: float,
    max_output: int,
) -> CommandResult:
    """Run `cmd` to its end or `timeout` seconds, keeping at most `max_output` bytes of each
    of stdout and stderr. Raises OSError (FileNotFoundError, PermissionError) if it cannot
    start."""
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    fds = (proc.stdout.fileno(), proc.stderr.fileno())
    capture = _Capture(proc, max_output)
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while capture.open() and proc.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            capture.read(min(left, 0.1))
        _kill_group(proc.pid)  # on timeout the command; else whatever it left running
        proc.wait()
        drain = time.monotonic() + DRAIN_AFTER_EXIT
        while capture.open() and time.monotonic() < drain:
            capture.read(drain - time.monotonic())
    finally:
        capture.close()
        proc.stdout.close()
        proc.stderr.close()
    return CommandResult(
        exit_code=proc.returncode,
        stdout=bytes(capture.out[fds[0]]),
        stderr=bytes(capture.out[fds[1]]),
        timed_out=timed_out,
        truncated=capture.truncated,
    )
