"""Every `job` command, as Nomad's `nomad job ...` tree: run (and top-level `apply`), plan
(and top-level `plan`), stop, status, scale, promote, inspect
(`history` and `revert` are in `history_cmds`).

Writes are followed with `reconciler.cli.monitor` (the evaluation, then its deployment).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import click

from reconciler.cli.alloc_cmds import allocs_table
from reconciler.cli.client import ApiClient, ApiClientError, api_errors, client_from, fail, job_path
from reconciler.cli.deployment_cmds import promote
from reconciler.cli.groups import cli, job
from reconciler.cli.monitor import follow
from reconciler.cli.output import fmt_time, kv, table
from reconciler.cli.template_status import children_table, template_fields
from reconciler.cli.variables import parse_var_flags, variable_options
from reconciler.model.plan import AllocMetric, DesiredUpdates

F = TypeVar("F", bound=Callable[..., Any])

namespace_opt = click.option("-namespace", "--namespace", default="default", show_default=True)


def load_job(path: str, var_flags: tuple[str, ...], var_files: tuple[str, ...], *, code: int = 1) -> Any:
    """Parse and validate on the client; on error print every issue and exit `code`."""
    from reconciler import spec

    try:
        return spec.load_job_file(path, variables=parse_var_flags(var_flags), var_files=list(var_files))
    except spec.SpecError as exc:
        fail(
            "Error parsing job file " + path + ":\n" + "\n".join(f"  {e.detailed()}" for e in exc.errors),
            code,
        )
    except OSError as exc:
        fail(f"Error reading job file {path}: {exc.strerror}", code)


# --- run / apply -------------------------------------------------------------------------


def _run_options(fn: F) -> F:
    """The flags `apply -f FILE` and `job run FILE` share."""
    fn = click.option("-detach", "--detach", is_flag=True, help="Return as soon as the job is stored.")(fn)
    fn = click.option(
        "-check-index",
        "--check-index",
        "check_index",
        type=int,
        default=None,
        help="Submit only if the job's modify index is still this (as printed by plan; 0: new job).",
    )(fn)
    return variable_options(fn)


def run_job_file(
    ctx: click.Context,
    path: str,
    var_flags: tuple[str, ...],
    var_files: tuple[str, ...],
    check_index: int | None,
    detach: bool,
) -> None:
    """Submit a job file, then follow its evaluation and deployment (the body of `apply` and
    `job run`)."""
    from reconciler import spec

    model = load_job(path, var_flags, var_files)
    api = client_from(ctx)
    body: dict[str, Any] = {"Job": spec.job_to_nomad(model)}
    if check_index is not None:
        body.update(EnforceIndex=True, JobModifyIndex=check_index)
    try:
        resp = api.post("/v1/jobs", body)
    except ApiClientError as exc:
        where = f" (field {exc.field})" if exc.field else ""
        fail(f"Error submitting job{where}: {exc.message}")
    follow(
        api,
        resp["EvalID"],
        detach=detach,
        deployment=True,
        detached="Job registration successful\nEvaluation ID: {eval_id}",
    )


@cli.command()
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Job file (.nomad, .hcl, .json, .yaml).",
)
@_run_options
@click.pass_context
def apply(ctx: click.Context, /, path: str, **flags: Any) -> None:
    """Submit a job file: a new version if it changed, then follow the evaluation."""
    run_job_file(ctx, path, **flags)


@job.command("run")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@_run_options
@click.pass_context
def job_run(ctx: click.Context, /, path: str, **flags: Any) -> None:
    """Submit a job file (same as `reconciler apply -f`)."""
    run_job_file(ctx, path, **flags)


# --- plan --------------------------------------------------------------------------------


def _current_job(c: ApiClient, new: Any) -> Any:
    """The job as the agent has it now (None if absent or stopped), to diff against."""
    from reconciler import spec

    try:
        data = c.get(f"/v1/job/{new.id}", namespace=new.namespace)
    except ApiClientError as exc:
        if exc.status == 404:
            return None
        raise
    return None if data.get("Stop") else spec.job_from_nomad({"Job": data})


def run_plan(ctx: click.Context, path: str, var_flags: tuple[str, ...], var_files: tuple[str, ...]) -> None:
    """Dry-run a job file and print the diff and the scheduler's answer (the body of `plan`
    and `job plan`). Exit 0: no change, 1: allocations change, 255: error."""
    from reconciler import spec
    from reconciler.spec.plan_render import render_plan

    job_model = load_job(path, var_flags, var_files, code=255)
    c = client_from(ctx)
    try:
        with api_errors("Error during plan", 255):
            out = c.post(
                f"/v1/job/{job_model.id}/plan",
                {"Job": spec.job_to_nomad(job_model), "Diff": False},
                namespace=job_model.namespace,
            )
            old = _current_job(c, job_model)
    except SystemExit:
        sys.exit(255)
    updates = {
        g: DesiredUpdates.from_nomad(u)
        for g, u in ((out.get("Annotations") or {}).get("DesiredTGUpdates") or {}).items()
    }
    failed = {g: AllocMetric.from_nomad(m) for g, m in (out.get("FailedTGAllocs") or {}).items()}
    click.echo(render_plan(spec.diff_jobs(old, job_model), updates, failed))
    preempted = (out.get("Annotations") or {}).get("PreemptedAllocs") or []
    if preempted:
        click.echo(f"\nPreemptions:\n\n{preemptions_text(preempted)}")
    index = out.get("JobModifyIndex", 0)
    click.echo(f"\nJob Modify Index: {index}")
    click.echo(
        "To submit the job with version verification run:\n\n"
        f"reconciler job run -check-index {index} {path}\n\n"
        "When running the job with the check-index flag, the job will only be run if the\n"
        "job modify index given matches the server-side version. If the index has\n"
        "changed, another user has modified the job and the plan's results are\n"
        "potentially invalid."
    )
    changed = any(
        u.place or u.stop or u.migrate or u.destructive_update or u.canary for u in updates.values()
    )
    sys.exit(1 if changed else 0)


PREEMPTION_DISPLAY = 10  # Nomad lists fewer preempted allocations one by one, more by job


def preemptions_text(preempted: list[dict[str, Any]]) -> str:
    """The allocations a plan would preempt, as `nomad job plan` prints them: one line each
    when fewer than 10, else counted per job (or, for 10 jobs or more, per job type)."""
    if len(preempted) < PREEMPTION_DISPLAY:
        return table(
            ["Alloc ID", "Job ID", "Task Group"], [(a["ID"], a["JobID"], a["TaskGroup"]) for a in preempted]
        )
    per_job = Counter((a["JobID"], a["Namespace"], a["JobType"]) for a in preempted)
    if len(per_job) < PREEMPTION_DISPLAY:
        rows = [(jid, ns, kind, n) for (jid, ns, kind), n in sorted(per_job.items())]
        return table(["Job ID", "Namespace", "Job Type", "Preemptions"], rows)
    per_type = Counter(a["JobType"] for a in preempted)
    return table(["Job Type", "Preemptions"], sorted(per_type.items()))


@cli.command("plan")
@click.argument("file", required=False)
@click.option("-f", "--file", "file_opt", help="The job file.")
@variable_options
@click.option("-verbose", "--verbose", is_flag=True)
@click.pass_context
def plan(
    ctx: click.Context,
    file: str | None,
    file_opt: str | None,
    var_flags: tuple[str, ...],
    var_files: tuple[str, ...],
    verbose: bool,
) -> None:
    """Dry-run a job: what the scheduler would do. Exit 0: no change, 1: allocations
    created or destroyed, 255: error."""
    path = file_opt or file
    if not path:
        fail("Error: a job file is required (reconciler plan FILE)", 255)
    run_plan(ctx, path, var_flags, var_files)


@job.command("plan")
@click.argument("file")
@variable_options
@click.option("-verbose", "--verbose", is_flag=True)
@click.pass_context
def job_plan(
    ctx: click.Context, file: str, var_flags: tuple[str, ...], var_files: tuple[str, ...], verbose: bool
) -> None:
    """Dry-run a job (same as `reconciler plan`)."""
    run_plan(ctx, file, var_flags, var_files)


# --- stop / status / scale / promote -----------------------------------------------------


@job.command("stop")
@click.argument("job_id")
@click.option("-purge", "--purge", is_flag=True, help="Remove the job and its history.")
@click.option("-detach", "--detach", is_flag=True)
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_stop(ctx: click.Context, job_id: str, purge: bool, detach: bool, namespace: str) -> None:
    """Stop a job (its history is kept unless -purge)."""
    api = client_from(ctx)
    with api_errors("Error deregistering job"):
        resp = api.delete(job_path(job_id), purge="true" if purge else None, namespace=namespace)
    follow(api, resp["EvalID"], detach=detach)


def jobs_table(jobs: list[dict[str, Any]]) -> str:
    if not jobs:
        return "No running jobs"
    rows = [(j["ID"], j["Type"], j["Priority"], j["Status"], fmt_time(j.get("SubmitTime", 0))) for j in jobs]
    return table(["ID", "Type", "Priority", "Status", "Submit Date"], rows)


@job.command("status")
@click.argument("job_id", required=False)
@namespace_opt
@click.pass_context
def job_status(ctx: click.Context, job_id: str | None, namespace: str) -> None:
    """List jobs, or show one job's summary and allocations."""
    c = client_from(ctx)
    if job_id is None:
        click.echo(jobs_table(c.get("/v1/jobs", namespace=namespace)))
        return
    summary = c.get(job_path(job_id, "/summary"), namespace=namespace)
    try:
        info = c.get(job_path(job_id), namespace=namespace) or {}
    except ApiClientError:
        info = {}
    allocs = c.get(job_path(job_id, "/allocations"), namespace=namespace)
    dcs = info.get("Datacenters") or []
    click.echo(
        kv(
            [
                ("ID", info.get("ID", job_id)),
                ("Name", info.get("Name", job_id)),
                ("Type", info.get("Type", "")),
                ("Priority", info.get("Priority", "")),
                ("Datacenters", ",".join(dcs)),
                ("Namespace", namespace),
                ("Node Pool", info.get("NodePool", "")),
                ("Status", summary.get("Status") or info.get("Status", "")),
                *template_fields(info),
            ]
        )
    )
    click.echo("\nSummary")
    rows = [
        [g, s["Queued"], s["Starting"], s["Running"], s["Failed"], s["Complete"], s["Lost"]]
        for g, s in sorted(summary.get("Summary", {}).items())
    ]
    click.echo(table(["Task Group", "Queued", "Starting", "Running", "Failed", "Complete", "Lost"], rows))
    children = children_table(c, info, namespace)
    if children:
        click.echo(children)
    click.echo("\nAllocations")
    click.echo(allocs_table(allocs))


