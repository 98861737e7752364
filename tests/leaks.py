"""Leak detection for every test (the autouse `no_leaks` fixture in tests/conftest.py): a
test must not leave a thread or a child process running that it started.

Threads and children that exist before the test (the session's etcd, module fixtures)
do not count. After the test, threads that are still stopping get a short deadline (they
are joined, not slept on) before they count as leaked. Exemptions live in `ALLOWED` only,
each with its reason.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.waiting import WaitTimeout, wait_for

DEADLINE = 15.0  # generous: threads end on their own after their stop, late under load

# The exemptions, each with its reason: (test node id, or "*" for any test; a thread name
# prefix, or a child process's command line substring) -> why it may outlive the test.
ALLOWED: dict[tuple[str, str], str] = {
    ("*", "executor.py --standby"): (
        "product: the driver runner's warm executors (controllers/driver_runner/executor_pool."
        "default_pool) are one pool per process, not per NodeAgent; it refills after each task "
        "start and its standbys live until the process ends (they exit on EOF)"
    ),
}


@dataclass(frozen=True)
class Child:
    pid: int
    start: int  # /proc/<pid>/stat field 22: tells a reused pid from the process we saw
    command: str


def children() -> set[Child]:
    """This process's live (not zombie) children, read from /proc."""
    me = os.getpid()
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z":
            out.add(
                Child(
                    int(entry.name),
                    int(fields[19]),
                    cmdline.replace(b"\0", b" ").decode(errors="replace").strip(),
                )
            )
    return out


def _allowed(nodeid: str, thread: threading.Thread) -> bool:
    return any(test in ("*", nodeid) and thread.name.startswith(prefix) for test, prefix in ALLOWED)


def _allowed_child(nodeid: str, child: Child) -> bool:
    return any(test in ("*", nodeid) and what in child.command for test, what in ALLOWED)


def new_threads(before: set[threading.Thread], nodeid: str) -> list[threading.Thread]:
    """Threads started since `before` that are still alive after up to DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    for t in threading.enumerate():
        if t not in before and not _allowed(nodeid, t):
            t.join(max(0.0, deadline - time.monotonic()))
    return [t for t in threading.enumerate() if t not in before and t.is_alive() and not _allowed(nodeid, t)]


def new_children(before: set[Child], nodeid: str) -> set[Child]:
    """Children started since `before` that are still running after up to DEADLINE seconds."""

    def leaked() -> set[Child]:
        return {c for c in children() - before if not _allowed_child(nodeid, c)}

    with contextlib.suppress(WaitTimeout):  # reported by the caller, with the command lines
        wait_for(lambda: not leaked(), DEADLINE, interval=0.05, message="child processes to exit")
    return leaked()
