"""Scheduler commands, printed as Nomad prints them: `job status`, `job scale`, `job plan`
(and top-level `plan`), `node status`, `node eligibility`, `node drain`, `eval status`.

`monitor_eval` follows an evaluation the way `nomad job run` does (`Monitoring evaluation
...`, allocations created, the final status); `apply` can reuse it.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from reconciler import codec
from reconciler.cli.client import ApiClient, ApiClientError, client_from
from reconciler.cli.groups import cli, eval_, job, node
from reconciler.cli.output import kv, short, table
from reconciler.model.plan import (
    AllocMetric,
    DesiredUpdates,
    describe_failure,
    failure_heading,
    scheduler_dry_run,
)


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


def _failures(failed: dict[str, Any] | None, indent: str = "  ") -> list[str]:
    lines: list[str] = []
    for group in sorted(failed or {}):
        m = AllocMetric.from_nomad(failed[group])  # type: ignore[index]
        lines.append(indent + failure_heading(group, m))
        lines.extend(f"{indent}  * {r}" for r in describe_failure(m))
    return lines


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


def monitor_eval(c: ApiClient, eval_id: str, *, timeout: float = 60.0, echo: Callable[[str], None] = click.echo) -> int:
    """Follow an evaluation until it leaves `pending`; 0 if complete with everything placed,
    2 if placements failed (as `nomad job run`), 1 on error or timeout."""
    echo(f'==> {_stamp()}: Monitoring evaluation "{short(eval_id)}"')
    deadline = time.monotonic() + timeout
    status = "pending"
    ev: dict[str, Any] = {}
    first = True
    while time.monotonic() < deadline:
        try:
            ev = c.get(f"/v1/evaluation/{eval_id}")
        except ApiClientError as exc:
            echo(f"Error: {exc.message}")
            return 1
        if first:
            echo(f'    {_stamp()}: Evaluation triggered by job "{ev["JobID"]}"')
            first = False
        if ev["Status"] != status:
            placed = set(ev.get("PlacedAllocs") or [])
            if placed:
                try:
                    allocs = c.get(f"/v1/job/{ev['JobID']}/allocations", namespace=ev.get("Namespace", "default"))
                except ApiClientError:
                    allocs = []
                for a in allocs:
                    if a["ID"] in placed:
                        echo(f'    {_stamp()}: Allocation "{short(a["ID"])}" created: node "{short(a["NodeID"])}", group "{a["TaskGroup"]}"')
            echo(f'    {_stamp()}: Evaluation status changed: "{status}" -> "{ev["Status"]}"')
            status = ev["Status"]
        if status != "pending":
            break
        time.sleep(0.2)  # polling the API, as nomad's monitor does
    if status == "pending":
        echo(f'==> {_stamp()}: Evaluation "{short(eval_id)}" still pending after {timeout:.0f}s')
        return 1
    if ev.get("FailedTGAllocs"):
        echo(f'==> {_stamp()}: Evaluation "{short(eval_id)}" finished with status "{status}" but failed to place all allocations:')
        for line in _failures(ev["FailedTGAllocs"], "    "):
            echo(line)
        return 2
    echo(f'==> {_stamp()}: Evaluation "{short(eval_id)}" finished with status "{status}"')
    return 0 if status == "complete" else 1


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

def _group_counts(annotations: dict[str, Any]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for g, d in (annotations.get("DesiredTGUpdates") or {}).items():
        u = DesiredUpdates.from_nomad(d)
        out[g] = {k: n for k, n in (
            ("create", u.place), ("destroy", u.stop), ("migrate", u.migrate), ("in-place update", u.in_place_update),
            ("create/destroy update", u.destructive_update), ("canary", u.canary), ("ignore", u.ignore),
        ) if n}
    return out


def _render_diff(diff: Any, counts: dict[str, dict[str, int]]) -> str | None:
    try:
        from reconciler.spec import render_diff  # type: ignore[attr-defined]
        from reconciler.spec.diff import JobDiff  # type: ignore[import-not-found]
    except ImportError:
        return None
    if diff is None:
        return None
    try:
        return str(render_diff(codec.convert(diff, JobDiff), group_counts=counts))
    except codec.CodecError:
        return None


def run_plan(ctx: click.Context, path: str, verbose: bool) -> None:
    try:
        from reconciler.spec import job_to_nomad, load_job_file  # type: ignore[attr-defined]
    except ImportError:
        click.echo("Error: job files cannot be read: the job specification module is not installed", err=True)
        sys.exit(255)
    try:
        job_model = load_job_file(path)
    except Exception as exc:  # noqa: BLE001 - every parse/validation error is shown and exits 255
        click.echo(f"Error getting job struct: {exc}", err=True)
        sys.exit(255)
    c = client_from(ctx)
    try:
        out = c.post(f"/v1/job/{job_model.id}/plan", {"Job": job_to_nomad(job_model), "Diff": True},
                     namespace=job_model.namespace)
    except ApiClientError as exc:
        click.echo(f"Error during plan: {exc.message}", err=True)
        sys.exit(255)
    except SystemExit:
        sys.exit(255)
    counts = _group_counts(out.get("Annotations") or {})
    text = _render_diff(out.get("Diff"), counts)
    if text:
        click.echo(text)
    failed = {g: AllocMetric.from_nomad(m) for g, m in (out.get("FailedTGAllocs") or {}).items()}
    click.echo("\n".join(scheduler_dry_run(failed)))
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
        u.get("Place") or u.get("Stop") or u.get("Migrate") or u.get("DestructiveUpdate") or u.get("Canary")
        for u in ((out.get("Annotations") or {}).get("DesiredTGUpdates") or {}).values()
    )
    sys.exit(1 if changed else 0)


@cli.command("plan")
@click.argument("file", required=False)
@click.option("-f", "--file", "file_opt", help="The job file.")
@click.option("-verbose", "--verbose", is_flag=True)
@click.pass_context
def plan(ctx: click.Context, file: str | None, file_opt: str | None, verbose: bool) -> None:
    """Dry-run a job: what the scheduler would do. Exit 0: no change, 1: allocations
    created or destroyed, 255: error."""
    path = file_opt or file
    if not path:
        click.echo("Error: a job file is required (reconciler plan FILE)", err=True)
        sys.exit(255)
    run_plan(ctx, path, verbose)


@job.command("plan")
@click.argument("file")
@click.option("-verbose", "--verbose", is_flag=True)
@click.pass_context
def job_plan(ctx: click.Context, file: str, verbose: bool) -> None:
    """Dry-run a job (same as `reconciler plan`)."""
    run_plan(ctx, file, verbose)


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
        click.echo("\n".join(line[2:] for line in _failures(failed)))
        queued = e.get("QueuedAllocations") or {}
        if e["Status"] == "blocked":
            click.echo(f"\nEvaluation is blocked until capacity appears ({sum(queued.values())} queued).")
