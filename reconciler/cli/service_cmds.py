"""`reconciler service list|info`: the service catalog, in the tables `nomad service` prints."""

from __future__ import annotations

import json

import click

from reconciler.cli.client import client_from, fail
from reconciler.cli.groups import cli
from reconciler.cli.output import short, table


@cli.group()
def service() -> None:
    """Inspect registered services (native service discovery)."""


@service.command(name="list")
@click.option(
    "-namespace", "--namespace", default="default", show_default=True, help="Namespace ('*' for all)."
)
@click.option("-json", "--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.pass_context
def list_(ctx: click.Context, namespace: str, as_json: bool) -> None:
    """List services and their tags."""
    data = client_from(ctx).get("/v1/services", namespace=namespace)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    rows = [(s["ServiceName"], "[" + ",".join(s["Tags"]) + "]") for ns in data for s in ns["Services"]]
    if not rows:
        click.echo("No services found")
        return
    click.echo(table(["Service Name", "Tags"], rows))


@service.command()
@click.argument("name")
@click.option("-namespace", "--namespace", default="default", show_default=True)
@click.option("-verbose", "--verbose", is_flag=True, help="Full ids and each instance's checks.")
@click.option("-json", "--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.pass_context
def info(ctx: click.Context, name: str, namespace: str, verbose: bool, as_json: bool) -> None:
    """Show the registrations (instances) of one service."""
    api = client_from(ctx)
    regs = api.get(f"/v1/service/{name}", namespace=namespace)
    if as_json:
        click.echo(json.dumps(regs, indent=2))
        return
    if not regs:
        fail(f"No service registrations found for {name!r}")
    ident = (lambda s: s) if verbose else short
    rows = []
    for r in regs:
        row = [
            r["JobID"],
            f"{r['Address']}:{r['Port']}",
            "[" + ",".join(r["Tags"]) + "]",
            ident(r["NodeID"]),
            ident(r["AllocID"]),
        ]
        if verbose:
            checks = api.get(f"/v1/client/allocation/{r['AllocID']}/checks")
            mine = [c for c in checks.values() if c["Service"] == r["ServiceName"]]
            row.append(", ".join(f"{c['Check']}={c['Health']}" for c in mine) or "-")
        rows.append(row)
    header = ["Job ID", "Address", "Tags", "Node ID", "Alloc ID"] + (["Checks"] if verbose else [])
    click.echo(table(header, rows))
