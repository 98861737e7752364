"""Scheduler commands, printed as Nomad prints them: `job status`, `job scale`, `job plan`
(and top-level `plan`), `node status`, `node eligibility`, `node drain`, `eval status`.

Evaluations are followed by `reconciler.cli.job_cmds.monitor_eval`, as `apply` does.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

import click

from reconciler.cli.client import ApiClient, ApiClientError, client_from
from reconciler.cli.groups import cli, eval_, job, node
from reconciler.cli.job_cmds import monitor_eval
from reconciler.cli.output import kv, short, table
from reconciler.cli.variables import parse_var_flags, variable_options
from reconciler.model.plan import AllocMetric, DesiredUpdates, failure_lines


def _ago(ns: int) -> str:
    if not ns:
        return "<none>"
    secs = max(0, int(time.time() - ns / 1e9))
    if secs < 60:
        return f"{secs}s ago"
    if secs < 3600:
        return f"{secs // 60}m{secs % 60}s ago"
    if secs < 86400:
        return f"{secs // 3600}h{(secs % 3600) // 60}m ago"
    return dt.datetime.fromtimestamp(ns / 1e9).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")


def _stamp() -> str:
    return dt.datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")


def _api_error(exc: ApiClientError, code: int = 1) -> None:
    click.echo(f"Error: {exc.message}", err=True)
    sys.exit(code)


# --- job status / scale ------------------------------------------------------------------

def _alloc_rows(allocs: list[dict[str, Any]]) -> list[list[object]]:
    return [
        [short(a["ID"]), short(a["NodeID"]), a["TaskGroup"], a["JobVersion"], a["DesiredStatus"],
         a["ClientStatus"], _ago(a.get("CreateTime", 0))]
        for a in allocs
    ]


@job.command("status")
@click.argument("job_id", required=False)
@click.option("-namespace", "--namespace", default="default", show_default=True)
@click.pass_context
def job_status(ctx: click.Context, job_id: str | None, namespace: str) -> None:
    """List jobs, or show one job's summary and allocations."""
    if job_id is None:
        from reconciler.cli.job_cmds import jobs_table

        try:
            click.echo(jobs_table(client_from(ctx).get("/v1/jobs", namespace=namespace)))
        except ApiClientError as exc:
            _api_error(exc)
        return
    c = client_from(ctx)
    try:
        summary = c.get(f"/v1/job/{job_id}/summary", namespace=namespace)
        try:
            info = c.get(f"/v1/job/{job_id}", namespace=namespace) or {}
        except ApiClientError:
            info = {}
        allocs = c.get(f"/v1/job/{job_id}/allocations", namespace=namespace)
    except ApiClientError as exc:
        _api_error(exc)
        return
    dcs = info.get("Datacenters") or []
    click.echo(kv([
        ("ID", info.get("ID", job_id)),
        ("Name", info.get("Name", job_id)),
        ("Type", info.get("Type", "")),
        ("Priority", info.get("Priority", "")),
        ("Datacenters", ",".join(dcs)),
        ("Namespace", namespace),
        ("Status", summary.get("Status") or info.get("Status", "")),
        ("Periodic", str(bool(info.get("Periodic"))).lower()),
        ("Parameterized", "false"),
    ]))
    click.echo("\nSummary")
    rows = [
        [g, s["Queued"], s["Starting"], s["Running"], s["Failed"], s["Complete"], s["Lost"]]
        for g, s in sorted(summary.get("Summary", {}).items())
    ]
    click.echo(table(["Task Group", "Queued", "Starting", "Running", "Failed", "Complete", "Lost"], rows))
    click.echo("\nAllocations")
    if allocs:
        click.echo(table(["ID", "Node ID", "Task Group", "Version", "Desired", "Status", "Created"], _alloc_rows(allocs)))
    else:
        click.echo("No allocations placed")


@job.command("scale")
@click.argument("job_id")
@click.argument("group")
@click.argument("count", type=int)
@click.option("-detach", "--detach", is_flag=True, help="Return at once instead of monitoring the evaluation.")
@click.option("-namespace", "--namespace", default="default", show_default=True)
@click.pass_context
def job_scale(ctx: click.Context, job_id: str, group: str, count: int, detach: bool, namespace: str) -> None:
    """Change the count of one task group."""
    c = client_from(ctx)
    try:
        out = c.post(f"/v1/job/{job_id}/scale", {"Count": count, "Target": {"Group": group}}, namespace=namespace)
    except ApiClientError as exc:
        _api_error(exc)
        return
    eval_id = out.get("EvalID", "")
    if detach or not eval_id:
        click.echo(f"Job scale successful\nEvaluation ID: {eval_id}")
        return
    sys.exit(monitor_eval(c, eval_id))


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


