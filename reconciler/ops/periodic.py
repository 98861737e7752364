"""Launching a periodic job's children: the launcher controller's writes and
`job periodic force` (`POST /v1/job/<id>/periodic/force`).

A launch is one transaction: the parent's record compared on its mod revision (the launch
follows the spec it was decided from), the launch record `child_launch/<ns>/<job>`
compared on its mod revision (or its absence) and written with the new launch time, and the
child job `<id>/periodic-<unix time>` submitted as a new job (absent before) with its
version and evaluation. So two launchers, or a launcher and a restart of itself, can never
both launch one time: the second compare fails.
"""

from __future__ import annotations

import logging
import time

from reconciler.model.children import derive_periodic
from reconciler.model.ids import periodic_child_id
from reconciler.model.objects import ChildLaunch, JobRecord
from reconciler.ops.errors import JobNotFound, Rejected
from reconciler.ops.jobs import Submission, SubmitResult, submit_ops
from reconciler.store import Conflict, Keys, Store, Txn, Versioned

log = logging.getLogger(__name__)

FORCE_ATTEMPTS = 3


def launch_ops(
    txn: Txn,
    keys: Keys,
    parent: Versioned[JobRecord],
    last: Versioned[ChildLaunch] | None,
    launch: float,
    *,
    now: float,
    skip: bool = False,
) -> Submission | None:
    """Add to `txn` the writes of launching `parent` at cron time `launch` (pure: `now`
    given): the launch record and, unless `skip` (an overlap `prohibit_overlap` refuses),
    the child job's submission, which it returns."""
    rec = parent.value
    lkey = keys.child_launch(rec.namespace, rec.id)
    txn.compare_mod(parent.key, parent.mod_revision)
    if last is None:
        txn.compare_absent(lkey)
    else:
        txn.compare_mod(lkey, last.mod_revision)
    txn.put(lkey, ChildLaunch(namespace=rec.namespace, job_id=rec.id, launch=launch))
    if skip:
        return None
    child = derive_periodic(rec.job, periodic_child_id(rec.id, launch))
    return submit_ops(txn, keys, child, None, now=now)


def force_launch(store: Store, namespace: str, job_id: str) -> SubmitResult:
    """Launch a child of the periodic job now, whatever its schedule or overlap rule (Nomad's
    `job periodic force`); retried on a lost race with the launcher."""
    keys = store.keys
    for _ in range(FORCE_ATTEMPTS):
        parent = store.get(keys.job(namespace, job_id), JobRecord)
        if parent is None:
            raise JobNotFound(f"job not found: {namespace}/{job_id}")
        if parent.value.job.periodic is None:
            raise Rejected(f"job {job_id} is not periodic", field="JobID")
        if parent.value.stop:
            raise Rejected(f"job {job_id} is stopped; run it before forcing a launch", field="JobID")
        last = store.get(keys.child_launch(namespace, job_id), ChildLaunch)
        now = time.time()
        txn = Txn()
        sub = launch_ops(txn, keys, parent, last, float(int(now)), now=now)
        assert sub is not None  # not skipped
        revision = store.commit_revision(txn)
        if revision is not None:
            log.info(
                "job=%s/%s forced launch child=%s eval=%s",
                namespace,
                job_id,
                sub.record.id,
                sub.evaluation.id,
            )
            return SubmitResult(sub.evaluation.id, sub.record.version, True, revision)
        time.sleep(1.0)  # the child's ID is the launch second: the next try names another
    raise Conflict(f"job {namespace}/{job_id}: a launch raced this one {FORCE_ATTEMPTS} times; try again")
