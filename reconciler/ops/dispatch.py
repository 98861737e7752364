"""`job dispatch` (`POST /v1/job/<id>/dispatch`): run a parameterized job once, as a child
`<id>/dispatch-<unix time>-<8 hex>` carrying its payload and meta (Nomad's Dispatch).

The dispatch is one transaction: the parent compared on its mod revision, the launch record
`child_launch/<ns>/<id>` compared (or absent) and rewritten, and the child submitted as a
new job with its version and evaluation. Two dispatches of one job therefore commit one at
a time, and the second re-reads the children: with an idempotency token that a child
already carries, no second child is made and that child is the answer.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from reconciler.model.children import derive_dispatched, dispatch_problems
from reconciler.model.ids import dispatch_child_id
from reconciler.model.objects import ChildLaunch, JobRecord
from reconciler.ops.errors import JobNotFound, Rejected
from reconciler.ops.jobs import submit_ops
from reconciler.store import Conflict, Store, Txn, Versioned

log = logging.getLogger(__name__)

ATTEMPTS = 5


@dataclass(frozen=True)
class DispatchResult:
    """Nomad's JobDispatchResponse: the child's ID, its evaluation (empty when an
    idempotency token named an existing child) and the revisions."""

    dispatched_job_id: str
    eval_id: str
    eval_create_index: int
    job_create_index: int
    index: int


def _parent(store: Store, namespace: str, job_id: str) -> Versioned[JobRecord]:
    parent = store.get(store.keys.job(namespace, job_id), JobRecord)
    if parent is None:
        raise JobNotFound(f"job not found: {namespace}/{job_id}")
    job = parent.value.job
    if job.parameterized is None or job.dispatched:
        raise Rejected(f'Specified job "{job_id}" is not a parameterized job', field="JobID")
    if parent.value.stop:
        raise Rejected(f'cannot dispatch stopped job "{job_id}"', field="JobID")
    return parent


def _existing(store: Store, namespace: str, job_id: str, token: str) -> Versioned[JobRecord] | None:
    """The child of `job_id` dispatched with `token`, if one is still stored."""
    if not token:
        return None
    items, _ = store.list(store.keys.jobs_in(namespace), JobRecord)
    for item in items:
        job = item.value.job
        if job.parent_id == job_id and job.dispatch_idempotency_token == token:
            return item
    return None


def dispatch_job(
    store: Store, namespace: str, job_id: str, *, payload: bytes, meta: dict[str, str], token: str = ""
) -> DispatchResult:
    """Dispatch the parameterized job `job_id` (see the module's docstring)."""
    keys = store.keys
    for _ in range(ATTEMPTS):
        parent = _parent(store, namespace, job_id)
        rule = parent.value.job.parameterized
        assert rule is not None  # _parent checked it
        problems = dispatch_problems(rule, payload, meta)
        if problems:
            raise Rejected("; ".join(m for _, m in problems), field=problems[0][0])
        lkey = keys.child_launch(namespace, job_id)
        last = store.get(lkey, ChildLaunch)  # read before the children: a newer child moves it
        found = _existing(store, namespace, job_id, token)
        if found is not None:
            rev = found.mod_revision
            return DispatchResult(found.value.id, "", 0, found.create_revision, rev)
        now = time.time()
        child_id = dispatch_child_id(job_id, now, uuid.uuid4().hex[:8])
        child = derive_dispatched(parent.value.job, child_id, payload=payload, meta=meta, token=token)
        txn = Txn().compare_mod(parent.key, parent.mod_revision)
        txn = txn.compare_absent(lkey) if last is None else txn.compare_mod(lkey, last.mod_revision)
        txn.put(lkey, ChildLaunch(namespace=namespace, job_id=job_id, launch=now))
        sub = submit_ops(txn, keys, child, None, now=now)
        revision = store.commit_revision(txn)
        if revision is not None:
            log.info("job=%s/%s dispatched child=%s eval=%s", namespace, job_id, child_id, sub.evaluation.id)
            return DispatchResult(child_id, sub.evaluation.id, revision, revision, revision)
    raise Conflict(f"job {namespace}/{job_id}: dispatches raced this one {ATTEMPTS} times; try again")
