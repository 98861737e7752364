"""`job allocs` and `job deployments`, as Nomad's: one job's allocations and deployments
as tables (the API endpoints `/v1/job/:id/allocations` and `/v1/job/:id/deployments`)."""

from __future__ import annotations

import click

from reconciler.cli.alloc_cmds import allocs_table
from reconciler.cli.client import api_errors, client_from
from reconciler.cli.deployment_cmds import deployments_table
from reconciler.cli.groups import job


@job.command("allocs")
@click.argument("job_id")
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_allocs(ctx: click.Context, job_id: str, namespace: str) -> None:
    """List a job's allocations."""
    with api_errors("Error retrieving allocations"):
        allocs = client_from(ctx).get(f"/v1/job/{job_id}/allocations", namespace=namespace)
    click.echo(allocs_table(allocs))


@job.command("deployments")
@click.argument("job_id")
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_deployments(ctx: click.Context, job_id: str, namespace: str) -> None:
    """List a job's deployments, newest first."""
    with api_errors("Error retrieving deployments"):
        deps = client_from(ctx).get(f"/v1/job/{job_id}/deployments", namespace=namespace)
    click.echo(deployments_table(deps) if deps else f"No deployments found for job {job_id!r}")
