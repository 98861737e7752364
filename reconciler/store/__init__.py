"""The state store: the only package that talks to etcd (import-linter enforces it).

One module per etcd concept, as python-etcd3 splits them:
- `keys`: the key layout under a configurable prefix; every key is built here.
- `errors`: the store's exceptions and the one table that translates wire errors.
- `txn`: `Txn`, compares on mod revisions plus puts and deletes, all or nothing.
- `leases`: `Lease`, and `KeptLease`, the one keepalive loop (leader, heartbeat, registrar).
- `watch`: `Watch`, `WatchEvent` and the conversion of etcd3's watch responses.
- `auth`: `EtcdAuth`, TLS and user/password for an external etcd.
- `connection`: the etcd3 clients, endpoint failover, the one retried call.
- `fence`: `Fence`, a leader term that guards the writes of a fenced store view.
- `client`: `Store`, typed get/list/put/delete, commits, `update` (optimistic
  read-modify-write), leases and watches that resume from a revision.

Import from this package, not from its modules.
"""

from reconciler.store.auth import EtcdAuth
from reconciler.store.client import LIST_PAGE, Store, Versioned
from reconciler.store.errors import Compacted, Conflict, Fenced, NotFound, StoreError, Unavailable
from reconciler.store.fence import Fence
from reconciler.store.keys import InvalidKey, Keys
from reconciler.store.leases import KeptLease, Lease
from reconciler.store.txn import MAX_TXN_OPS, Txn
from reconciler.store.watch import Watch, WatchCallback, WatchEvent

__all__ = [
    "LIST_PAGE",
    "MAX_TXN_OPS",
    "Compacted",
    "Conflict",
    "EtcdAuth",
    "Fence",
    "Fenced",
    "InvalidKey",
    "KeptLease",
    "Keys",
    "Lease",
    "NotFound",
    "Store",
    "StoreError",
    "Txn",
    "Unavailable",
    "Versioned",
    "Watch",
    "WatchCallback",
    "WatchEvent",
]
