"""Following an evaluation, then its deployment, as Nomad's `command/monitor.go` does: what
`job run`, `job stop`, `job scale`, `job promote` and `deployment promote|fail` print after
their write. Also the deployment block, printed at the end of a monitor and by
`deployment status`.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

import click

from reconciler.cli.client import ApiClient, ApiClientError, api_errors
from reconciler.cli.output import fmt_time, kv, now, short, table
from reconciler.model.plan import failure_lines

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def monitor_eval(api: ApiClient, eval_id: str, *, timeout: float = 60.0) -> int:
    """Follow an evaluation until it leaves `pending`, as `nomad job run` does: 0 if complete
    with everything placed, 2 if placements failed, 1 on error or timeout."""
    click.echo(f'==> {now()}: Monitoring evaluation "{short(eval_id)}"')
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
            click.echo(f'    {now()}: Evaluation triggered by job "{ev["JobID"]}"')
            first = False
        if ev["Status"] != status:
            _print_change(api, ev, status)
            status = ev["Status"]
        if status != "pending":
            break
        time.sleep(0.2)  # polling the API, as nomad's monitor does
    if status == "pending":
        click.echo(f'==> {now()}: Evaluation "{short(eval_id)}" still pending after {timeout:.0f}s')
        return 1
    if ev.get("FailedTGAllocs"):
        click.echo(
            f'==> {now()}: Evaluation "{short(eval_id)}" finished with status "{status}" '
            "but failed to place all allocations:"
        )
        for line in failure_lines(ev["FailedTGAllocs"], "    "):
            click.echo(line)
        return 2
    click.echo(f'==> {now()}: Evaluation "{short(eval_id)}" finished with status "{status}"')
    return 0 if status == "complete" else 1


def _print_change(api: ApiClient, ev: dict[str, Any], old: str) -> None:
    """The allocations an evaluation placed, its deployment, and its new status."""
    placed = set(ev.get("PlacedAllocs") or [])
    if placed:
        try:
            allocs = api.get(f"/v1/job/{ev['JobID']}/allocations", namespace=ev.get("Namespace", "default"))
        except ApiClientError:
            allocs = []
        for a in allocs:
            if a["ID"] in placed:
                click.echo(
                    f'    {now()}: Allocation "{short(a["ID"])}" created: node '
                    f'"{short(a["NodeID"])}", group "{a["TaskGroup"]}"'
                )
    if ev.get("DeploymentID"):
        click.echo(f'    {now()}: Evaluation within deployment: "{short(ev["DeploymentID"])}"')
    click.echo(f'    {now()}: Evaluation status changed: "{old}" -> "{ev["Status"]}"')


def deployment_block(d: dict[str, Any]) -> str:
    """`nomad deployment status` / the end of `nomad job run`: the key/value block and the
    Deployed table (Promoted and Canaries columns when canaries are used, Auto Revert when
    set)."""
    groups = d.get("TaskGroups") or {}
    canaries = any(g.get("DesiredCanaries", 0) > 0 for g in groups.values())
    revert = any(g.get("AutoRevert") for g in groups.values())
    header = (
        ["Task Group"]
        + (["Auto Revert"] if revert else [])
        + (["Promoted"] if canaries else [])
        + ["Desired"]
    )
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
        row += [
            g.get("PlacedAllocs", 0),
            g.get("HealthyAllocs", 0),
            g.get("UnhealthyAllocs", 0),
            _deadline(g.get("RequireProgressBy", "")),
        ]
        rows.append(row)
    head = kv(
        [
            ("ID", short(d["ID"])),
            ("Job ID", d["JobID"]),
            ("Job Version", d["JobVersion"]),
            ("Status", d["Status"]),
            ("Description", d["StatusDescription"]),
        ]
    )
    return head + "\n\nDeployed\n" + table(header, rows)


def _deadline(rfc3339: str) -> str:
    if not rfc3339 or rfc3339.startswith("0001-"):
        return "<none>"
    try:
        when = dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    except ValueError:
        return rfc3339
    return fmt_time(when.timestamp() * 1e9)


def _awaits_promotion(d: dict[str, Any]) -> bool:
    """Running, every canary placed and healthy, and a person has to promote them."""
    if d.get("Status") != "running" or "requires manual promotion" not in d.get("StatusDescription", ""):
        return False
    waiting = [
        g
        for g in (d.get("TaskGroups") or {}).values()
        if g.get("DesiredCanaries", 0) > 0 and not g.get("Promoted")
    ]
    return bool(waiting) and all(g.get("HealthyAllocs", 0) >= g.get("DesiredCanaries", 0) for g in waiting)


def monitor_deployment(api: ApiClient, dep_id: str, *, interval: float = 0.25) -> int:
    """Follow a deployment as `nomad job run` does: a spinner while it runs, then the result
    and its table. Returns at once (0) when canaries wait for a manual promotion; 0 when
    successful, 2 when failed or cancelled."""
    click.echo(f'==> {now()}: Monitoring deployment "{short(dep_id)}"')
    tty = sys.stdout.isatty()
    tick = 0
    shown = False
    while True:
        with api_errors("Error reading deployment"):
            d = api.get(f"/v1/deployment/{dep_id}")
        status = d.get("Status", "")
        if status == "running" and not _awaits_promotion(d):
            if tty:
                click.echo(
                    f'\r  {SPINNER[tick % len(SPINNER)]} Deployment "{short(dep_id)}" in progress...',
                    nl=False,
                )
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
        body = f"{now()}\n" + deployment_block(d)
        click.echo("\n".join(("    " + line).rstrip() for line in body.splitlines()))
        return 0 if status in ("successful", "running") else 2


def _eval_deployment(api: ApiClient, eval_id: str) -> str:
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
    dep_id = _eval_deployment(api, eval_id)
    return monitor_deployment(api, dep_id) if dep_id else code


def follow(
    api: ApiClient, eval_id: str, *, detach: bool, deployment: bool = False, detached: str = "{eval_id}"
) -> None:
    """After a write that created `eval_id`: print `detached` and return when `detach`,
    else exit with the monitor's code (the evaluation, and its deployment if `deployment`)."""
    if detach:
        click.echo(detached.format(eval_id=eval_id))
        return
    sys.exit(monitor(api, eval_id) if deployment else monitor_eval(api, eval_id))
