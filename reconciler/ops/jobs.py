"""Register, scale and revert jobs; evaluate them again, mark versions stable (stop and
purge: `job_stop.py`).

Each operation is one etcd transaction holding the job record, its immutable version under
`job_versions/` (when the spec changed) and the evaluation that asks the scheduler to act.
The transaction compares the job key's mod revision with what was read (`Store.update`), so
two concurrent writers never lose a version: the loser re-reads and tries again. An
unchanged spec makes no new version (Nomad's behaviour) but still creates an evaluation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from reconciler.model import evals
from reconciler.model.ids import child_parent, is_valid_name
from reconciler.model.job import Job
from reconciler.model.objects import Evaluation, JobRecord, JobStatus
from reconciler.ops.errors import (
    IndexMismatch,
    InvalidIdentifier,
    InvalidJob,
    JobNotFound,
    NotFound,
    Rejected,
)
from reconciler.ops.namespaces import namespace_guard
from reconciler.spec import spec_hash, validate
from reconciler.store import Conflict, Keys, Store, Txn, Versioned

log = logging.getLogger(__name__)

__all__ = [
    "IndexMismatch",
    "InvalidIdentifier",
    "JobNotFound",
    "Submission",
    "SubmitResult",
    "job_history",
    "revert_job",
    "scale_job",
    "submit_job",
    "submit_ops",
]


@dataclass(frozen=True)
class SubmitResult:
    """What a job write did; `modify_index` is the revision its transaction committed at."""

    eval_id: str
    version: int
    changed: bool
    modify_index: int


@dataclass
class Attempt:
    """What the latest attempt of an update decided (the committed one, once it returns)."""

    changed: bool = False
    eval_id: str = ""


def job_hash(job: Job) -> str:
    """Hash of the job's canonical form: equal for equal specs, across processes."""
    return spec_hash(job)


def _check_ids(job: Job) -> None:
    if not is_valid_name(job.namespace):
        raise InvalidIdentifier("Job.Namespace", job.namespace)
    # a child (`web/periodic-1700000000`) is named after the parent it names
    if not is_valid_name(job.id) and not (job.parent_id and child_parent(job.id) == job.parent_id):
        raise InvalidIdentifier("Job.ID", job.id)


def _next_record(
    cur: JobRecord | None, job: Job, source_file: str | None, now: float
) -> tuple[JobRecord, bool]:
    """The record after writing `job` over `cur`, and whether that is a new version."""
    digest = job_hash(job)
    if cur is not None and cur.spec_hash == digest and not cur.stop:
        if source_file and cur.source_file != source_file:
            return replace(cur, source_file=source_file), False
        return cur, False
    return JobRecord(
        namespace=job.namespace,
        id=job.id,
        version=cur.version + 1 if cur is not None else 0,
        job=job,
        spec_hash=digest,
        stop=False,
        status=JobStatus.PENDING,
        source_file=source_file if source_file is not None else (cur.source_file if cur is not None else ""),
        submit_time=now,
        create_index=cur.create_index if cur is not None else 0,
    ), True


def beside(
    keys: Keys, record: JobRecord, changed: bool, triggered_by: str, *, now: float
) -> tuple[Txn, Evaluation]:
    """What commits beside a job record: its evaluation and, if it is a new version, the
    immutable version record (which must not exist yet)."""
    ev = evals.new_eval(record.namespace, record.id, triggered_by, record=record, now=now)
    txn = Txn().put(keys.eval(ev.id), ev)
    if changed:
        vkey = keys.job_version(record.namespace, record.id, record.version)
        txn.compare_absent(vkey).put(vkey, record)
    return txn, ev


@dataclass(frozen=True)
class Submission:
    """What `submit_ops` added to a transaction: the job record it writes and its evaluation."""

    record: JobRecord
    evaluation: Evaluation
    changed: bool  # a new version (False: the spec is the current one; only an evaluation)


