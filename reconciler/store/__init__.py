"""The state store: the only package that talks to etcd (import-linter enforces it).

- `keys`: the key layout under a configurable prefix.
- `errors`: the store's own exceptions; wire errors are translated in one table.
- `client`: `Store`, typed get/list/put/delete, compare-revision transactions, batched writes,
  leases, watches that resume from a revision.
- `election`: leader election on a lease.
"""

from reconciler.store.client import Store, Txn, Versioned, WatchEvent
from reconciler.store.errors import Compacted, Conflict, StoreError, Unavailable
from reconciler.store.keys import Keys

__all__ = [
    "Compacted",
    "Conflict",
    "Keys",
    "Store",
    "StoreError",
    "Txn",
    "Unavailable",
    "Versioned",
    "WatchEvent",
]
