"""`acl bootstrap`, `acl policy apply|list|info|delete`, `acl token create|update|list|info|delete|self`,
with Nomad's flags and output. The token the commands run with is the root `-token`
(or `RECONCILER_TOKEN` / `NOMAD_TOKEN`), as for every other command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from reconciler.cli.client import api_errors, client_from, fail
from reconciler.cli.groups import cli
from reconciler.cli.output import kv, table


@cli.group()
def acl() -> None:
    """Bootstrap ACLs and manage policies and tokens."""


@acl.group()
def policy() -> None:
    """Manage ACL policies."""


@acl.group()
def token() -> None:
    """Manage ACL tokens."""


def token_text(t: dict[str, Any]) -> str:
    """A token as Nomad's CLI prints it; the secret only where the API returned it."""
    return kv(
        [
            ("Accessor ID", t["AccessorID"]),
            ("Secret ID", t.get("SecretID") or "<hidden>"),
            ("Name", t.get("Name") or "<none>"),
            ("Type", t["Type"]),
            ("Global", str(t.get("Global", False)).lower()),
            ("Create Time", t.get("CreateTime", "")),
            ("Expiry Time", "<none>"),
            ("Create Index", t.get("CreateIndex", 0)),
            ("Modify Index", t.get("ModifyIndex", 0)),
            ("Policies", ", ".join(t.get("Policies") or []) or "n/a"),
            ("Roles", "n/a"),
        ]
    )


@acl.command("bootstrap")
@click.pass_context
def bootstrap(ctx: click.Context) -> None:
    """Create the first management token (once per cluster) and print it."""
    with api_errors("Error bootstrapping"):
        click.echo(token_text(client_from(ctx).post("/v1/acl/bootstrap")))


@policy.command("apply")
@click.option("-description", "--description", default="", help="A description of the policy.")
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path, allow_dash=True))
@click.pass_context
def policy_apply(ctx: click.Context, description: str, name: str, path: Path) -> None:
    """Create or update the policy NAME from the rules in PATH ('-' reads stdin)."""
    try:
        rules = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as exc:
        fail(f"Error reading policy file: {exc}")
    body = {"Name": name, "Description": description, "Rules": rules}
    with api_errors("Error writing ACL policy"):
        client_from(ctx).post(f"/v1/acl/policy/{name}", body)
    click.echo(f'Successfully wrote "{name}" ACL policy!')


@policy.command("list")
@click.pass_context
def policy_list(ctx: click.Context) -> None:
    """List the policies."""
    with api_errors("Error listing ACL policies"):
        items = client_from(ctx).get("/v1/acl/policies")
    if not items:
        click.echo("No policies found")
        return
    click.echo(table(["Name", "Description"], [[p["Name"], p.get("Description") or ""] for p in items]))


@policy.command("info")
@click.argument("name")
@click.pass_context
def policy_info(ctx: click.Context, name: str) -> None:
    """Show a policy and its rules."""
    with api_errors("Error reading ACL policy"):
        p = client_from(ctx).get(f"/v1/acl/policy/{name}")
    click.echo(
        kv(
            [
                ("Name", p["Name"]),
                ("Description", p.get("Description") or ""),
                ("CreateIndex", p.get("CreateIndex", 0)),
                ("ModifyIndex", p.get("ModifyIndex", 0)),
            ]
        )
    )
    click.echo("\nRules\n\n" + p.get("Rules", "").rstrip())


@policy.command("delete")
@click.argument("name")
@click.pass_context
def policy_delete(ctx: click.Context, name: str) -> None:
    """Delete a policy."""
    with api_errors("Error deleting ACL policy"):
        client_from(ctx).delete(f"/v1/acl/policy/{name}")
    click.echo(f'Successfully deleted "{name}" ACL policy!')


@token.command("create")
@click.option("-name", "--name", default="", help="A human name for the token.")
@click.option(
    "-type",
    "--type",
    "type_",
    type=click.Choice(["client", "management"]),
    default="client",
    show_default=True,
)
@click.option("-policy", "--policy", "policies", multiple=True, help="A policy to attach (repeatable).")
@click.option("-global", "--global", "is_global", is_flag=True, help="Mark the token global (as in Nomad).")
@click.pass_context
def token_create(
    ctx: click.Context, name: str, type_: str, policies: tuple[str, ...], is_global: bool
) -> None:
    """Create a token; its Secret ID is shown this once."""
    body = {"Name": name, "Type": type_, "Policies": list(policies), "Global": is_global}
    with api_errors("Error creating token"):
        click.echo(token_text(client_from(ctx).post("/v1/acl/token", body)))


@token.command("update")
@click.option("-name", "--name", default=None, help="A new name.")
@click.option("-type", "--type", "type_", type=click.Choice(["client", "management"]), default=None)
@click.option("-policy", "--policy", "policies", multiple=True, help="Replace the policies (repeatable).")
@click.argument("accessor_id")
@click.pass_context
def token_update(
    ctx: click.Context, name: str | None, type_: str | None, policies: tuple[str, ...], accessor_id: str
) -> None:
    """Change a token's name, type or policies (what is not given stays)."""
    c = client_from(ctx)
    with api_errors("Error updating token"):
        cur = c.get(f"/v1/acl/token/{accessor_id}")
        body = {
            "AccessorID": accessor_id,
            "Name": cur.get("Name", "") if name is None else name,
            "Type": cur["Type"] if type_ is None else type_,
            "Policies": list(policies) if policies else (cur.get("Policies") or []),
        }
        if body["Type"] == "management":
            body["Policies"] = []
        click.echo(token_text(c.post(f"/v1/acl/token/{accessor_id}", body)))


@token.command("list")
@click.pass_context
def token_list(ctx: click.Context) -> None:
    """List the tokens (never their secrets)."""
    with api_errors("Error listing tokens"):
        items = client_from(ctx).get("/v1/acl/tokens")
    if not items:
        click.echo("No tokens found")
        return
    rows = [
        [t.get("Name") or "<none>", t["Type"], str(t.get("Global", False)).lower(), t["AccessorID"], "false"]
        for t in items
    ]
    click.echo(table(["Name", "Type", "Global", "Accessor ID", "Expired"], rows))


@token.command("info")
@click.argument("accessor_id")
@click.pass_context
def token_info(ctx: click.Context, accessor_id: str) -> None:
    """Show a token by its accessor id."""
    with api_errors("Error fetching token"):
        click.echo(token_text(client_from(ctx).get(f"/v1/acl/token/{accessor_id}")))


@token.command("self")
@click.pass_context
def token_self(ctx: click.Context) -> None:
    """Show the token the command runs with."""
    with api_errors("Error fetching self token"):
        click.echo(token_text(client_from(ctx).get("/v1/acl/token/self")))


@token.command("delete")
@click.argument("accessor_id")
@click.pass_context
def token_delete(ctx: click.Context, accessor_id: str) -> None:
    """Delete a token by its accessor id."""
    with api_errors("Error deleting token"):
        client_from(ctx).delete(f"/v1/acl/token/{accessor_id}")
    click.echo(f"Token {accessor_id} successfully deleted")
