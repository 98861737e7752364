"""Launching children of template jobs: `job periodic force` and `job dispatch` (Nomad's
commands, flags and output)."""

from __future__ import annotations

import base64
import sys

import click

from reconciler.cli.client import api_errors, client_from, fail, job_path
from reconciler.cli.groups import job
from reconciler.cli.job_cmds import namespace_opt
from reconciler.cli.monitor import follow
from reconciler.cli.output import kv


@job.group("periodic")
def periodic() -> None:
    """Interact with periodic jobs."""


@periodic.command("force")
@click.argument("job_id")
@click.option("-detach", "--detach", is_flag=True, help="Print the evaluation ID and return.")
@namespace_opt
@click.pass_context
def periodic_force(ctx: click.Context, job_id: str, detach: bool, namespace: str) -> None:
    """Launch a child of the periodic job now, whatever its schedule."""
    api = client_from(ctx)
    with api_errors("Error forcing periodic job"):
        resp = api.post(job_path(job_id, "/periodic/force"), namespace=namespace)
    follow(api, resp["EvalID"], detach=detach, detached="Force periodic successful\nEvaluation ID: {eval_id}")


def _meta_flags(flags: tuple[str, ...]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for flag in flags:
        key, sep, value = flag.partition("=")
        if not sep or not key:
            fail(f"Error: -meta must be KEY=VALUE, got {flag!r}")
        meta[key] = value
    return meta


def _read_payload(source: str | None) -> bytes:
    if source is None:
        return b""
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        with open(source, "rb") as f:
            return f.read()
    except OSError as exc:
        fail(f"Error reading input data: {exc}")


@job.command("dispatch")
@click.argument("job_id")
@click.argument("payload", required=False)
@click.option("-meta", "--meta", "meta", multiple=True, help="KEY=VALUE meta for the child (repeatable).")
@click.option("-idempotency-token", "--idempotency-token", "token", default="", help="Dispatch at most once.")
@click.option("-detach", "--detach", is_flag=True, help="Print the IDs and return.")
@namespace_opt
@click.pass_context
def dispatch(
    ctx: click.Context,
    job_id: str,
    payload: str | None,
    meta: tuple[str, ...],
    token: str,
    detach: bool,
    namespace: str,
) -> None:
    """Run a parameterized job once, with a payload from a file or stdin (`-`)."""
    data = _read_payload(payload)
    body = {
        "Payload": base64.b64encode(data).decode("ascii"),
        "Meta": _meta_flags(meta),
        "IdempotencyToken": token,
    }
    api = client_from(ctx)
    with api_errors("Failed to dispatch job"):
        resp = api.post(job_path(job_id, "/dispatch"), body, namespace=namespace)
    eval_id = resp["EvalID"]
    click.echo(kv([("Dispatched Job ID", resp["DispatchedJobID"]), ("Evaluation ID", eval_id[:8] or "-")]))
    if eval_id and not detach:
        click.echo()
        follow(api, eval_id, detach=False)
