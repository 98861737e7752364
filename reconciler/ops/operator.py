"""The operator's scheduler configuration (Nomad's `/v1/operator/scheduler/configuration`):
read it (the default when never written) and write it, optionally only if it is still at
the index the caller read (Nomad's `?cas=<index>`, "check-and-set")."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model.scheduler_config import DEFAULT, SchedulerConfig
from reconciler.store import Store, Txn


@dataclass(frozen=True)
class StoredConfig:
    config: SchedulerConfig
    create_index: int  # 0 while never written
    modify_index: int


def get_scheduler_config(store: Store) -> StoredConfig:
    got = store.get(store.keys.scheduler_config, SchedulerConfig)
    if got is None:
        return StoredConfig(DEFAULT, 0, 0)
    return StoredConfig(got.value, got.create_revision, got.mod_revision)


def set_scheduler_config(store: Store, config: SchedulerConfig, *, cas: int | None = None) -> int | None:
    """Write `config`; with `cas`, only if the record is still at that modify index (0: never
    written). The revision written at, or None when the check-and-set failed."""
    key = store.keys.scheduler_config
    txn = Txn()
    if cas is not None:
        if cas == 0:
            txn.compare_absent(key)
        else:
            txn.compare_mod(key, cas)
    txn.put(key, config)
    return store.commit_revision(txn)