def submit_ops(
    txn: Txn, keys: Keys, job: Job, current: Versioned[JobRecord] | None, *, now: float, source_file: str = ""
) -> Submission:
    """Add the writes of submitting `job` to `txn` (pure: no I/O, `now` given), guarded by
    `current`, the job record as the caller read it (None: the job must not exist). The
    same writes as `submit_job`, for callers that submit inside a transaction of their own
    (the deployment controller's auto-revert, written with the failed deployment)."""
    _check_ids(job)
    key = keys.job(job.namespace, job.id)
    if current is None:
        txn.compare_absent(key)
    else:
        txn.compare_mod(key, current.mod_revision)
    record, changed = _next_record(current.value if current is not None else None, job, source_file, now)
    side, ev = beside(keys, record, changed, "job-register", now=now)
    txn.put(key, record).extend(side)
    return Submission(record, ev, changed)


def _write_job(
    store: Store,
    namespace: str,
    job_id: str,
    change: Callable[[JobRecord | None], Job],
    *,
    triggered_by: str,
    source_file: str | None = None,
    enforce_index: int | None = None,
    check_namespace: bool = False,
) -> SubmitResult:
    """The one job write: `change(current)` gives the job to store; the record, its version
    (if new) and an evaluation commit together (with `check_namespace`, only while the
    job's namespace exists, compared in the same transaction)."""
    keys = store.keys
    key = keys.job(namespace, job_id)
    attempt = Attempt()

    def fn(cur: JobRecord | None) -> JobRecord:
        job = change(cur)
        issues = validate(job)
        if issues:
            raise InvalidJob(issues)
        record, attempt.changed = _next_record(cur, job, source_file, time.time())
        return record

    def also(record: JobRecord) -> Txn:
        txn, ev = beside(keys, record, attempt.changed, triggered_by, now=time.time())
        attempt.eval_id = ev.id
        return txn.extend(namespace_guard(store, namespace)) if check_namespace else txn

    if enforce_index is None:
        got = store.update(key, JobRecord, fn, also=also)
    else:
        got = _write_at(store, key, enforce_index, fn, also, label=f"{namespace}/{job_id}")
    assert got is not None  # fn always returns a record
    if attempt.changed:
        log.info(
            "job=%s/%s version=%d eval=%s written", namespace, job_id, got.value.version, attempt.eval_id
        )
    return SubmitResult(attempt.eval_id, got.value.version, attempt.changed, got.mod_revision)


def _write_at(
    store: Store,
    key: str,
    index: int,
    fn: Callable[[JobRecord | None], JobRecord],
    also: Callable[[JobRecord], Txn],
    *,
    label: str,
) -> Versioned[JobRecord]:
    """A write that applies only while the job key is still at `index` (0: absent). No retry:
    a lost race means the job changed since that index, which is the caller's question."""
    cur = store.get(key, JobRecord)
    have = cur.mod_revision if cur is not None else 0
    if have == index:
        new = fn(cur.value if cur is not None else None)
        txn = Txn().compare_mod(key, index).put(key, new)
        txn.extend(also(new))
        revision = store.commit_revision(txn)
        if revision is not None:
            return Versioned(key, new, revision, cur.create_revision if cur is not None else revision)
    raise IndexMismatch(
        f"job {label}: modify index is {have if have != index else 'newer'}, not {index}: "
        "the job changed since it was planned; plan again"
    )


def submit_job(
    store: Store,
    job: Job,
    *,
    source_file: str = "",
    enforce_index: int | None = None,
    check_namespace: bool = False,
) -> SubmitResult:
    """Store `job` as a new version (if it changed) and create an evaluation for it.

    With `enforce_index` (Nomad's `-check-index`), the job is stored only if its modify
    index is still that value (0: only if the job does not exist yet). With
    `check_namespace` (the API's registrations, as Nomad's), only if the job's namespace
    exists; the specs watcher's jobs, in `default`, skip the read.
    """
    _check_ids(job)
    return _write_job(
        store,
        job.namespace,
        job.id,
        lambda _cur: job,
        triggered_by="job-register",
        source_file=source_file,
        enforce_index=enforce_index,
        check_namespace=check_namespace,
    )


