"""The command groups, shared by every `*_cmds` module."""

from __future__ import annotations

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.option(
    "--address", "-address", envvar=["RECONCILER_ADDR", "NOMAD_ADDR"], default="http://127.0.0.1:4646",
    show_default=True, help="Address of the agent's HTTP API.",
)
@click.pass_context
def cli(ctx: click.Context, address: str) -> None:
    """reconciler: run jobs like Nomad, reconciled like Kubernetes."""
    ctx.obj = {"address": address}


@cli.group()
def job() -> None:
    """Inspect and operate on jobs."""


@cli.group()
def alloc() -> None:
    """Inspect and operate on allocations."""


@cli.group()
def node() -> None:
    """Inspect and operate on nodes."""


@cli.group(name="eval")
def eval_() -> None:
    """Inspect evaluations."""


@cli.group()
def deployment() -> None:
    """Inspect and operate on deployments."""
