"""The command groups, shared by every `*_cmds` module (one module per resource)."""

from __future__ import annotations

from typing import Any

import click

from reconciler.cli.client import ApiClientError, TlsClient, fail

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Root(click.Group):
    """The root group: an API error that no command worded itself ends as `Error: <message>`
    and exit 1, never a traceback (the CLI's one error path, with `client.api_errors`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ApiClientError as exc:
            fail(f"Error: {exc.message}")


@click.group(cls=Root, context_settings=CONTEXT)
@click.option(
    "--address",
    "-address",
    envvar=["RECONCILER_ADDR", "NOMAD_ADDR"],
    default="http://127.0.0.1:4646",
    show_default=True,
    help="Address of the agent's HTTP API.",
)
@click.option(
    "--token",
    "-token",
    envvar=["RECONCILER_TOKEN", "NOMAD_TOKEN"],
    default="",
    help="ACL token (its secret ID) sent with every request.",
)
@click.option(
    "--ca-cert",
    "-ca-cert",
    envvar=["RECONCILER_CACERT", "NOMAD_CACERT"],
    default="",
    help="CA certificate that signed the agent's (https addresses).",
)
@click.option(
    "--client-cert",
    "-client-cert",
    envvar=["RECONCILER_CLIENT_CERT", "NOMAD_CLIENT_CERT"],
    default="",
    help="Client certificate, for an agent started with --tls-ca.",
)
@click.option(
    "--client-key",
    "-client-key",
    envvar=["RECONCILER_CLIENT_KEY", "NOMAD_CLIENT_KEY"],
    default="",
    help="Key of --client-cert.",
)
@click.pass_context
def cli(
    ctx: click.Context, address: str, token: str, ca_cert: str, client_cert: str, client_key: str
) -> None:
    """reconciler: run jobs like Nomad, reconciled like Kubernetes."""
    ctx.obj = {
        "address": address,
        "token": token,
        "tls": TlsClient(ca_cert, client_cert, client_key),
    }


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


@cli.group()
def system() -> None:
    """Cluster housekeeping (garbage collection)."""
