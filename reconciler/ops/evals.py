"""The one constructor of the evaluations the user operations create (same signature as
`reconciler.model.evals.new_eval` on the domain branch, which replaces it when merged).

An evaluation asks the scheduler to look at a job again. Every operation writes one in the
same transaction as its change, so the scheduler never sees the change without the request
to act on it (nor the request without the change). The type, priority and version come
from the job's record when there is one, as the scheduler's own follow-ups do.
"""

from __future__ import annotations

from reconciler.model.ids import new_id
from reconciler.model.objects import Evaluation, JobRecord


def new_eval(
    namespace: str,
    job_id: str,
    triggered_by: str,
    *,
    now: float,
    record: JobRecord | None = None,
    job_version: int | None = None,
    node_id: str = "",
    deployment_id: str = "",
    status_description: str = "",
) -> Evaluation:
    """A pending evaluation for `namespace/job_id`; `record` (the job's current record, if
    known) supplies type, priority and version; `job_version` overrides the version."""
    return Evaluation(
        id=new_id(),
        namespace=namespace,
        job_id=job_id,
        triggered_by=triggered_by,
        type=record.job.type if record is not None else "service",
        priority=record.job.priority if record is not None else 50,
        job_version=job_version if job_version is not None else (record.version if record is not None else 0),
        node_id=node_id,
        deployment_id=deployment_id,
        status_description=status_description,
        create_time=now,
        modify_time=now,
    )
