"""`reconciler alloc fs` and `alloc signal`, as Nomad's: browse an allocation directory
(`ls` for a directory, `cat` for a file, `-stat` for one entry's description) and send a
signal to an allocation's tasks."""

from __future__ import annotations

import sys
import urllib.parse
from typing import Any

import click

from reconciler.cli.client import client_from
from reconciler.cli.groups import alloc
from reconciler.cli.output import table


def _fs(op: str, alloc_id: str) -> str:
    return f"/v1/client/fs/{op}/{urllib.parse.quote(alloc_id)}"


def _size(n: int) -> str:
    """Bytes as Nomad prints them (15 B, 1.5 KiB)."""
    v = float(n)
    for unit in ("B", "KiB", "MiB"):
        if v < 1024:
            return f"{n} B" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return f"{v:.1f} GiB"


def _rows(entries: list[dict[str, Any]]) -> str:
    rows = [
        [e["FileMode"], _size(int(e["Size"])), e["ModTime"], e["Name"] + ("/" if e["IsDir"] else "")]
        for e in entries
    ]
    return table(["Mode", "Size", "Modified Time", "Name"], rows)


@alloc.command("fs")
@click.option("-stat", "--stat", "stat", is_flag=True, help="Show the file's description, not its contents.")
@click.argument("alloc_id")
@click.argument("path", required=False, default="/")
@click.pass_context
def alloc_fs(ctx: click.Context, alloc_id: str, path: str, stat: bool) -> None:
    """List a directory of an allocation, or print one of its files."""
    api = client_from(ctx)
    info = api.request("GET", _fs("stat", alloc_id), params={"path": path})
    if stat:
        click.echo(_rows([info]))
    elif info["IsDir"]:
        click.echo(_rows(api.request("GET", _fs("ls", alloc_id), params={"path": path})))
    else:
        sys.stdout.buffer.write(api.raw("GET", _fs("cat", alloc_id), params={"path": path}))
        sys.stdout.buffer.flush()


@alloc.command("signal")
@click.option("-s", "signal_name", default="SIGKILL", help="The signal to send (default SIGKILL).")
@click.option("-task", "--task", "task_opt", default="", help="Signal only this task.")
@click.argument("alloc_id")
@click.argument("task", required=False, default="")
@click.pass_context
def alloc_signal(ctx: click.Context, alloc_id: str, task: str, task_opt: str, signal_name: str) -> None:
    """Send a signal to an allocation's tasks (all, or one)."""
    body = {"Signal": signal_name, "Task": task or task_opt}
    client_from(ctx).post(f"/v1/client/allocation/{urllib.parse.quote(alloc_id)}/signal", body)
