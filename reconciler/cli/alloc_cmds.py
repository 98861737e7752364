"""`reconciler alloc status|logs|stop|restart|exec`, shaped like Nomad's commands.

They talk to the agent's HTTP API (reconciler.api.allocations and logs): status and events from
/v1/client/allocation/<id>/status, logs from /v1/client/fs/logs/<id> (streamed with -f),
stop through /v1/allocation/<id>/stop, restart and exec through /v1/client/allocation/<id>/.
Allocation ids may be given as a unique prefix (the 8-character short form).
"""

from __future__ import annotations

import contextlib
import sys
import urllib.parse
from typing import Any

import click

from reconciler.cli.client import client_from, fail
from reconciler.cli.groups import alloc
from reconciler.cli.output import ago, fmt_time, kv, short, table
from reconciler.model.alloc_dir import tail_lines


def _path(alloc_id: str, tail: str) -> str:
    return f"/v1/client/allocation/{urllib.parse.quote(alloc_id)}/{tail}"


def allocs_table(allocs: list[dict[str, Any]]) -> str:
    """The Allocations table of `job status` and `node status`."""
    if not allocs:
        return "No allocations placed"
    rows = [
        [
            short(a["ID"]),
            short(a["NodeID"]),
            a["TaskGroup"],
            a["JobVersion"],
            a["DesiredStatus"],
            a["ClientStatus"],
            ago(a.get("CreateTime", 0)),
        ]
        for a in allocs
    ]
    return table(["ID", "Node ID", "Task Group", "Version", "Desired", "Status", "Created"], rows)


def format_status(a: dict[str, Any], *, verbose: bool = False) -> str:
    ident = a["ID"] if verbose else a["ID"][:8]
    lines = [
        kv(
            [
                ("ID", ident),
                ("Eval ID", (a.get("EvalID") or "")[: None if verbose else 8] or "<none>"),
                ("Name", a.get("Name", "")),
                ("Node ID", (a.get("NodeID") or "")[: None if verbose else 8]),
                ("Node Name", a.get("NodeName") or "<none>"),
                ("Job ID", a.get("JobID", "")),
                ("Job Version", a.get("JobVersion", 0)),
                ("Client Status", a.get("ClientStatus", "")),
                ("Client Description", a.get("ClientDescription") or "<none>"),
                ("Desired Status", a.get("DesiredStatus", "")),
                ("Desired Description", a.get("DesiredDescription") or "<none>"),
                ("Created", ago(a.get("CreateTime", 0))),
                ("Modified", ago(a.get("ModifyTime", 0))),
            ]
        )
    ]
    ports = a.get("AllocatedResources", {}).get("Shared", {}).get("Ports", [])
    if ports:
        lines += [
            "",
            "Allocation Addresses:",
            table(
                ["Label", "Dynamic", "Address"],
                [[f"*{p['Label']}", "yes", f"{p.get('HostIP') or '127.0.0.1'}:{p['Value']}"] for p in ports],
            ),
        ]
    for name, ts in sorted(a.get("TaskStates", {}).items()):
        lines += ["", f'Task "{name}" is "{ts["State"]}"']
        if ts.get("Restarts"):
            lines.append(f"Restarts = {ts['Restarts']}")
        events = ts.get("Events", [])
        if not verbose:
            events = events[-10:]
        rows = [
            [fmt_time(e["Time"]), e["Type"], e.get("DisplayMessage") or e.get("Message") or ""]
            for e in reversed(events)
        ]
        lines += ["Recent Events:", table(["Time", "Type", "Description"], rows)]
    return "\n".join(lines)


@alloc.command("status")
@click.option("-verbose", "--verbose", is_flag=True, help="Full ids and every event.")
@click.option("-stats", "--stats", "stats", is_flag=True, help="Show each task's resource usage.")
@click.argument("alloc_id")
@click.pass_context
def alloc_status(ctx: click.Context, alloc_id: str, verbose: bool, stats: bool) -> None:
    """Show an allocation's status, task states and recent events."""
    a = client_from(ctx).get(_path(alloc_id, "status"))
    click.echo(format_status(a, verbose=verbose))
    if stats:
        click.echo(format_usage(client_from(ctx).get(_path(a["ID"], "stats"))))