def run_plan(ctx: click.Context, path: str, var_flags: tuple[str, ...], var_files: tuple[str, ...], verbose: bool) -> None:
    from reconciler import spec
    from reconciler.spec.plan_render import render_plan

    try:
        job_model = spec.load_job_file(path, variables=parse_var_flags(var_flags), var_files=list(var_files))
    except spec.SpecError as exc:
        click.echo(f"Error parsing job file {path}:\n" + "\n".join(f"  {e}" for e in exc.errors), err=True)
        sys.exit(255)
    except OSError as exc:
        click.echo(f"Error reading job file {path}: {exc.strerror}", err=True)
        sys.exit(255)
    c = client_from(ctx)
    try:
        out = c.post(f"/v1/job/{job_model.id}/plan", {"Job": spec.job_to_nomad(job_model), "Diff": False},
                     namespace=job_model.namespace)
        old = _current_job(c, job_model)
    except ApiClientError as exc:
        click.echo(f"Error during plan: {exc.message}", err=True)
        sys.exit(255)
    except SystemExit:
        sys.exit(255)
    updates = {g: DesiredUpdates.from_nomad(u) for g, u in ((out.get("Annotations") or {}).get("DesiredTGUpdates") or {}).items()}
    failed = {g: AllocMetric.from_nomad(m) for g, m in (out.get("FailedTGAllocs") or {}).items()}
    click.echo(render_plan(spec.diff_jobs(old, job_model), updates, failed))
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
    changed = any(u.place or u.stop or u.migrate or u.destructive_update or u.canary for u in updates.values())
    sys.exit(1 if changed else 0)


@cli.command("plan")
@click.argument("file", required=False)
@click.option("-f", "--file", "file_opt", help="The job file.")
@variable_options
@click.option("-verbose", "--verbose", is_flag=True)
@click.pass_context
def plan(
    ctx: click.Context, file: str | None, file_opt: str | None, var_flags: tuple[str, ...], var_files: tuple[str, ...],
    verbose: bool,
) -> None:
    """Dry-run a job: what the scheduler would do. Exit 0: no change, 1: allocations
    created or destroyed, 255: error."""
    path = file_opt or file
    if not path:
        click.echo("Error: a job file is required (reconciler plan FILE)", err=True)
        sys.exit(255)
    run_plan(ctx, path, var_flags, var_files, verbose)


@job.command("plan")
@click.argument("file")
@variable_options
@click.option("-verbose", "--verbose", is_flag=True)
@click.pass_context
def job_plan(
    ctx: click.Context, file: str, var_flags: tuple[str, ...], var_files: tuple[str, ...], verbose: bool
) -> None:
    """Dry-run a job (same as `reconciler plan`)."""
    run_plan(ctx, file, var_flags, var_files, verbose)


# --- nodes -------------------------------------------------------------------------------

@node.command("status")
@click.argument("node_id", required=False)
@click.pass_context
def node_status(ctx: click.Context, node_id: str | None) -> None:
    """List nodes, or show one node and its allocations."""
    c = client_from(ctx)
    try:
        if not node_id:
            nodes = c.get("/v1/nodes")
            if not nodes:
                click.echo("No nodes registered")
                return
            click.echo(table(
                ["ID", "DC", "Name", "Class", "Drain", "Eligibility", "Status"],
                [[short(n["ID"]), n["Datacenter"], n["Name"], n["NodeClass"] or "<none>", str(n["Drain"]).lower(),
                  n["SchedulingEligibility"], n["Status"]] for n in nodes],
            ))
            return
        n = c.get(f"/v1/node/{node_id}")
        allocs = c.get(f"/v1/node/{n['ID']}/allocations")
    except ApiClientError as exc:
        _api_error(exc)
        return
    res = n.get("NodeResources") or {}
    click.echo(kv([
        ("ID", n["ID"]), ("Name", n["Name"]), ("Class", n["NodeClass"] or "<none>"), ("DC", n["Datacenter"]),
        ("Drain", str(n["Drain"]).lower()), ("Eligibility", n["SchedulingEligibility"]), ("Status", n["Status"]),
        ("Address", n.get("Address", "")),
        ("CPU", f'{(res.get("Cpu") or {}).get("CpuShares", 0)} MHz'),
        ("Memory", f'{(res.get("Memory") or {}).get("MemoryMB", 0)} MiB'),
        ("Dynamic Ports", f'{res.get("MinDynamicPort", "")}-{res.get("MaxDynamicPort", "")}'),
        ("Drivers", ",".join(sorted(d for d, v in n.get("Drivers", {}).items() if v.get("Healthy")))),
    ]))
    click.echo("\nAllocations")
    live = [a for a in allocs if a["DesiredStatus"] == "run"]
    if live:
        click.echo(table(["ID", "Node ID", "Task Group", "Version", "Desired", "Status", "Created"], _alloc_rows(live)))
    else:
        click.echo("No allocations placed")


