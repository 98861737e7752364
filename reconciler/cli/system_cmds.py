"""`system gc`, as Nomad's: ask the cluster to collect finished work now."""

from __future__ import annotations

import click

from reconciler.cli.client import api_errors, client_from
from reconciler.cli.groups import system


@system.command("gc")
@click.pass_context
def system_gc(ctx: click.Context) -> None:
    """Garbage-collect finished evaluations, allocations, deployments, dead jobs, old job
    versions and down nodes now, whatever their age."""
    with api_errors("Error running system garbage collection"):
        client_from(ctx).put("/v1/system/gc", {})
