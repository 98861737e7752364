"""Deployment commands: `deployment list|status|promote|fail|pause|resume` and
`job promote`, in Nomad's words and layout."""

from __future__ import annotations

import sys
from typing import Any

import click

from reconciler.cli.client import ApiClient, ApiClientError, client_from, fail
from reconciler.cli.groups import deployment, job
from reconciler.cli.job_cmds import deployment_block, monitor, monitor_eval
from reconciler.cli.output import short, table


def _find(api: ApiClient, dep_id: str) -> dict[str, Any]:
    """A deployment by id or unique id prefix (the short ids the CLI prints)."""
    try:
        return dict(api.get(f"/v1/deployment/{dep_id}"))
    except ApiClientError as exc:
        if exc.status != 404:
            fail(f"Error retrieving deployment: {exc.message}")
    matches = [d for d in api.get("/v1/deployments", prefix=dep_id, namespace="*")]
    if len(matches) != 1:
        fail(f"No deployment with prefix or id {dep_id!r} found" if not matches
             else f"Prefix {dep_id!r} matched multiple deployments")
    return dict(matches[0])


def _update(ctx: click.Context, path: str, body: Any, detach: bool, what: str, *, follow: bool = False) -> None:
    api = client_from(ctx)
    try:
        resp = api.post(path, body)
    except ApiClientError as exc:
        fail(f"Error {what} deployment: {exc.message}")
    if detach:
        click.echo(resp["EvalID"])
        return
    sys.exit(monitor(api, resp["EvalID"]) if follow else monitor_eval(api, resp["EvalID"]))


@deployment.command("list")
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def deployment_list(ctx: click.Context, namespace: str) -> None:
    """List deployments, newest first."""
    deps = client_from(ctx).get("/v1/deployments", namespace=namespace)
    if not deps:
        click.echo("No deployments found")
        return
    rows = [(short(d["ID"]), d["JobID"], d["JobVersion"], d["Status"], d["StatusDescription"]) for d in deps]
    click.echo(table(["ID", "Job ID", "Job Version", "Status", "Description"], rows))


@deployment.command("status")
@click.argument("deployment_id")
@click.pass_context
def deployment_status(ctx: click.Context, deployment_id: str) -> None:
    """Show a deployment: its status, description and the per-group table."""
    click.echo(deployment_block(_find(client_from(ctx), deployment_id)))


@deployment.command("promote")
@click.argument("deployment_id")
@click.option("-group", "--group", "groups", multiple=True, help="Promote only this task group (repeatable).")
@click.option("-detach", "--detach", is_flag=True)
@click.pass_context
def deployment_promote(ctx: click.Context, deployment_id: str, groups: tuple[str, ...], detach: bool) -> None:
    """Promote a deployment's canaries (all groups unless -group)."""
    d = _find(client_from(ctx), deployment_id)
    body = {"DeploymentID": d["ID"], **({"Groups": list(groups)} if groups else {"All": True})}
    _update(ctx, f"/v1/deployment/promote/{d['ID']}", body, detach, "promoting", follow=True)


@deployment.command("fail")
@click.argument("deployment_id")
@click.option("-detach", "--detach", is_flag=True)
@click.pass_context
def deployment_fail(ctx: click.Context, deployment_id: str, detach: bool) -> None:
    """Mark a running deployment as failed (auto_revert then rolls back)."""
    d = _find(client_from(ctx), deployment_id)
    _update(ctx, f"/v1/deployment/fail/{d['ID']}", {"DeploymentID": d["ID"]}, detach, "failing")


@deployment.command("pause")
@click.argument("deployment_id")
@click.pass_context
def deployment_pause(ctx: click.Context, deployment_id: str) -> None:
    """Pause a running deployment: nothing more is replaced until it is resumed."""
    d = _find(client_from(ctx), deployment_id)
    _update(ctx, f"/v1/deployment/pause/{d['ID']}", {"DeploymentID": d["ID"], "Pause": True}, True, "pausing")


@deployment.command("resume")
@click.argument("deployment_id")
@click.pass_context
def deployment_resume(ctx: click.Context, deployment_id: str) -> None:
    """Resume a paused deployment."""
    d = _find(client_from(ctx), deployment_id)
    _update(ctx, f"/v1/deployment/pause/{d['ID']}", {"DeploymentID": d["ID"], "Pause": False}, True, "resuming")


@job.command("promote")
@click.argument("job_id")
@click.option("-group", "--group", "groups", multiple=True, help="Promote only this task group (repeatable).")
@click.option("-detach", "--detach", is_flag=True)
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_promote(ctx: click.Context, job_id: str, groups: tuple[str, ...], detach: bool, namespace: str) -> None:
    """Promote the canaries of a job's latest deployment."""
    api = client_from(ctx)
    try:
        d = api.get(f"/v1/job/{job_id}/deployment", namespace=namespace)
    except ApiClientError as exc:
        fail(f"Error retrieving deployment: {exc.message}")
    if not d:
        fail(f"Job {job_id!r} has no deployment to promote")
    body = {"DeploymentID": d["ID"], **({"Groups": list(groups)} if groups else {"All": True})}
    _update(ctx, f"/v1/deployment/promote/{d['ID']}", body, detach, "promoting", follow=True)
