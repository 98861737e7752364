"""`namespace list|status|apply|delete`, with Nomad's flags and output (`docs/api.md`,
"Namespaces"). Writes need a management token, as in Nomad."""

from __future__ import annotations

from typing import Any

import click

from reconciler.cli.client import ApiClientError, api_errors, client_from
from reconciler.cli.groups import cli
from reconciler.cli.output import kv, table


@cli.group()
def namespace() -> None:
    """Create, inspect and delete namespaces."""


@namespace.command("list")
@click.pass_context
def namespace_list(ctx: click.Context) -> None:
    """List the namespaces."""
    with api_errors("Error retrieving namespaces"):
        items = client_from(ctx).get("/v1/namespaces")
    if not items:
        click.echo("No namespaces found")
        return
    click.echo(table(["Name", "Description"], [[n["Name"], n.get("Description") or ""] for n in items]))


@namespace.command("status")
@click.argument("name")
@click.pass_context
def namespace_status(ctx: click.Context, name: str) -> None:
    """Show a namespace and its metadata."""
    with api_errors("Error looking up namespace"):
        n = client_from(ctx).get(f"/v1/namespace/{name}")
    click.echo(
        kv(
            [
                ("Name", n["Name"]),
                ("Description", n.get("Description") or ""),
                ("Quota", n.get("Quota") or ""),
            ]
        )
    )
    meta = n.get("Meta") or {}
    if meta:
        click.echo("\nMetadata\n" + kv(sorted(meta.items())))


def _current(ctx: click.Context, name: str) -> dict[str, Any]:
    """The namespace as it is (an update changes only what is given), or a new one."""
    try:
        got: dict[str, Any] = client_from(ctx).get(f"/v1/namespace/{name}")
        return got
    except ApiClientError as exc:
        if exc.status != 404:
            raise
        return {"Name": name}


@namespace.command("apply")
@click.option("-description", "--description", default=None, help="A description of the namespace.")
@click.argument("name")
@click.pass_context
def namespace_apply(ctx: click.Context, description: str | None, name: str) -> None:
    """Create the namespace NAME, or update its description."""
    with api_errors("Error applying namespace specification"):
        body = _current(ctx, name)
        if description is not None:
            body["Description"] = description
        body = {k: body.get(k) for k in ("Name", "Description", "Meta") if body.get(k) is not None}
        client_from(ctx).put(f"/v1/namespace/{name}", body)
    click.echo(f'Successfully applied namespace "{name}"!')


@namespace.command("delete")
@click.argument("name")
@click.pass_context
def namespace_delete(ctx: click.Context, name: str) -> None:
    """Delete a namespace (refused for `default` and while a job in it is not dead)."""
    with api_errors("Error deleting namespace"):
        client_from(ctx).delete(f"/v1/namespace/{name}")
    click.echo(f'Successfully deleted namespace "{name}"!')
