"""What the agent starts and stops: anything with start()/stop(), and the leader-elected
group of cluster controllers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from reconciler.runtime import LeaderElector
from reconciler.store import Store

log = logging.getLogger(__name__)


class Component(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class LeaderElected:
    """Runs `controllers` only while this agent holds the `name` leader lease."""

    def __init__(self, store: Store, name: str, identity: str, controllers: Sequence[Component], *, ttl: int = 10):
        self.elector = LeaderElector(store, name, identity, ttl=ttl)
        self.controllers = list(controllers)
        self.name = name

    def _started(self) -> None:
        for c in self.controllers:
            c.start()

    def _stopped(self) -> None:
        for c in reversed(self.controllers):
            try:
                c.stop()
            except Exception:  # noqa: BLE001 - keep stopping the rest
                log.exception("component=%s stop failed", type(c).__name__)

    def start(self) -> None:
        self.elector.start(self._started, self._stopped)

    def stop(self) -> None:
        self.elector.stop()
