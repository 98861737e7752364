"""Running until SIGINT or SIGTERM, for the process commands that hold no event loop of their
own (`reconciler controller`, `reconciler router`; the agent stops through asyncio's)."""

from __future__ import annotations

import signal
import threading


def stop_signal() -> threading.Event:
    """An event that SIGINT or SIGTERM sets, from now on (a signal during start-up counts)."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    return done


def wait_for_stop(done: threading.Event) -> None:
    """Until `done` is set, waking twice a second: the kernel may hand the signal to a gRPC
    thread, and a wait without a timeout is never woken to run the Python handler (the main
    thread would sleep in the lock for good)."""
    while not done.wait(0.5):
        pass
