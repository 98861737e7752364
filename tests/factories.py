"""Small factories for model objects used across tests (no I/O)."""

from __future__ import annotations

from reconciler.model.job import Job, Network, Port, Resources, Task, TaskGroup
from reconciler.spec import fill_defaults


def mock_job(job_id: str = "web", *, count: int = 1, command: str = "/bin/sleep", args: list[str] | None = None,
             group: str = "web", ports: list[Port] | None = None) -> Job:
    task = Task(
        name="server", driver="raw_exec",
        config={"command": command, "args": args if args is not None else ["3600"]},
        resources=Resources(cpu=100, memory=64),
    )
    networks = [Network(ports=ports)] if ports else []
    job = Job(id=job_id, datacenters=["dc1"],
              task_groups=[TaskGroup(name=group, count=count, tasks=[task], networks=networks)])
    return fill_defaults(job)  # as every parser returns it
