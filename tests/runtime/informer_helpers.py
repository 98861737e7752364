"""What the informer tests share (test_informer.py, test_informer_compaction.py): an
allocation to write, a handler that records what it was given, and the check that an
informer's cache holds what etcd holds."""

from __future__ import annotations

import threading
from typing import Any

from reconciler.model.objects import Allocation
from reconciler.runtime import Informer
from reconciler.store import Store


def alloc(i: int, node: str = "n1", job: str = "web") -> Allocation:
    return Allocation(
        id=f"a{i:03d}",
        namespace="default",
        job_id=job,
        job_version=0,
        task_group="g",
        name=f"{job}.g[{i}]",
        index=i,
        node_id=node,
    )


class Recorder:
    """A handler that remembers every (key, old, new) it was given."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, Any, Any]] = []

    def __call__(self, key: str, old: Any, new: Any) -> None:
        with self.lock:
            self.events.append((key, old, new))

    def puts(self) -> set[str]:
        with self.lock:
            return {k for k, _, n in self.events if n is not None}

    def deletes(self) -> set[str]:
        with self.lock:
            return {k for k, _, n in self.events if n is None}


def cache_matches(inf: Informer[Allocation], store: Store) -> bool:
    items, _ = store.list(inf.prefix, Allocation)
    return {i.key: i.value for i in items} == {v.key: v.value for v in inf.items()}
