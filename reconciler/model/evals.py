"""The one way to make a new `Evaluation`: every writer (job submit, alloc stop, node
updates, the deployment watcher, the scheduler's follow-ups, liveness) builds it here, so
an evaluation always carries its job's type, priority and version when the job is known.

Pure but for the random id; the caller passes the time.
"""

from __future__ import annotations

from reconciler.model.ids import DeploymentId, EvalId, NodeId, new_id
from reconciler.model.job import JobType
from reconciler.model.objects import Evaluation, JobRecord

DEFAULT_PRIORITY = 50  # Nomad's job priority default


def new_eval(
    namespace: str,
    job_id: str,
    triggered_by: str,
    *,
    now: float,
    record: JobRecord | None = None,
    job_version: int | None = None,
    node_id: NodeId = NodeId(""),
    deployment_id: DeploymentId = DeploymentId(""),
    previous_eval: EvalId = EvalId(""),
    wait_until: float = 0.0,
    status_description: str = "",
    eval_id: EvalId | None = None,
) -> Evaluation:
    """A pending evaluation of `namespace/job_id`. `record` (the job, if it exists) gives
    type, priority and version; `job_version` overrides the version (or gives it when the job
    is unknown). `eval_id` is for the scheduler recording an evaluation it already works on."""
    version = job_version if job_version is not None else record.version if record is not None else 0
    return Evaluation(
        id=eval_id if eval_id is not None else EvalId(new_id()),
        namespace=namespace,
        job_id=job_id,
        triggered_by=triggered_by,
        type=record.job.type if record is not None else JobType.SERVICE,
        priority=record.job.priority if record is not None else DEFAULT_PRIORITY,
        job_version=version,
        node_id=node_id,
        deployment_id=deployment_id,
        previous_eval=previous_eval,
        wait_until=wait_until,
        status_description=status_description,
        create_time=now,
        modify_time=now,
    )
