"""The controller runtime every controller is written on.

- `informer`: list + watch a key prefix into a local cache with indexes; re-lists after a
  compaction; re-watches from the last seen revision after a broken stream;
  `wait_revision(r, timeout)` blocks until the cache holds a write of revision `r`.
- `workqueue`: de-duplicating queue of keys; one key never processed by two workers at
  once; per-key exponential backoff on failure; delayed adds.
- `controller`: the loop tying them together (`Controller.reconcile(key)`), workers started
  only after every informer has synced.
- `listers`: `JobVersions`, a bounded read-through cache of the immutable job versions.
- `leader`: leader election on an etcd lease, for controllers that must run alone.
"""

from reconciler.runtime.controller import Controller, PermanentError, Requeue
from reconciler.runtime.informer import Informer
from reconciler.runtime.leader import LeaderElected, LeaderElector
from reconciler.runtime.listers import JobVersions
from reconciler.runtime.workqueue import WorkQueue

__all__ = [
    "Controller",
    "Informer",
    "JobVersions",
    "LeaderElected",
    "LeaderElector",
    "PermanentError",
    "Requeue",
    "WorkQueue",
]
