"""`deployment list|status|promote|fail|pause|resume`, in Nomad's words and layout.
`job promote` (in job_cmds) promotes through `promote` here."""

from __future__ import annotations

from typing import Any

import click

from reconciler.cli.client import ApiClient, ApiClientError, api_errors, client_from, fail
from reconciler.cli.groups import deployment
from reconciler.cli.monitor import deployment_block, follow
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
        fail(
            f"No deployment with prefix or id {dep_id!r} found"
            if not matches
            else f"Prefix {dep_id!r} matched multiple deployments"
        )
    return dict(matches[0])


def _update(
    ctx: click.Context,
    d: dict[str, Any],
    action: str,
    body: dict[str, Any],
    *,
    detach: bool,
    what: str,
    deployment: bool = False,
) -> None:
    """POST `/v1/deployment/<action>/<id>`, then follow the evaluation it created (and the
    deployment too when `deployment`)."""
    api = client_from(ctx)
    with api_errors(f"Error {what} deployment"):
        resp = api.post(f"/v1/deployment/{action}/{d['ID']}", {"DeploymentID": d["ID"], **body})
    follow(api, resp["EvalID"], detach=detach, deployment=deployment)


def promote(ctx: click.Context, d: dict[str, Any], groups: tuple[str, ...], detach: bool) -> None:
    """Promote a deployment's canaries (all groups, or only `groups`) and follow it."""
    body: dict[str, Any] = {"Groups": list(groups)} if groups else {"All": True}
    _update(ctx, d, "promote", body, detach=detach, what="promoting", deployment=True)


def _set_paused(ctx: click.Context, deployment_id: str, pause: bool) -> None:
    """The body of `pause` and `resume`; prints the evaluation id, as Nomad does."""
    d = _find(client_from(ctx), deployment_id)
    _update(ctx, d, "pause", {"Pause": pause}, detach=True, what="pausing" if pause else "resuming")


@deployment.command("list")
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def deployment_list(ctx: click.Context, namespace: str) -> None:
    """List deployments, newest first."""
    deps = client_from(ctx).get("/v1/deployments", namespace=namespace)
    click.echo(deployments_table(deps) if deps else "No deployments found")


def deployments_table(deps: list[dict[str, Any]]) -> str:
    """The table of `deployment list` and `job deployments`."""
    rows = [(short(d["ID"]), d["JobID"], d["JobVersion"], d["Status"], d["StatusDescription"]) for d in deps]
    return table(["ID", "Job ID", "Job Version", "Status", "Description"], rows)


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
    promote(ctx, _find(client_from(ctx), deployment_id), groups, detach)


@deployment.command("fail")
@click.argument("deployment_id")
@click.option("-detach", "--detach", is_flag=True)
@click.pass_context
def deployment_fail(ctx: click.Context, deployment_id: str, detach: bool) -> None:
    """Mark a running deployment as failed (auto_revert then rolls back)."""
    _update(ctx, _find(client_from(ctx), deployment_id), "fail", {}, detach=detach, what="failing")


@deployment.command("pause")
@click.argument("deployment_id")
@click.pass_context
def deployment_pause(ctx: click.Context, deployment_id: str) -> None:
    """Pause a running deployment: nothing more is replaced until it is resumed."""
    _set_paused(ctx, deployment_id, True)


@deployment.command("resume")
@click.argument("deployment_id")
@click.pass_context
def deployment_resume(ctx: click.Context, deployment_id: str) -> None:
    """Resume a paused deployment."""
    _set_paused(ctx, deployment_id, False)
