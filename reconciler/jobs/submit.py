"""Register, stop and purge jobs; create evaluations.

A submission is one etcd transaction: the job record, its immutable version under
`job_versions/`, and the evaluation that asks the scheduler to act. The transaction
compares the job key's mod revision with what was read, so two concurrent submissions
never lose a version: the loser re-reads and tries again. An unchanged spec makes no new
version (Nomad's behaviour) but still creates an evaluation.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from reconciler import codec
from reconciler.model.evals import new_eval as model_new_eval
from reconciler.model.ids import DeploymentId, NodeId, is_valid_name
from reconciler.model.job import Job
from reconciler.model.objects import Evaluation, JobRecord, JobStatus
from reconciler.store import Store, Txn

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20


class JobNotFound(LookupError):
    """No job with that namespace and id."""


class IndexMismatch(RuntimeError):
    """`-check-index` was given and the job changed (or appeared) since that index."""


class InvalidIdentifier(ValueError):
    """An id that cannot become an etcd key or a path."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"{field}: {value!r} is not a valid identifier (letters, digits, '-', '_', '.')")
        self.field = field


class InvalidJob(InvalidIdentifier):
    """The job breaks a rule of `reconciler.spec.validate`: every write path (API register,
    scale, revert, the specs watcher) runs the same check, so none can store a job the text
    loader would refuse (review finding M1). A subclass so existing handlers answer 400."""

    def __init__(self, issues: list[Any]) -> None:
        ValueError.__init__(self, "; ".join(str(i).removeprefix("<input>: ") for i in issues))
        self.field = issues[0].path if issues else "Job"
        self.issues = issues


@dataclass(frozen=True)
class SubmitResult:
    eval_id: str
    version: int
    changed: bool
    modify_index: int


def job_hash(job: Job) -> str:
    """Hash of the job's canonical encoding (field order is the model's, so it is stable)."""
    try:
        from reconciler.spec import spec_hash  # the spec package's canonical form, when present
    except ImportError:
        return hashlib.sha256(codec.encode(job)).hexdigest()
    return str(spec_hash(job))


def _check_ids(job: Job) -> None:
    if not is_valid_name(job.namespace):
        raise InvalidIdentifier("Job.Namespace", job.namespace)
    if not is_valid_name(job.id):
        raise InvalidIdentifier("Job.ID", job.id)


def new_eval(record: JobRecord, triggered_by: str) -> Evaluation:
    return model_new_eval(record.namespace, record.id, triggered_by, now=time.time(), record=record)


def submit_job(
    store: Store, job: Job, *, source_file: str = "", enforce_index: int | None = None
) -> SubmitResult:
    """Store `job` as a new version (if it changed) and create an evaluation for it.

    With `enforce_index` (Nomad's `-check-index`), the job is stored only if its modify
    index is still that value (0: only if the job does not exist yet).
    """
    _check_ids(job)
    from reconciler.spec.validate import validate  # the spec layer's rules; imported late like spec_hash

    issues = validate(job)
    if issues:
        raise InvalidJob(issues)
    keys = store.keys
    key = keys.job(job.namespace, job.id)
    digest = job_hash(job)
    for _ in range(MAX_ATTEMPTS):
        cur = store.get(key, JobRecord)
        if enforce_index is not None and (cur.mod_revision if cur else 0) != enforce_index:
            raise IndexMismatch(
                f"job {job.namespace}/{job.id}: modify index is {cur.mod_revision if cur else 0}, "
                f"not {enforce_index}: the job changed since it was planned; plan again"
            )
        now = time.time()
        if cur is not None and cur.value.spec_hash == digest and not cur.value.stop:
            record = cur.value
            if source_file and record.source_file != source_file:
                record = replace(record, source_file=source_file)
            ev = new_eval(record, "job-register")
            txn = Txn().compare_mod(key, cur.mod_revision).put(key, record).put(keys.eval(ev.id), ev)
            if store.commit(txn):
                return SubmitResult(ev.id, record.version, False, cur.mod_revision)
            continue
        version = cur.value.version + 1 if cur is not None else 0
        record = JobRecord(
            namespace=job.namespace,
            id=job.id,
            version=version,
            job=job,
            spec_hash=digest,
            stop=False,
            status=JobStatus.PENDING,
            source_file=source_file,
            submit_time=now,
            create_index=cur.value.create_index if cur is not None else 0,
        )
        ev = new_eval(record, "job-register")
        txn = Txn()
        if cur is None:
            txn.compare_absent(key)
        else:
            txn.compare_mod(key, cur.mod_revision)
        vkey = keys.job_version(job.namespace, job.id, version)
        txn.compare_absent(vkey).put(key, record).put(vkey, record).put(keys.eval(ev.id), ev)
        if store.commit(txn):
            log.info("job=%s/%s version=%d eval=%s registered", job.namespace, job.id, version, ev.id)
            return SubmitResult(ev.id, version, True, store.revision())
    raise RuntimeError(f"job {job.namespace}/{job.id}: too many concurrent updates, try again")


def stop_job(store: Store, namespace: str, job_id: str, *, purge: bool = False) -> str:
    """Mark the job stopped (a new version, history kept) or purge it; returns the eval id."""
    keys = store.keys
    key = keys.job(namespace, job_id)
    for _ in range(MAX_ATTEMPTS):
        cur = store.get(key, JobRecord)
        if cur is None:
            raise JobNotFound(f"job not found: {namespace}/{job_id}")
        if purge:
            ev = new_eval(cur.value, "job-deregister")
            txn = Txn().compare_mod(key, cur.mod_revision).delete(key).put(keys.eval(ev.id), ev)
            if store.commit(txn):
                store.delete_prefix(keys.job_versions(namespace, job_id))
                log.info("job=%s/%s purged eval=%s", namespace, job_id, ev.id)
                return ev.id
            continue
        if cur.value.stop:
            ev = new_eval(cur.value, "job-deregister")
            store.put(keys.eval(ev.id), ev)
            return ev.id
        record = replace(cur.value, version=cur.value.version + 1, stop=True, submit_time=time.time())
        ev = new_eval(record, "job-deregister")
        vkey = keys.job_version(namespace, job_id, record.version)
        txn = (
            Txn().compare_mod(key, cur.mod_revision).compare_absent(vkey)
            .put(key, record).put(vkey, record).put(keys.eval(ev.id), ev)
        )
        if store.commit(txn):
            log.info("job=%s/%s stopped version=%d eval=%s", namespace, job_id, record.version, ev.id)
            return ev.id
    raise RuntimeError(f"job {namespace}/{job_id}: too many concurrent updates, try again")


def create_eval(
    store: Store, namespace: str, job_id: str, triggered_by: str, *, node_id: str = "", deployment_id: str = ""
) -> Evaluation | None:
    """An evaluation for an existing job (node changes, scaling, deployments); None if no job."""
    cur = store.get(store.keys.job(namespace, job_id), JobRecord)
    if cur is None:
        return None
    ev = replace(new_eval(cur.value, triggered_by), node_id=NodeId(node_id), deployment_id=DeploymentId(deployment_id))
    store.put(store.keys.eval(ev.id), ev)
    return ev


def job_history(store: Store, namespace: str, job_id: str) -> list[JobRecord]:
    """Every stored version, newest first."""
    items, _ = store.list(store.keys.job_versions(namespace, job_id), JobRecord)
    return sorted((i.value for i in items), key=lambda r: r.version, reverse=True)
