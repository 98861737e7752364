"""`reconciler alloc status|logs|stop|restart|exec`, shaped like Nomad's commands.

They talk to the agent's HTTP API (client_routes): status and events from
/v1/client/allocation/<id>/status, logs from /v1/client/fs/logs/<id> (streamed with -f),
stop through /v1/allocation/<id>/stop, restart and exec through /v1/client/allocation/<id>/.
Allocation ids may be given as a unique prefix (the 8-character short form).
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import click

from reconciler.cli.client import ApiClient, ApiClientError, client_from, fail
from reconciler.cli.groups import alloc
from reconciler.cli.output import kv, table
from reconciler.model.alloc_dir import tail_lines


def _api(ctx: click.Context) -> ApiClient:
    return client_from(ctx)


def _call(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except ApiClientError as exc:
        fail(f"Error: {exc.message}")


def _ago(ns: int) -> str:
    if not ns:
        return "<none>"
    secs = max(0, time.time() - ns / 1e9)
    if secs < 60:
        return f"{int(secs)}s ago"
    if secs < 3600:
        return f"{int(secs // 60)}m{int(secs % 60)}s ago"
    return f"{int(secs // 3600)}h{int(secs % 3600 // 60)}m ago"


def _event_time(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9)) if ns else "<none>"


def format_status(a: dict[str, Any], *, verbose: bool = False) -> str:
    ident = a["ID"] if verbose else a["ID"][:8]
    lines = [kv([
        ("ID", ident), ("Eval ID", (a.get("EvalID") or "")[: None if verbose else 8] or "<none>"),
        ("Name", a.get("Name", "")), ("Node ID", (a.get("NodeID") or "")[: None if verbose else 8]),
        ("Node Name", a.get("NodeName") or "<none>"), ("Job ID", a.get("JobID", "")),
        ("Job Version", a.get("JobVersion", 0)), ("Client Status", a.get("ClientStatus", "")),
        ("Client Description", a.get("ClientDescription") or "<none>"),
        ("Desired Status", a.get("DesiredStatus", "")),
        ("Desired Description", a.get("DesiredDescription") or "<none>"),
        ("Created", _ago(a.get("CreateTime", 0))), ("Modified", _ago(a.get("ModifyTime", 0))),
    ])]
    ports = a.get("AllocatedResources", {}).get("Shared", {}).get("Ports", [])
    if ports:
        lines += ["", "Allocation Addresses:",
                  table(["Label", "Dynamic", "Address"],
                        [[f"*{p['Label']}", "yes", f"{p.get('HostIP') or '127.0.0.1'}:{p['Value']}"] for p in ports])]
    for name, ts in sorted(a.get("TaskStates", {}).items()):
        lines += ["", f'Task "{name}" is "{ts["State"]}"']
        if ts.get("Restarts"):
            lines.append(f"Restarts = {ts['Restarts']}")
        events = ts.get("Events", [])
        if not verbose:
            events = events[-10:]
        rows = [[_event_time(e["Time"]), e["Type"], e.get("DisplayMessage") or e.get("Message") or ""]
                for e in reversed(events)]
        lines += ["Recent Events:", table(["Time", "Type", "Description"], rows)]
    return "\n".join(lines)


@alloc.command("status")
@click.option("-verbose", "--verbose", is_flag=True, help="Full ids and every event.")
@click.argument("alloc_id")
@click.pass_context
def alloc_status(ctx: click.Context, alloc_id: str, verbose: bool) -> None:
    """Show an allocation's status, task states and recent events."""
    a = _call(_api(ctx).get, f"/v1/client/allocation/{urllib.parse.quote(alloc_id)}/status")
    click.echo(format_status(a, verbose=verbose))


def _stream(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=None) as resp:
            while True:
                chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
                if not chunk:
                    break
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
    except urllib.error.HTTPError as exc:
        fail(f"Error: {exc.read().decode(errors='replace').strip()}")
    except urllib.error.URLError as exc:
        fail(f"Error: cannot reach the reconciler agent: {exc.reason}")
    except KeyboardInterrupt:
        pass


