"""Update policy, pure: which job changes need new allocations, and how many replacements
may run at once.

`tasks_updated` is Nomad's destructive-or-in-place rule; `reconcile` takes any `UpdateFn`
(tests use `always_destructive` / `always_inplace`). `default_max_replace` is the
rolling-update gate without a deployment controller (with one, `deployment_gate` sets it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from controllers.scheduler.allocs import client_status_of, is_terminal
from reconciler.model.ids import AllocId
from reconciler.model.job import Job
from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, DesiredStatus

# (old job or None if unknown, new job, group name) -> True if the change needs a new allocation
UpdateFn = Callable[[Job | None, Job, str], bool]


def tasks_updated(old: Job | None, new: Job, group: str) -> bool:
    """Nomad's rule, as the job diff words it too: a change to the group's tasks or networks
    (driver, config, env, resources, artifacts, templates, logs, user, ports, ephemeral disk,
    tasks added or removed) is destructive; count, services, meta, constraints, kill
    settings, restart/reschedule policies and the update stanza are updated in place."""
    if old is None:
        return True
    og, ng = old.group(group), new.group(group)
    if og is None or ng is None:
        return True
    if og.networks != ng.networks or og.ephemeral_disk != ng.ephemeral_disk:
        return True
    if len(og.tasks) != len(ng.tasks):
        return True
    for ot, nt in zip(og.tasks, ng.tasks, strict=True):
        if (
            ot.name != nt.name
            or ot.driver != nt.driver
            or ot.config != nt.config
            or ot.env != nt.env
            or ot.resources != nt.resources
            or ot.artifacts != nt.artifacts
            or ot.templates != nt.templates
            or ot.user != nt.user
            or ot.logs != nt.logs
        ):
            return True
    return False


def always_destructive(old: Job | None, new: Job, group: str) -> bool:
    return True


def always_inplace(old: Job | None, new: Job, group: str) -> bool:
    return False


def default_max_replace(
    job: Job, version: int, allocs: list[Allocation], statuses: Mapping[AllocId, AllocStatus]
) -> dict[str, int]:
    """The gate until a deployment controller drives it: per group, `update.max_parallel`
    minus the replacements of this version that are not running yet. No update stanza (or
    max_parallel 0) means no limit."""
    out: dict[str, int] = {}
    for g in job.task_groups:
        upd = job.update_for(g)
        if upd is None or upd.max_parallel <= 0:
            out[g.name] = 1 << 30
            continue
        in_flight = 0
        for a in allocs:
            if (
                a.task_group == g.name
                and a.job_version == version
                and a.previous_allocation
                and a.desired_status == DesiredStatus.RUN
                and client_status_of(a, statuses) != ClientStatus.RUNNING
                and not is_terminal(a, statuses)
            ):
                in_flight += 1
        out[g.name] = max(0, upd.max_parallel - in_flight)
    return out
