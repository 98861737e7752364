"""Job commands: apply/run (following the evaluation, then its deployment), stop, history,
inspect."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from reconciler.cli.client import ApiClient, ApiClientError, client_from, fail
from reconciler.cli.groups import cli, job
from reconciler.cli.output import fmt_time, kv, short, table
from reconciler.cli.variables import parse_var_flags, variable_options


def load_job(path: str, var_flags: tuple[str, ...], var_files: tuple[str, ...]) -> Any:
    """Parse and validate on the client; on error print every issue and exit 1."""
    from reconciler import spec

    try:
        return spec.load_job_file(path, variables=parse_var_flags(var_flags), var_files=list(var_files))
    except spec.SpecError as exc:
        fail("Error parsing job file " + path + ":\n" + "\n".join(f"  {e}" for e in exc.errors))
    except OSError as exc:
        fail(f"Error reading job file {path}: {exc.strerror}")


def _ts() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def monitor_eval(api: ApiClient, eval_id: str, *, timeout: float = 60.0) -> int:
    """Follow an evaluation until it leaves `pending`, as `nomad job run` does: 0 if complete
    with everything placed, 2 if placements failed, 1 on error or timeout."""
    from reconciler.model.plan import failure_lines

    click.echo(f'==> {_ts()}: Monitoring evaluation "{short(eval_id)}"')
    deadline = time.monotonic() + timeout
    status = "pending"
    ev: dict[str, Any] = {}
    first = True
    while time.monotonic() < deadline:
        try:
            ev = api.get(f"/v1/evaluation/{eval_id}")
        except ApiClientError as exc:
            if exc.status == 404:  # created by another agent and not yet visible here
                time.sleep(0.1)
                continue
            click.echo(f"Error: {exc.message}", err=True)
            return 1
        if first:
            click.echo(f'    {_ts()}: Evaluation triggered by job "{ev["JobID"]}"')
            first = False
        if ev["Status"] != status:
            placed = set(ev.get("PlacedAllocs") or [])
            if placed:
                try:
                    allocs = api.get(f"/v1/job/{ev['JobID']}/allocations", namespace=ev.get("Namespace", "default"))
                except ApiClientError:
                    allocs = []
                for a in allocs:
                    if a["ID"] in placed:
                        click.echo(f'    {_ts()}: Allocation "{short(a["ID"])}" created: node '
                                   f'"{short(a["NodeID"])}", group "{a["TaskGroup"]}"')
            if ev.get("DeploymentID"):
                click.echo(f'    {_ts()}: Evaluation within deployment: "{short(ev["DeploymentID"])}"')
            click.echo(f'    {_ts()}: Evaluation status changed: "{status}" -> "{ev["Status"]}"')
            status = ev["Status"]
        if status != "pending":
            break
        time.sleep(0.2)  # polling the API, as nomad's monitor does
    if status == "pending":
        click.echo(f'==> {_ts()}: Evaluation "{short(eval_id)}" still pending after {timeout:.0f}s')
        return 1
    if ev.get("FailedTGAllocs"):
        click.echo(f'==> {_ts()}: Evaluation "{short(eval_id)}" finished with status "{status}" '
                   "but failed to place all allocations:")
        for line in failure_lines(ev["FailedTGAllocs"], "    "):
            click.echo(line)
        return 2
    click.echo(f'==> {_ts()}: Evaluation "{short(eval_id)}" finished with status "{status}"')
    return 0 if status == "complete" else 1


SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def deployment_block(d: dict[str, Any]) -> str:
    """`nomad deployment status` / the end of `nomad job run`: the key/value block and the
    Deployed table (Promoted and Canaries columns when canaries are used, Auto Revert when
    set)."""
    groups = d.get("TaskGroups") or {}
    canaries = any(g.get("DesiredCanaries", 0) > 0 for g in groups.values())
    revert = any(g.get("AutoRevert") for g in groups.values())
    header = ["Task Group"] + (["Auto Revert"] if revert else []) + (["Promoted"] if canaries else []) + ["Desired"]
    header += (["Canaries"] if canaries else []) + ["Placed", "Healthy", "Unhealthy", "Progress Deadline"]
    rows = []
    for name, g in sorted(groups.items()):
        row: list[object] = [name]
        if revert:
            row.append(str(bool(g.get("AutoRevert"))).lower())
        if canaries:
            row.append(str(bool(g.get("Promoted"))).lower())
        row.append(g.get("DesiredTotal", 0))
        if canaries:
            row.append(g.get("DesiredCanaries", 0))
        row += [g.get("PlacedAllocs", 0), g.get("HealthyAllocs", 0), g.get("UnhealthyAllocs", 0),
                _deadline(g.get("RequireProgressBy", ""), d.get("Status", ""))]
        rows.append(row)
    head = kv([
        ("ID", short(d["ID"])), ("Job ID", d["JobID"]), ("Job Version", d["JobVersion"]),
        ("Status", d["Status"]), ("Description", d["StatusDescription"]),
    ])
    return head + "\n\nDeployed\n" + table(header, rows)


def _deadline(rfc3339: str, status: str) -> str:
    if not rfc3339 or rfc3339.startswith("0001-"):
        return "<none>"
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    except ValueError:
        return rfc3339
    return when.astimezone().isoformat(timespec="seconds")


def _awaits_promotion(d: dict[str, Any]) -> bool:
    """Running, every canary placed and healthy, and a person has to promote them."""
    if d.get("Status") != "running" or "requires manual promotion" not in d.get("StatusDescription", ""):
        return False
    waiting = [g for g in (d.get("TaskGroups") or {}).values() if g.get("DesiredCanaries", 0) > 0 and not g.get("Promoted")]
    return bool(waiting) and all(g.get("HealthyAllocs", 0) >= g.get("DesiredCanaries", 0) for g in waiting)


def monitor_deployment(api: ApiClient, dep_id: str, *, interval: float = 0.25) -> int:
    """Follow a deployment as `nomad job run` does: a spinner while it runs, then the result
    and its table. Returns at once (0) when canaries wait for a manual promotion; 0 when
    successful, 2 when failed or cancelled."""
    click.echo(f'==> {_ts()}: Monitoring deployment "{short(dep_id)}"')
    tty = sys.stdout.isatty()
    tick = 0
    shown = False
    while True:
        try:
            d = api.get(f"/v1/deployment/{dep_id}")
        except ApiClientError as exc:
            fail(f"Error reading deployment: {exc.message}")
        status = d.get("Status", "")
        if status == "running" and not _awaits_promotion(d):
            if tty:
                click.echo(f'\r  {SPINNER[tick % len(SPINNER)]} Deployment "{short(dep_id)}" in progress...', nl=False)
            elif not shown:
                click.echo(f'  {SPINNER[0]} Deployment "{short(dep_id)}" in progress...')
            shown = True
            tick += 1
            time.sleep(interval)
            continue
        lead = "\r" if tty and shown else ""
        if status == "successful":
            click.echo(f'{lead}  ✓ Deployment "{short(dep_id)}" successful')
        elif status == "running":
            click.echo(f'{lead}  {SPINNER[tick % len(SPINNER)]} Deployment "{short(dep_id)}" in progress...')
        else:
            click.echo(f'{lead}  ! Deployment "{short(dep_id)}" {status}')
        click.echo("")
        body = f"{_ts()}\n" + deployment_block(d)
        click.echo("\n".join(("    " + line).rstrip() for line in body.splitlines()))
        return 0 if status in ("successful", "running") else 2


def eval_deployment(api: ApiClient, eval_id: str) -> str:
    try:
        ev = api.get(f"/v1/evaluation/{eval_id}")
    except ApiClientError:
        return ""
    return str(ev.get("DeploymentID") or "")


def monitor(api: ApiClient, eval_id: str) -> int:
    """The evaluation, then (if it is within a deployment) the deployment."""
    code = monitor_eval(api, eval_id)
    if code != 0:
        return code
    dep_id = eval_deployment(api, eval_id)
    return monitor_deployment(api, dep_id) if dep_id else code


def run_job_file(
    ctx: click.Context, path: str, var_flags: tuple[str, ...], var_files: tuple[str, ...], detach: bool,
    check_index: int | None = None,
) -> None:
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
    eval_id = resp["EvalID"]
    if detach:
        click.echo("Job registration successful")
        click.echo(f"Evaluation ID: {eval_id}")
        return
    sys.exit(monitor(api, eval_id))


check_index_opt = click.option(
    "-check-index", "--check-index", "check_index", type=int, default=None,
    help="Submit only if the job's modify index is still this (as printed by plan; 0: new job).",
)


@cli.command()
@click.option("-f", "--file", "path", required=True, type=click.Path(exists=True, dir_okay=False), help="Job file (.nomad, .hcl, .json, .yaml).")
@variable_options
@check_index_opt
@click.option("-detach", "--detach", is_flag=True, help="Return as soon as the job is stored.")
@click.pass_context
def apply(
    ctx: click.Context, path: str, var_flags: tuple[str, ...], var_files: tuple[str, ...], check_index: int | None,
    detach: bool,
) -> None:
    """Submit a job file: a new version if it changed, then follow the evaluation."""
    run_job_file(ctx, path, var_flags, var_files, detach, check_index)


@job.command("run")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@variable_options
@check_index_opt
@click.option("-detach", "--detach", is_flag=True, help="Return as soon as the job is stored.")
@click.pass_context
def job_run(
    ctx: click.Context, path: str, var_flags: tuple[str, ...], var_files: tuple[str, ...], check_index: int | None,
    detach: bool,
) -> None:
    """Submit a job file (same as `reconciler apply -f`)."""
    run_job_file(ctx, path, var_flags, var_files, detach, check_index)


@job.command("stop")
@click.argument("job_id")
@click.option("-purge", "--purge", is_flag=True, help="Remove the job and its history.")
@click.option("-detach", "--detach", is_flag=True)
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_stop(ctx: click.Context, job_id: str, purge: bool, detach: bool, namespace: str) -> None:
    """Stop a job (its history is kept unless -purge)."""
    api = client_from(ctx)
    try:
        resp = api.delete(f"/v1/job/{job_id}", purge="true" if purge else None, namespace=namespace)
    except ApiClientError as exc:
        fail(f"Error deregistering job: {exc.message}")
    if detach:
        click.echo(resp["EvalID"])
        return
    sys.exit(monitor_eval(api, resp["EvalID"]))


@job.command("history")
@click.argument("job_id")
@click.option("-p", "--diff", "show_diff", is_flag=True, help="Show the differences between versions.")
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_history(ctx: click.Context, job_id: str, show_diff: bool, namespace: str) -> None:
    """List a job's versions, newest first."""
    api = client_from(ctx)
    try:
        resp = api.get(f"/v1/job/{job_id}/versions", namespace=namespace)
    except ApiClientError as exc:
        fail(f"Error retrieving job versions: {exc.message}")
    blocks = []
    for v in resp["Versions"]:
        blocks.append(kv([
            ("Version", v["Version"]),
            ("Stable", str(v.get("Stable", False)).lower()),
            ("Stop", str(v.get("Stop", False)).lower()),
            ("Submit Date", fmt_time(v.get("SubmitTime", 0) / 1e9)),
        ]))
    click.echo("\n\n".join(blocks))