@job.command("scale")
@click.argument("job_id")
@click.argument("group")
@click.argument("count", type=int)
@click.option(
    "-detach", "--detach", is_flag=True, help="Return at once instead of monitoring the evaluation."
)
@namespace_opt
@click.pass_context
def job_scale(ctx: click.Context, job_id: str, group: str, count: int, detach: bool, namespace: str) -> None:
    """Change the count of one task group."""
    c = client_from(ctx)
    out = c.post(
        job_path(job_id, "/scale"), {"Count": count, "Target": {"Group": group}}, namespace=namespace
    )
    eval_id = out.get("EvalID", "")
    follow(
        c, eval_id, detach=detach or not eval_id, detached="Job scale successful\nEvaluation ID: {eval_id}"
    )


@job.command("promote")
@click.argument("job_id")
@click.option("-group", "--group", "groups", multiple=True, help="Promote only this task group (repeatable).")
@click.option("-detach", "--detach", is_flag=True)
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_promote(
    ctx: click.Context, job_id: str, groups: tuple[str, ...], detach: bool, namespace: str
) -> None:
    """Promote the canaries of a job's latest deployment."""
    with api_errors("Error retrieving deployment"):
        d = client_from(ctx).get(job_path(job_id, "/deployment"), namespace=namespace)
    if not d:
        fail(f"Job {job_id!r} has no deployment to promote")
    promote(ctx, d, groups, detach)


