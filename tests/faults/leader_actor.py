"""A process that leads `actor` and, while it leads, writes one key after another through
the store its term gives it (`LeaderElected`): the subject of the SIGSTOP test. Every
attempt is printed with its outcome, one line each: `<time> <identity> ok <seq>`,
`... refused <reason>`, `... started`, `... stopped`.

    python -m tests.faults.leader_actor ENDPOINT PREFIX IDENTITY TTL
"""

from __future__ import annotations

import signal
import sys
import threading
import time

from reconciler.runtime import Controller, LeaderElected, Requeue
from reconciler.store import Fenced, Store

PERIOD = 0.02  # seconds between two writes of a leader


def say(identity: str, what: str) -> None:
    print(f"{time.time():.3f} {identity} {what}", flush=True)


class Actor(Controller):
    name = "actor"

    def __init__(self, store: Store, identity: str) -> None:
        super().__init__(store)
        self.identity = identity
        self.seq = 0

    def on_start(self) -> None:
        say(self.identity, "started")
        self.enqueue("act")

    def on_stop(self) -> None:
        say(self.identity, "stopped")

    def reconcile(self, key: str) -> Requeue | None:
        self.seq += 1
        try:
            self.store.put(f"{self.keys.kind('acts')}{self.identity}/{self.seq:08d}", b"1")
        except Fenced as exc:
            say(self.identity, f"refused {exc}")
        else:
            say(self.identity, f"ok {self.seq}")
        return Requeue(PERIOD)


def main(endpoint: str, prefix: str, identity: str, ttl: int) -> None:
    store = Store([endpoint], prefix=prefix)
    service = LeaderElected(store, "actor", identity, lambda s: Actor(s, identity), ttl=ttl)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    service.start()
    done.wait()
    service.stop()
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
