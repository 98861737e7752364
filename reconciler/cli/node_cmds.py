"""`node status|eligibility|drain` and `node pool list|info|nodes`, printed as Nomad prints them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from reconciler.cli.alloc_cmds import allocs_table
from reconciler.cli.client import client_from, fail
from reconciler.cli.groups import node
from reconciler.cli.output import kv, short, table

F = TypeVar("F", bound=Callable[..., Any])


def nodes_table(nodes: list[dict[str, Any]]) -> str:
    """Node stubs as `nomad node status` lists them."""
    return table(
        ["ID", "Node Pool", "DC", "Name", "Class", "Drain", "Eligibility", "Status"],
        [
            [
                short(n["ID"]),
                n.get("NodePool") or "default",
                n["Datacenter"],
                n["Name"],
                n["NodeClass"] or "<none>",
                str(n["Drain"]).lower(),
                n["SchedulingEligibility"],
                n["Status"],
            ]
            for n in nodes
        ],
    )


@node.command("status")
@click.argument("node_id", required=False)
@click.pass_context
def node_status(ctx: click.Context, node_id: str | None) -> None:
    """List nodes, or show one node and its allocations."""
    c = client_from(ctx)
    if not node_id:
        nodes = c.get("/v1/nodes")
        if not nodes:
            click.echo("No nodes registered")
            return
        click.echo(nodes_table(nodes))
        return
    n = c.get(f"/v1/node/{node_id}")
    allocs = c.get(f"/v1/node/{n['ID']}/allocations")
    res = n.get("NodeResources") or {}
    click.echo(
        kv(
            [
                ("ID", n["ID"]),
                ("Name", n["Name"]),
                ("Class", n["NodeClass"] or "<none>"),
                ("Node Pool", n.get("NodePool") or "default"),
                ("DC", n["Datacenter"]),
                ("Drain", str(n["Drain"]).lower()),
                ("Eligibility", n["SchedulingEligibility"]),
                ("Status", n["Status"]),
                ("Address", n.get("Address", "")),
                ("CPU", f"{(res.get('Cpu') or {}).get('CpuShares', 0)} MHz"),
                ("Memory", f"{(res.get('Memory') or {}).get('MemoryMB', 0)} MiB"),
                ("Disk", f"{(res.get('Disk') or {}).get('DiskMB', 0)} MiB"),
                ("Dynamic Ports", f"{res.get('MinDynamicPort', '')}-{res.get('MaxDynamicPort', '')}"),
                ("Drivers", ",".join(sorted(d for d, v in n.get("Drivers", {}).items() if v.get("Healthy")))),
                ("Host Volumes", ",".join(sorted(n.get("HostVolumes") or {})) or "<none>"),
            ]
        )
    )
    click.echo("\nAllocations")
    click.echo(allocs_table([a for a in allocs if a["DesiredStatus"] == "run"]))


def _switch(
    ctx: click.Context,
    node_id: str,
    enable: bool,
    disable: bool,
    action: str,
    body: Callable[[bool], dict[str, Any]],
) -> tuple[str, bool]:
    """The body of `eligibility` and `drain`: exactly one of -enable/-disable, the node
    resolved from a unique id prefix, then one POST to `/v1/node/<id>/<action>`. Returns the
    full node id and the switch's new position."""
    if enable == disable:
        fail("Error: give exactly one of -enable or -disable")
    c = client_from(ctx)
    n = c.get(f"/v1/node/{node_id}")
    c.post(f"/v1/node/{n['ID']}/{action}", body(enable))
    return n["ID"], enable


def _onoff(fn: F) -> F:
    """The `-enable` / `-disable` pair of `eligibility` and `drain`."""
    return click.option("-enable", "--enable", is_flag=True)(
        click.option("-disable", "--disable", is_flag=True)(fn)
    )


@node.command("eligibility")
@_onoff
@click.argument("node_id")
@click.pass_context
def node_eligibility(ctx: click.Context, enable: bool, disable: bool, node_id: str) -> None:
    """Allow or forbid new placements on a node."""
    ident, on = _switch(
        ctx,
        node_id,
        enable,
        disable,
        "eligibility",
        lambda on: {"Eligibility": "eligible" if on else "ineligible"},
    )
    click.echo(
        f'Node "{ident}" scheduling eligibility set: {"eligible" if on else "ineligible"} for scheduling'
    )


@node.command("drain")
@_onoff
@click.option("-yes", "--yes", is_flag=True, help="Accepted for Nomad compatibility.")
@click.argument("node_id")
@click.pass_context
def node_drain(ctx: click.Context, enable: bool, disable: bool, yes: bool, node_id: str) -> None:
    """Move a node's allocations elsewhere (replacements first) and keep new ones off it."""
    ident, on = _switch(
        ctx,
        node_id,
        enable,
        disable,
        "drain",
        lambda on: (
            {"DrainSpec": {"Deadline": 3600 * 10**9, "IgnoreSystemJobs": False}}
            if on
            else {"DrainSpec": None, "MarkEligible": True}
        ),
    )
    click.echo(f'Node "{ident}" drain strategy {"set" if on else "unset"}')


@node.group("pool")
def node_pool() -> None:
    """Inspect node pools: the built-in "all" and "default" and those the nodes register in."""


@node_pool.command("list")
@click.option("-prefix", "--prefix", default="", help="Only the pools whose name starts with this.")
@click.pass_context
def node_pool_list(ctx: click.Context, prefix: str) -> None:
    """List the node pools."""
    pools = client_from(ctx).get("/v1/node/pools", **({"prefix": prefix} if prefix else {}))
    if not pools:
        click.echo("No node pools found")
        return
    click.echo(table(["Name", "Description"], [[p["Name"], p["Description"]] for p in pools]))


@node_pool.command("info")
@click.argument("name")
@click.pass_context
def node_pool_info(ctx: click.Context, name: str) -> None:
    """Show one node pool."""
    p = client_from(ctx).get(f"/v1/node/pool/{name}")
    click.echo(kv([("Name", p["Name"]), ("Description", p["Description"])]))
    click.echo("\nMetadata")
    click.echo("\n".join(f"{k} = {v}" for k, v in sorted((p.get("Meta") or {}).items())) or "No metadata")
    click.echo("\nScheduler Configuration")
    click.echo("No scheduler configuration")


@node_pool.command("nodes")
@click.argument("name")
@click.pass_context
def node_pool_nodes(ctx: click.Context, name: str) -> None:
    """List the nodes of a node pool (every node for "all")."""
    nodes = client_from(ctx).get(f"/v1/node/pool/{name}/nodes")
    if not nodes:
        click.echo("No nodes in node pool")
        return
    click.echo(nodes_table(nodes))