def format_usage(usage: dict[str, Any]) -> str:
    """Nomad's "Resource Utilization" of each task: CPU percent and ticks, memory RSS."""
    rows = []
    for name, t in sorted((usage.get("Tasks") or {}).items()):
        cpu, mem = t["ResourceUsage"]["CpuStats"], t["ResourceUsage"]["MemoryStats"]
        rows.append(
            [name, f"{cpu['Percent']:.1f}% ({cpu['TotalTicks']:.0f} MHz)", f"{mem['RSS'] // (1 << 20)} MiB"]
        )
    return "\nResource Utilization\n" + table(["Task", "CPU", "Memory"], rows)


def _write(chunk: bytes) -> None:
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


@alloc.command("logs")
@click.option("-stderr", "--stderr", "stderr", is_flag=True, help="Show stderr instead of stdout.")
@click.option("-f", "--follow", "follow", is_flag=True, help="Keep streaming new output.")
@click.option("-tail", "--tail", "tail", is_flag=True, help="Show the end of the logs (with -n lines).")
@click.option("-n", "lines", type=int, default=-1, help="Number of lines to show with -tail (default 10).")
@click.option("-task", "--task", "task_opt", default="", help="Task name (or the second argument).")
@click.argument("alloc_id")
@click.argument("task", required=False, default="")
@click.pass_context
def alloc_logs(
    ctx: click.Context,
    alloc_id: str,
    task: str,
    task_opt: str,
    stderr: bool,
    follow: bool,
    tail: bool,
    lines: int,
) -> None:
    """Print a task's stdout (or stderr) logs."""
    api = client_from(ctx)
    task = task or task_opt
    if lines >= 0:
        tail = True
    n = lines if lines >= 0 else 10
    params: dict[str, Any] = {"task": task, "type": "stderr" if stderr else "stdout", "plain": "true"}
    path = f"/v1/client/fs/logs/{urllib.parse.quote(alloc_id)}"
    if tail:
        _write(
            tail_lines(
                api.raw("GET", path, params={**params, "origin": "end", "offset": str(max(65536, n * 1024))}),
                n,
            )
        )
        if not follow:
            return
        params.update(origin="end", offset="0")
    if follow:
        with contextlib.suppress(KeyboardInterrupt):
            api.stream(path, _write, params={**params, "follow": "true"})
        return
    _write(api.raw("GET", path, params=params))


@alloc.command("stop")
@click.argument("alloc_id")
@click.pass_context
def alloc_stop(ctx: click.Context, alloc_id: str) -> None:
    """Stop an allocation (the scheduler may place a replacement)."""
    out = client_from(ctx).post(f"/v1/allocation/{urllib.parse.quote(alloc_id)}/stop")
    click.echo(
        f'==> Allocation "{alloc_id[:8]}" stop requested; evaluation "{out.get("EvalID", "")[:8]}" created'
    )


@alloc.command("restart")
@click.option("-task", "--task", "task_opt", default="", help="Restart only this task.")
@click.argument("alloc_id")
@click.argument("task", required=False, default="")
@click.pass_context
def alloc_restart(ctx: click.Context, alloc_id: str, task: str, task_opt: str) -> None:
    """Restart an allocation's tasks (all, or one) in place."""
    client_from(ctx).post(_path(alloc_id, "restart"), {"TaskName": task or task_opt})
    click.echo(
        f'==> Restart requested for allocation "{alloc_id[:8]}"'
        + (f' task "{task or task_opt}"' if task or task_opt else "")
    )


@alloc.command("exec", context_settings={"ignore_unknown_options": True})
@click.option("-task", "--task", "task", default="", help="Task to run the command in.")
@click.option("-timeout", "--timeout", "timeout", type=float, default=60.0, help="Seconds before giving up.")
@click.argument("alloc_id")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def alloc_exec(
    ctx: click.Context, alloc_id: str, command: tuple[str, ...], task: str, timeout: float
) -> None:
    """Run a command in a task's directory and environment (non-interactive)."""
    cmd = list(command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        fail("Error: a command is required after the allocation id")
    out = client_from(ctx).post(_path(alloc_id, "exec"), {"Task": task, "Cmd": cmd, "Timeout": timeout})
    sys.stdout.write(out.get("Stdout", ""))
    sys.stderr.write(out.get("Stderr", ""))
    sys.exit(int(out.get("ExitCode", 0)))
