"""Nomad's defaults that depend on other fields, filled in after decoding.

The data classes carry the fixed defaults (count 1, cpu 100, memory 300 ...). What
depends on the job type or on names is filled here, as Nomad's canonicalisation does:
each group of a service or system job gets its update strategy (the job's, or the
default), every group gets the restart and reschedule policy of the job type, services
get `<job>-<group>[-<task>]` names and checks `service: "<name>" check`; static ports
come before dynamic ones (the order Nomad's JSON gives them back). Idempotent: a
filled job is returned unchanged, so HCL, YAML and Nomad JSON all end up equal.
"""

from __future__ import annotations

import copy

from reconciler.model.job import (
    Job,
    ReschedulePolicy,
    RestartPolicy,
    Service,
    UpdateStrategy,
    one_per_node,
    runs_to_completion,
)


def default_service_name(job: Job, group: str, task: str | None) -> str:
    return f"{job.id}-{group}-{task}" if task else f"{job.id}-{group}"


def default_check_name(service: Service, index: int) -> str:
    suffix = "" if index == 0 else f" {index}"
    return f'service: "{service.name}" check{suffix}'


def _fill_services(job: Job, group: str, task: str | None, services: list[Service]) -> None:
    for service in services:
        if not service.name:
            service.name = default_service_name(job, group, task)
        for i, check in enumerate(service.checks):
            if not check.name:
                check.name = default_check_name(service, i)


def fill_defaults(job: Job) -> Job:
    """A copy of `job` with the type- and name-dependent defaults filled in."""
    job = copy.deepcopy(job)
    if not job.name:
        job.name = job.id
    job.node_pool = job.node_pool or "default"  # Nomad's job register fills in the namespace's default
    for group in job.task_groups:
        if group.update is None and not runs_to_completion(job.type):
            group.update = copy.deepcopy(job.update) if job.update is not None else UpdateStrategy()
        if group.restart is None:
            group.restart = RestartPolicy.default_for(job.type)
        if group.reschedule is None and not one_per_node(job.type):
            group.reschedule = ReschedulePolicy.default_for(job.type)
        for network in group.networks:
            # Static ports first: Nomad's JSON keeps them apart (ReservedPorts, DynamicPorts).
            network.ports.sort(key=lambda p: p.static == 0)
        _fill_services(job, group.name, None, group.services)
        for task in group.tasks:
            _fill_services(job, group.name, task.name, task.services)
    return job
