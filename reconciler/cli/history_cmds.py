"""`job history [-p]`, `job revert`, `job stable` and `job eval`, as Nomad's: a job's
versions, each with its diff from the version before it; a revert that registers an older
version again (a new version with the old spec), followed like `job run`; marking a version
stable (what an auto-revert goes back to); and a fresh evaluation of the job as it stands."""

from __future__ import annotations

from typing import Any

import click

from reconciler.cli.client import api_errors, client_from, fail
from reconciler.cli.groups import job
from reconciler.cli.monitor import follow
from reconciler.cli.output import fmt_time, kv


def version_diff(older: dict[str, Any], newer: dict[str, Any]) -> str:
    """`nomad job plan`-style text of what changed from `older` to `newer` (API job JSON)."""
    from reconciler import spec

    diff = spec.diff_jobs(spec.job_from_nomad({"Job": older}), spec.job_from_nomad({"Job": newer}))
    return spec.render_diff(diff).rstrip("\n")


@job.command("history")
@click.argument("job_id")
@click.option("-p", "--diff", "show_diff", is_flag=True, help="Show each version's diff from the one before.")
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_history(ctx: click.Context, job_id: str, show_diff: bool, namespace: str) -> None:
    """List a job's versions, newest first."""
    with api_errors("Error retrieving job versions"):
        versions = client_from(ctx).get(f"/v1/job/{job_id}/versions", namespace=namespace)["Versions"]
    blocks = []
    for i, v in enumerate(versions):
        rows: list[tuple[str, Any]] = [
            ("Version", v["Version"]),
            ("Stable", str(v.get("Stable", False)).lower()),
            ("Stop", str(v.get("Stop", False)).lower()),
            ("Submit Date", fmt_time(v.get("SubmitTime", 0))),
        ]
        text = kv(rows)
        if show_diff and i + 1 < len(versions):  # the oldest version has nothing to compare with
            text += "\nDiff        =\n" + version_diff(versions[i + 1], v)
        blocks.append(text)
    click.echo("\n\n".join(blocks))


@job.command("revert")
@click.argument("job_id")
@click.argument("version", type=int)
@click.option(
    "-check-index",
    "--check-index",
    "check_index",
    type=int,
    default=None,
    help="Revert only if the job's current version is this one.",
)
@click.option(
    "-detach", "--detach", is_flag=True, help="Return at once instead of monitoring the evaluation."
)
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_revert(
    ctx: click.Context, job_id: str, version: int, check_index: int | None, detach: bool, namespace: str
) -> None:
    """Register an older version of a job again, as a new version."""
    if version < 0:
        fail("Error: the version must be a non-negative integer")
    body: dict[str, Any] = {"JobID": job_id, "JobVersion": version}
    if check_index is not None:
        body["EnforcePriorVersion"] = check_index
    c = client_from(ctx)
    with api_errors("Error retrieving job version"):
        out = c.post(f"/v1/job/{job_id}/revert", body, namespace=namespace)
    eval_id = out.get("EvalID", "")
    follow(c, eval_id, detach=detach or not eval_id, detached="Evaluation ID: {eval_id}")


@job.command("stable")
@click.argument("job_id")
@click.argument("version", type=int)
@click.option("-unset", "--unset", is_flag=True, help="Mark the version not stable.")
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_stable(ctx: click.Context, job_id: str, version: int, unset: bool, namespace: str) -> None:
    """Mark a job version stable (or not, with -unset): an auto-revert goes back to the
    newest stable version."""
    body = {"JobID": job_id, "JobVersion": version, "Stable": not unset}
    with api_errors("Error marking job version"):
        client_from(ctx).post(f"/v1/job/{job_id}/stable", body, namespace=namespace)
    click.echo(f"Job {job_id!r} version {version} marked {'not ' if unset else ''}stable")


@job.command("eval")
@click.argument("job_id")
@click.option(
    "-detach", "--detach", is_flag=True, help="Return at once instead of monitoring the evaluation."
)
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_eval(ctx: click.Context, job_id: str, detach: bool, namespace: str) -> None:
    """Create a new evaluation of a job as it stands (e.g. after a node became eligible)."""
    c = client_from(ctx)
    with api_errors("Error evaluating job"):
        out = c.post(f"/v1/job/{job_id}/evaluate", {"JobID": job_id}, namespace=namespace)
    follow(c, out["EvalID"], detach=detach, detached="Evaluation ID: {eval_id}")