def _flag(enable: bool, disable: bool) -> bool:
    if enable == disable:
        click.echo("Error: give exactly one of -enable or -disable", err=True)
        sys.exit(1)
    return enable


@node.command("eligibility")
@click.option("-enable", "--enable", is_flag=True)
@click.option("-disable", "--disable", is_flag=True)
@click.argument("node_id")
@click.pass_context
def node_eligibility(ctx: click.Context, enable: bool, disable: bool, node_id: str) -> None:
    """Allow or forbid new placements on a node."""
    on = _flag(enable, disable)
    c = client_from(ctx)
    try:
        n = c.get(f"/v1/node/{node_id}")
        c.post(f"/v1/node/{n['ID']}/eligibility", {"Eligibility": "eligible" if on else "ineligible"})
    except ApiClientError as exc:
        _api_error(exc)
        return
    click.echo(f'Node "{n["ID"]}" scheduling eligibility set: {"eligible" if on else "ineligible"} for scheduling')


@node.command("drain")
@click.option("-enable", "--enable", is_flag=True)
@click.option("-disable", "--disable", is_flag=True)
@click.option("-yes", "--yes", is_flag=True, help="Accepted for Nomad compatibility.")
@click.argument("node_id")
@click.pass_context
def node_drain(ctx: click.Context, enable: bool, disable: bool, yes: bool, node_id: str) -> None:
    """Move a node's allocations elsewhere (replacements first) and keep new ones off it."""
    on = _flag(enable, disable)
    c = client_from(ctx)
    try:
        n = c.get(f"/v1/node/{node_id}")
        body: dict[str, Any] = {"DrainSpec": {"Deadline": 3600 * 10**9, "IgnoreSystemJobs": False}} if on else {
            "DrainSpec": None, "MarkEligible": True}
        c.post(f"/v1/node/{n['ID']}/drain", body)
    except ApiClientError as exc:
        _api_error(exc)
        return
    click.echo(f'Node "{n["ID"]}" drain strategy {"set" if on else "unset"}')


# --- evaluations -------------------------------------------------------------------------

@eval_.command("status")
@click.argument("eval_id")
@click.pass_context
def eval_status(ctx: click.Context, eval_id: str) -> None:
    """Show an evaluation and, if placements failed, why."""
    c = client_from(ctx)
    try:
        e = c.get(f"/v1/evaluation/{eval_id}")
    except ApiClientError as exc:
        _api_error(exc)
        return
    failed = e.get("FailedTGAllocs") or {}
    click.echo(kv([
        ("ID", short(e["ID"])), ("Create Time", _ago(e.get("CreateTime", 0))),
        ("Modify Time", _ago(e.get("ModifyTime", 0))), ("Status", e["Status"]),
        ("Status Description", e.get("StatusDescription") or e["Status"]), ("Type", e["Type"]),
        ("TriggeredBy", e["TriggeredBy"]), ("Job ID", e["JobID"]), ("Namespace", e["Namespace"]),
        ("Priority", e["Priority"]), ("Placement Failures", str(bool(failed)).lower()),
    ]))
    if failed:
        click.echo("\n==> Failed Placements")
        click.echo("\n".join(line[2:] for line in failure_lines(failed)))
        queued = e.get("QueuedAllocations") or {}
        if e["Status"] == "blocked":
            click.echo(f"\nEvaluation is blocked until capacity appears ({sum(queued.values())} queued).")