@alloc.command("logs")
@click.option("-stderr", "--stderr", "stderr", is_flag=True, help="Show stderr instead of stdout.")
@click.option("-f", "--follow", "follow", is_flag=True, help="Keep streaming new output.")
@click.option("-tail", "--tail", "tail", is_flag=True, help="Show the end of the logs (with -n lines).")
@click.option("-n", "lines", type=int, default=-1, help="Number of lines to show with -tail (default 10).")
@click.option("-task", "--task", "task_opt", default="", help="Task name (or the second argument).")
@click.argument("alloc_id")
@click.argument("task", required=False, default="")
@click.pass_context
def alloc_logs(ctx: click.Context, alloc_id: str, task: str, task_opt: str, stderr: bool, follow: bool,
               tail: bool, lines: int) -> None:
    """Print a task's stdout (or stderr) logs."""
    api = _api(ctx)
    task = task or task_opt
    if lines >= 0:
        tail = True
    n = lines if lines >= 0 else 10
    params: dict[str, Any] = {"task": task, "type": "stderr" if stderr else "stdout", "plain": "true"}
    path = f"/v1/client/fs/logs/{urllib.parse.quote(alloc_id)}"
    if tail:
        raw = _raw(api, path, {**params, "origin": "end", "offset": str(max(65536, n * 1024))})
        sys.stdout.buffer.write(tail_lines(raw, n))
        sys.stdout.buffer.flush()
        if not follow:
            return
        params.update(origin="end", offset="0")
    if follow:
        _stream(api.address + path + "?" + urllib.parse.urlencode({**params, "follow": "true"}))
        return
    sys.stdout.buffer.write(_raw(api, path, params))
    sys.stdout.buffer.flush()


def _raw(api: ApiClient, path: str, params: dict[str, Any]) -> bytes:
    url = api.address + path + "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=api.timeout) as resp:
            return bytes(resp.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        try:
            import json

            body = json.loads(body).get("error", body)
        except ValueError:
            pass
        fail(f"Error: {body}")
    except urllib.error.URLError as exc:
        fail(f"Error: cannot reach the reconciler agent at {api.address}: {exc.reason}")


@alloc.command("stop")
@click.argument("alloc_id")
@click.pass_context
def alloc_stop(ctx: click.Context, alloc_id: str) -> None:
    """Stop an allocation (the scheduler may place a replacement)."""
    out = _call(_api(ctx).post, f"/v1/allocation/{urllib.parse.quote(alloc_id)}/stop")
    click.echo(f'==> Allocation "{alloc_id[:8]}" stop requested; evaluation "{out.get("EvalID", "")[:8]}" created')


@alloc.command("restart")
@click.option("-task", "--task", "task_opt", default="", help="Restart only this task.")
@click.argument("alloc_id")
@click.argument("task", required=False, default="")
@click.pass_context
def alloc_restart(ctx: click.Context, alloc_id: str, task: str, task_opt: str) -> None:
    """Restart an allocation's tasks (all, or one) in place."""
    _call(_api(ctx).post, f"/v1/client/allocation/{urllib.parse.quote(alloc_id)}/restart",
          {"TaskName": task or task_opt})
    click.echo(f'==> Restart requested for allocation "{alloc_id[:8]}"' + (f' task "{task or task_opt}"' if task or task_opt else ""))


@alloc.command("exec", context_settings={"ignore_unknown_options": True})
@click.option("-task", "--task", "task", default="", help="Task to run the command in.")
@click.option("-timeout", "--timeout", "timeout", type=float, default=60.0, help="Seconds before giving up.")
@click.argument("alloc_id")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def alloc_exec(ctx: click.Context, alloc_id: str, command: tuple[str, ...], task: str, timeout: float) -> None:
    """Run a command in a task's directory and environment (non-interactive)."""
    cmd = list(command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        fail("Error: a command is required after the allocation id")
    out = _call(_api(ctx).post, f"/v1/client/allocation/{urllib.parse.quote(alloc_id)}/exec",
                {"Task": task, "Cmd": cmd, "Timeout": timeout})
    sys.stdout.write(out.get("Stdout", ""))
    sys.stderr.write(out.get("Stderr", ""))
    sys.exit(int(out.get("ExitCode", 0)))
