"""The cluster's scheduler configuration, as Nomad's `SchedulerConfiguration`: which
schedulers may preempt lower-priority allocations (`PreemptionConfig`).

One record in etcd (`Keys.scheduler_config`), read by the scheduler from its cache and
written by `PUT /v1/operator/scheduler/configuration` (reconciler.ops.operator). Absent, it
is Nomad's default: only the system scheduler preempts. The other fields of Nomad's object
are answered with their defaults and refused when set otherwise (the scheduler has one
algorithm, no memory oversubscription, no registration pause).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.model.job import JobType


@dataclass(frozen=True)
class PreemptionConfig:
    """Per scheduler (job type): may a placement evict lower-priority allocations."""

    system_scheduler_enabled: bool = True
    sysbatch_scheduler_enabled: bool = False
    batch_scheduler_enabled: bool = False
    service_scheduler_enabled: bool = False

    def enabled_for(self, job_type: str) -> bool:
        return {
            JobType.SYSTEM: self.system_scheduler_enabled,
            JobType.SYSBATCH: self.sysbatch_scheduler_enabled,
            JobType.BATCH: self.batch_scheduler_enabled,
            JobType.SERVICE: self.service_scheduler_enabled,
        }.get(JobType(job_type), False)


@dataclass(frozen=True)
class SchedulerConfig:
    preemption_config: PreemptionConfig = field(default_factory=PreemptionConfig)
    create_time: float = 0.0
    schema: int = 1


DEFAULT = SchedulerConfig()