# --- history / inspect -------------------------------------------------------------------


@job.command("inspect")
@click.argument("job_id")
@click.option(
    "-o", "--output", "fmt", type=click.Choice(["json", "yaml", "hcl"]), default="json", show_default=True
)
@click.option("-version", "--version", "version", type=int, default=None, help="Show this version.")
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_inspect(ctx: click.Context, job_id: str, fmt: str, version: int | None, namespace: str) -> None:
    """Show a job's specification."""
    from reconciler import spec

    api = client_from(ctx)
    with api_errors("Error inspecting job"):
        if version is None:
            data = api.get(job_path(job_id), namespace=namespace)
        else:
            versions = api.get(job_path(job_id, "/versions"), namespace=namespace)["Versions"]
            match = [v for v in versions if v["Version"] == version]
            if not match:
                fail(f"Error: job {job_id} has no version {version}")
            data = match[0]
    if fmt == "json":
        click.echo(json.dumps({"Job": data}, indent=4, sort_keys=True))
        return
    try:
        model = spec.job_from_nomad({"Job": data})
    except spec.SpecError as exc:
        fail("Error converting the job: " + "; ".join(str(e) for e in exc.errors))
    click.echo(spec.job_to_yaml(model) if fmt == "yaml" else spec.format_hcl(model))
