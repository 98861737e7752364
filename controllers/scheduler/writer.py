"""Committing a plan: allocations in batched transactions, guarded against double placement.

Every scheduler write for a job compares (a) the job record's mod revision, so a plan made
for an older job version is never applied, and (b) the job's guard key `sched_guard/<ns>/<job>`,
which each transaction that writes allocations bumps. Two replicas (or an old and a new
leader) therefore cannot both apply plans made from the same state: the second one's first
transaction fails, it re-reads (after its cache caught up with the guard's revision) and
decides again. A plan too large for one transaction is split into batches chained on the
guard revision the previous batch left; after each commit the guard is read back and must
hold our own token, or someone else wrote in between and we stop.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler import codec
from reconciler.model.ids import is_valid_name, new_id
from reconciler.store import Store, Txn
from reconciler.store.client import MAX_TXN_OPS

log = logging.getLogger(__name__)


def guard_key(store: Store, namespace: str, job_id: str) -> str:
    if not (is_valid_name(namespace) and is_valid_name(job_id)):
        raise ValueError(f"invalid job {namespace}/{job_id}")
    return f"{store.keys.kind('sched_guard')}{namespace}/{job_id}"


@dataclass
class Guard:
    key: str
    revision: int  # 0: absent
    job_key: str
    job_revision: int  # 0: the job record must be absent


def read_guard(store: Store, key: str) -> int:
    raw = store.get_raw(key)
    return raw.mod_revision if raw else 0


def _compares(txn: Txn, g: Guard) -> Txn:
    txn.compare_mod(g.job_key, g.job_revision)
    return txn.compare_mod(g.key, g.revision)


def commit_plan(store: Store, guard: Guard, allocs: Sequence[tuple[str, Any]], tail: Sequence[tuple[str, Any]]) -> bool:
    """Write `allocs` (key, object) in guarded batches, then `tail` (evaluations) last.

    Returns False if a compare failed (another writer got there first); batches committed
    before that stay (the next decision sees them). `guard.revision` is advanced in place.
    """
    token = new_id()
    per_txn = MAX_TXN_OPS - 3  # two compares and the guard put
    seq = 0
    pending = [(k, codec.encode(v)) for k, v in allocs]
    tail_enc = [(k, codec.encode(v)) for k, v in tail]
    i = 0
    while i < len(pending):
        chunk = pending[i : i + per_txn]
        i += len(chunk)
        txn = _compares(Txn(), guard)
        for k, v in chunk:
            txn.put(k, v)
        # the evaluations ride on the last batch when there is room
        last = i >= len(pending) and len(chunk) + len(tail_enc) <= per_txn
        if last:
            for k, v in tail_enc:
                txn.put(k, v)
        seq += 1
        mark = f"{token}:{seq}"
        txn.put(guard.key, mark)
        if not store.commit(txn):
            log.info("job=%s plan lost a race at batch %d; re-reading", guard.job_key, seq)
            return False
        raw = store.get_raw(guard.key)
        if raw is None or raw.value.decode() != mark:
            log.info("job=%s another scheduler wrote after batch %d; re-reading", guard.job_key, seq)
            return False
        guard.revision = raw.mod_revision
        if last:
            return True
    for j in range(0, len(tail_enc), MAX_TXN_OPS - 2):
        txn = _compares(Txn(), guard)
        for k, v in tail_enc[j : j + MAX_TXN_OPS - 2]:
            txn.put(k, v)
        if not store.commit(txn):
            return False
    return True
