"""A node agent in its own process, for re-attach tests: `python -m
tests.driver_runner.agent_proc ENDPOINT PREFIX DATA_DIR`. Prints `ready <node-id>` once
started, then runs until killed (SIGTERM stops it leaving tasks running)."""

from __future__ import annotations

import logging
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
    agent = NodeAgent(store, data_dir=Path(data_dir), node_name="reattach", raw_exec_enabled=True, heartbeat_ttl=5)
    agent.start()
    print(f"ready {agent.node_id}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    agent.stop()


if __name__ == "__main__":
    main()
