"""Launching children of template jobs: `job periodic force` (Nomad's command and
output)."""

from __future__ import annotations

import click

from reconciler.cli.client import api_errors, client_from, job_path
from reconciler.cli.groups import job
from reconciler.cli.job_cmds import namespace_opt
from reconciler.cli.monitor import follow


@job.group("periodic")
def periodic() -> None:
    """Interact with periodic jobs."""


@periodic.command("force")
@click.argument("job_id")
@click.option("-detach", "--detach", is_flag=True, help="Print the evaluation ID and return.")
@namespace_opt
@click.pass_context
def periodic_force(ctx: click.Context, job_id: str, detach: bool, namespace: str) -> None:
    """Launch a child of the periodic job now, whatever its schedule."""
    api = client_from(ctx)
    with api_errors("Error forcing periodic job"):
        resp = api.post(job_path(job_id, "/periodic/force"), namespace=namespace)
    follow(api, resp["EvalID"], detach=detach, detached="Force periodic successful\nEvaluation ID: {eval_id}")
