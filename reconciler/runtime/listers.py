"""Listers for objects no controller watches: immutable records read on demand, kept in a
bounded cache.

`JobVersions` answers "the job as it was at version v" (`job_versions/<ns>/<job>/<v>`),
which a controller needs for allocations still running an older version. A version record
is written once and never changed, so a cached copy never goes stale and needs no watch;
an informer on `job_versions/` would instead hold every version of every job ever
submitted in each process that asks (one per node agent). The cache is a least-recently
used map of `size` records: a reconcile that finds its versions there does no etcd read,
and memory stays bounded however many versions pile up. A missing record is not cached
(it may be written a moment later: the submission transaction and the allocation that
names it arrive on different watch streams).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from reconciler.model.objects import JobRecord
from reconciler.store import Store


class JobVersions:
    """A read-through, size-bounded cache of job version records, safe across threads."""

    def __init__(self, store: Store, *, size: int = 1024) -> None:
        self.store = store
        self.size = size
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str, int], JobRecord] = OrderedDict()

    def get(self, namespace: str, job_id: str, version: int) -> JobRecord | None:
        """The record of `namespace/job_id` at `version`, or None if etcd has none (yet)."""
        k = (namespace, job_id, version)
        with self._lock:
            rec = self._cache.get(k)
            if rec is not None:
                self._cache.move_to_end(k)
                return rec
        got = self.store.get(self.store.keys.job_version(namespace, job_id, version), JobRecord)
        if got is None:
            return None
        with self._lock:
            self._cache[k] = got.value
            self._cache.move_to_end(k)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return got.value

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)