@job.command("inspect")
@click.argument("job_id")
@click.option("-o", "--output", "fmt", type=click.Choice(["json", "yaml", "hcl"]), default="json", show_default=True)
@click.option("-version", "--version", "version", type=int, default=None, help="Show this version.")
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_inspect(ctx: click.Context, job_id: str, fmt: str, version: int | None, namespace: str) -> None:
    """Show a job's specification."""
    from reconciler import spec

    api = client_from(ctx)
    try:
        if version is None:
            data = api.get(f"/v1/job/{job_id}", namespace=namespace)
        else:
            versions = api.get(f"/v1/job/{job_id}/versions", namespace=namespace)["Versions"]
            match = [v for v in versions if v["Version"] == version]
            if not match:
                fail(f"Error: job {job_id} has no version {version}")
            data = match[0]
    except ApiClientError as exc:
        fail(f"Error inspecting job: {exc.message}")
    if fmt == "json":
        click.echo(json.dumps({"Job": data}, indent=4, sort_keys=True))
        return
    try:
        model = spec.job_from_nomad({"Job": data})
    except spec.SpecError as exc:
        fail("Error converting the job: " + "; ".join(str(e) for e in exc.errors))
    click.echo(spec.job_to_yaml(model) if fmt == "yaml" else spec.format_hcl(model))


def jobs_table(jobs: list[dict[str, Any]]) -> str:
    if not jobs:
        return "No running jobs"
    rows = [(j["ID"], j["Type"], j["Priority"], j["Status"], fmt_time(j.get("SubmitTime", 0) / 1e9)) for j in jobs]
    return table(["ID", "Type", "Priority", "Status", "Submit Date"], rows)
