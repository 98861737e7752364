"""Stop and purge jobs.

A stop is a new version of the job record marked stopped, written with its evaluation in one
guarded transaction, so the history is kept and `job revert` can run it again. A purge
deletes the record and its history (Nomad's `job stop -purge`), then the job's allocations,
so that a job registered again under the same name starts from nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from reconciler.model import evals
from reconciler.model.objects import Allocation, JobRecord
from reconciler.ops.errors import JobNotFound
from reconciler.ops.jobs import Attempt, SubmitResult, beside
from reconciler.store import MAX_TXN_OPS, Conflict, Store, Txn, Versioned

log = logging.getLogger(__name__)


def stop_job(store: Store, namespace: str, job_id: str, *, purge: bool = False) -> SubmitResult:
    """Mark the job stopped (a new version, history kept) or purge it."""
    if purge:
        return _purge(store, namespace, job_id)
    keys = store.keys
    key = keys.job(namespace, job_id)
    attempt = Attempt()

    def fn(cur: JobRecord | None) -> JobRecord | None:
        attempt.eval_id = ""  # set again by `also` if this attempt writes
        if cur is None:
            raise JobNotFound(f"job not found: {namespace}/{job_id}")
        return None if cur.stop else replace(cur, version=cur.version + 1, stop=True, submit_time=time.time())

    def also(record: JobRecord) -> Txn:
        txn, ev = beside(keys, record, True, "job-deregister", now=time.time())
        attempt.eval_id = ev.id
        return txn

    got = store.update(key, JobRecord, fn, also=also)
    assert got is not None  # fn raises for an absent job
    if not attempt.eval_id:  # already stopped: nothing to write but a fresh evaluation
        ev = evals.new_eval(namespace, job_id, "job-deregister", record=got.value, now=time.time())
        return SubmitResult(ev.id, got.value.version, False, store.put(keys.eval(ev.id), ev))
    log.info("job=%s/%s stopped version=%d eval=%s", namespace, job_id, got.value.version, attempt.eval_id)
    return SubmitResult(attempt.eval_id, got.value.version, True, got.mod_revision)


def _purge(store: Store, namespace: str, job_id: str) -> SubmitResult:
    """Delete the job and its version history with one transaction (the evaluation in it).

    The history goes in the same transaction as long as it fits in one (etcd allows
    MAX_TXN_OPS operations); the versions beyond that, the oldest, are deleted first, so
    a crash or a lost race leaves the job in place with a shorter history, never a
    history without a job. A concurrent change raises `Conflict`: the purge is not retried
    because the user should see what changed.
    """
    keys = store.keys
    key = keys.job(namespace, job_id)
    cur = store.get(key, JobRecord)
    if cur is None:
        raise JobNotFound(f"job not found: {namespace}/{job_id}")
    history, _ = store.list(keys.job_versions(namespace, job_id), JobRecord)
    vkeys = [v.key for v in sorted(history, key=lambda v: v.value.version)]
    room = MAX_TXN_OPS - 3  # the compare, the job delete and the evaluation
    for old in vkeys[:-room]:
        store.delete(old)
    ev = evals.new_eval(namespace, job_id, "job-deregister", record=cur.value, now=time.time())
    txn = Txn().compare_mod(key, cur.mod_revision).put(keys.eval(ev.id), ev).delete(key)
    for vkey in vkeys[-room:]:
        txn.delete(vkey)
    revision = store.commit_revision(txn)
    if revision is None:
        raise Conflict(f"job {namespace}/{job_id} changed while it was being purged; try again")
    gone = _delete_allocations(store, namespace, job_id)
    log.info("job=%s/%s purged eval=%s allocations=%d", namespace, job_id, ev.id, gone)
    return SubmitResult(ev.id, cur.value.version, True, revision)


def _delete_allocations(store: Store, namespace: str, job_id: str) -> int:
    """Delete a purged job's allocations and their statuses, so that a job registered again
    under the same name starts with none (issue 12). A node agent kills the tasks of an
    allocation that is deleted and drops its directory; the registrar takes its services out
    of the catalog. Each deletion is compared on the allocation's mod revision, so one the
    scheduler rewrote meanwhile is left for the deregister evaluation to stop."""
    keys = store.keys
    items, _ = store.list(keys.allocs, Allocation)
    mine = [i for i in items if i.value.namespace == namespace and i.value.job_id == job_id]

    def delete(batch: list[Versioned[Allocation]]) -> bool:
        txn = Txn()
        for item in batch:
            txn.compare_mod(item.key, item.mod_revision).delete(item.key).delete(
                keys.alloc_status(item.value.id)
            )
        return store.commit(txn)

    per_txn = MAX_TXN_OPS // 3  # a compare and two deletes each
    deleted = 0
    for start in range(0, len(mine), per_txn):
        batch = mine[start : start + per_txn]
        if delete(batch):
            deleted += len(batch)
        else:  # one was rewritten meanwhile: delete the others one by one
            deleted += sum(1 for item in batch if delete([item]))
    return deleted
