"""`eval status`, printed as Nomad prints it (with the placement failures, if any)."""

from __future__ import annotations

import click

from reconciler.cli.client import client_from
from reconciler.cli.groups import eval_
from reconciler.cli.output import ago, kv, short
from reconciler.model.plan import failure_lines


@eval_.command("status")
@click.argument("eval_id")
@click.pass_context
def eval_status(ctx: click.Context, eval_id: str) -> None:
    """Show an evaluation and, if placements failed, why."""
    e = client_from(ctx).get(f"/v1/evaluation/{eval_id}")
    failed = e.get("FailedTGAllocs") or {}
    click.echo(
        kv(
            [
                ("ID", short(e["ID"])),
                ("Create Time", ago(e.get("CreateTime", 0))),
                ("Modify Time", ago(e.get("ModifyTime", 0))),
                ("Status", e["Status"]),
                ("Status Description", e.get("StatusDescription") or e["Status"]),
                ("Type", e["Type"]),
                ("TriggeredBy", e["TriggeredBy"]),
                ("Job ID", e["JobID"]),
                ("Namespace", e["Namespace"]),
                ("Priority", e["Priority"]),
                ("Placement Failures", str(bool(failed)).lower()),
            ]
        )
    )
    if failed:
        click.echo("\n==> Failed Placements")
        click.echo("\n".join(line[2:] for line in failure_lines(failed)))
        queued = e.get("QueuedAllocations") or {}
        if e["Status"] == "blocked":
            click.echo(f"\nEvaluation is blocked until capacity appears ({sum(queued.values())} queued).")
