"""A node agent in its own process, for re-attach tests: `python -m
tests.driver_runner.agent_proc ENDPOINT PREFIX DATA_DIR`. Prints `ready <node-id>` once
started, then runs until killed (SIGTERM stops it leaving tasks running; if the test
process that started it dies, it drains its tasks and exits)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

from controllers.driver_runner import NodeAgent
from reconciler.store import Store


def main() -> None:
    endpoint, prefix, data_dir = sys.argv[1:4]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    store = Store([endpoint], prefix=prefix)
    agent = NodeAgent(
        store, data_dir=Path(data_dir), node_name="reattach", raw_exec_enabled=True, heartbeat_ttl=5
    )
    agent.start()
    print(f"ready {agent.node_id}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    parent = os.getppid()
    orphaned = False
    # if the test process dies without stopping us, drain and go: a test must not leave
    # an agent (and its tasks) behind
    while not done.wait(0.5):
        if os.getppid() != parent:
            orphaned = True
            break
    agent.stop(drain=orphaned, timeout=10)


if __name__ == "__main__":
    main()