def scale_job(store: Store, namespace: str, job_id: str, group: str, count: int) -> SubmitResult:
    """Set one task group's count, as a new version of the job."""
    if count < 0:
        raise Rejected("Count must be a non-negative integer", field="Count")

    def change(cur: JobRecord | None) -> Job:
        if cur is None:
            raise JobNotFound(f"job not found: {job_id}")
        if cur.stop:
            raise Rejected(f"job {job_id} is stopped; run it before scaling")
        if cur.job.group(group) is None:
            raise Rejected(f"task group {group!r} not found in job {job_id}", field="Target.Group")
        groups = [replace(g, count=count) if g.name == group else g for g in cur.job.task_groups]
        return replace(cur.job, task_groups=groups)

    return _write_job(store, namespace, job_id, change, triggered_by="job-scaling")


def revert_job(
    store: Store, namespace: str, job_id: str, version: int, *, enforce_prior_version: int | None = None
) -> SubmitResult:
    """Make version `version`'s spec current again, as a new version (Nomad's `job revert`)."""
    old = store.get(store.keys.job_version(namespace, job_id, version), JobRecord)
    if old is None:
        raise NotFound(f"job {job_id} has no version {version}")

    def change(cur: JobRecord | None) -> Job:
        if cur is None:
            raise JobNotFound(f"job not found: {job_id}")
        if enforce_prior_version is not None and cur.version != enforce_prior_version:
            raise Rejected(
                f"current version is {cur.version}, not {enforce_prior_version}", field="EnforcePriorVersion"
            )
        if cur.version == version:
            raise Rejected(f"job {job_id} is already at version {version}", field="JobVersion")
        return old.value.job

    return _write_job(store, namespace, job_id, change, triggered_by="job-register")


def job_history(store: Store, namespace: str, job_id: str) -> list[JobRecord]:
    """Every stored version, newest first."""
    items, _ = store.list(store.keys.job_versions(namespace, job_id), JobRecord)
    return sorted((i.value for i in items), key=lambda r: r.version, reverse=True)


def evaluate_job(store: Store, namespace: str, job_id: str) -> SubmitResult:
    """A fresh evaluation of the job as it stands (Nomad's `job eval`): the scheduler looks at
    it again, e.g. after a node became eligible. Changes no version."""
    got = store.get(store.keys.job(namespace, job_id), JobRecord)
    if got is None:
        raise JobNotFound(f"job not found: {namespace}/{job_id}")
    ev = evals.new_eval(namespace, job_id, "job-eval", record=got.value, now=time.time())
    txn = Txn().compare_mod(got.key, got.mod_revision).put(store.keys.eval(ev.id), ev)
    revision = store.commit_revision(txn)
    if revision is None:
        raise Conflict(f"job {namespace}/{job_id} changed while it was being evaluated; try again")
    return SubmitResult(ev.id, got.value.version, False, revision)


def set_stable(store: Store, namespace: str, job_id: str, version: int, stable: bool) -> int:
    """Mark one version stable or not (Nomad's `PUT /v1/job/<id>/stable`): the version record,
    and the job record when it is the current version, in one transaction. Returns its
    revision. An auto-revert goes back to the newest stable version."""
    keys = store.keys
    for _ in range(5):
        old = store.get(keys.job_version(namespace, job_id, version), JobRecord)
        cur = store.get(keys.job(namespace, job_id), JobRecord)
        if cur is None:
            raise JobNotFound(f"job not found: {namespace}/{job_id}")
        if old is None:
            raise NotFound(f"job {job_id} has no version {version}")
        txn = Txn().compare_mod(old.key, old.mod_revision).put(old.key, replace(old.value, stable=stable))
        txn.compare_mod(cur.key, cur.mod_revision)
        if cur.value.version == version:
            txn.put(cur.key, replace(cur.value, stable=stable))
        revision = store.commit_revision(txn)
        if revision is not None:
            log.info("job=%s/%s version=%d stable=%s", namespace, job_id, version, stable)
            return revision
    raise Conflict(f"job {namespace}/{job_id} kept changing while version {version} was being marked")
