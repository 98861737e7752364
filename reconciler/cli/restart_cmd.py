"""`job restart`, as Nomad's (1.6+): restart a job's running allocations in batches, in
place (their tasks restarted by the node agent, `alloc restart`'s request) or, with
`-reschedule`, by stopping each one so the scheduler places a replacement. Each batch is
waited for (every task of it running again after its restart, or every replacement
running) before the next starts, `-batch-wait` apart."""

from __future__ import annotations

import math
import time
import urllib.parse
from typing import Any

import click

from reconciler.cli.client import ApiClient, api_errors, client_from, fail
from reconciler.cli.groups import job
from reconciler.cli.output import fmt_time

BATCH_DEADLINE = 300.0  # seconds a batch may take before the restart gives up
POLL = 0.25


def parse_batch_size(text: str, total: int) -> int:
    """`-batch-size`: a count, or a percentage of the allocations (rounded up, at least 1)."""
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 < pct <= 100:
                raise ValueError
            return max(1, math.ceil(total * pct / 100))
        n = int(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a count or a percentage in (0, 100]") from None
    if n < 1:
        raise click.BadParameter("must be at least 1")
    return n


def _now() -> str:
    return fmt_time(time.time_ns())


def _restarted(alloc: dict[str, Any], since_ns: int, tasks: set[str]) -> bool:
    """Every task of `tasks` (every task when empty) signalled to restart after `since_ns`
    and running again."""
    states = alloc.get("TaskStates") or {}
    names = tasks or set(states)
    for name in names:
        ts = states.get(name) or {}
        events = ts.get("Events") or []
        signalled = [e["Time"] for e in events if e["Type"] == "Restart Signaled" and e["Time"] >= since_ns]
        started = [e["Time"] for e in events if e["Type"] == "Started"]
        if not signalled or not started or max(started) < min(signalled) or ts.get("State") != "running":
            return False
    return True


def _running(c: ApiClient, job_id: str, namespace: str) -> set[str]:
    allocs = c.get(f"/v1/job/{urllib.parse.quote(job_id)}/allocations", namespace=namespace)
    return {a["ID"] for a in allocs if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"}


def _wait(what: str, done: Any) -> None:
    deadline = time.monotonic() + BATCH_DEADLINE
    while not done():
        if time.monotonic() > deadline:
            fail(f"Error: timed out after {BATCH_DEADLINE:.0f}s waiting for {what}")
        time.sleep(POLL)


def _restart_batch(
    c: ApiClient, batch: list[dict[str, Any]], *, task: str, reschedule: bool, namespace: str
) -> None:
    since = time.time_ns()
    job_id = batch[0]["JobID"]
    before = _running(c, job_id, namespace)
    for a in batch:
        short, group = a["ID"][:8], a["TaskGroup"]
        if reschedule:
            click.echo(f'    {_now()}: Rescheduling allocation "{short}" for group "{group}"')
            c.post(f"/v1/allocation/{urllib.parse.quote(a['ID'])}/stop", namespace=namespace)
        else:
            which = f'task "{task}"' if task else "running tasks"
            click.echo(f'    {_now()}: Restarting {which} in allocation "{short}" for group "{group}"')
            path = f"/v1/client/allocation/{urllib.parse.quote(a['ID'])}/restart"
            c.post(path, {"TaskName": task}, namespace=namespace)
    if reschedule:
        stopped = {a["ID"] for a in batch}

        def replaced() -> bool:
            now = _running(c, job_id, namespace)
            return not now & stopped and len(now) >= len(before)

        _wait(f"replacements of {len(stopped)} allocations running", replaced)
        return
    tasks = {task} if task else set()
    for a in batch:

        def back(a: dict[str, Any] = a) -> bool:
            got = c.get(f"/v1/allocation/{urllib.parse.quote(a['ID'])}", namespace=namespace)
            return _restarted(got, since, tasks)

        _wait(f"allocation {a['ID'][:8]} to restart", back)


@job.command("restart")
@click.argument("job_id")
@click.option("-batch-size", "--batch-size", default="1", help="Allocations per batch: N or N%.")
@click.option("-batch-wait", "--batch-wait", type=float, default=0.0, help="Seconds to wait between batches.")
@click.option("-group", "--group", "groups", multiple=True, help="Only this task group (repeatable).")
@click.option("-task", "--task", default="", help="Only this task (in place restarts).")
@click.option(
    "-reschedule", "--reschedule", is_flag=True, help="Stop each allocation for a replacement instead."
)
@click.option("-namespace", "--namespace", default="default")
@click.pass_context
def job_restart(
    ctx: click.Context,
    job_id: str,
    batch_size: str,
    batch_wait: float,
    groups: tuple[str, ...],
    task: str,
    reschedule: bool,
    namespace: str,
) -> None:
    """Restart a job's running allocations, a batch at a time."""
    if task and reschedule:
        fail("Error: -task and -reschedule cannot be used together")
    c = client_from(ctx)
    with api_errors("Error restarting job"):
        allocs = [
            a
            for a in c.get(f"/v1/job/{urllib.parse.quote(job_id)}/allocations", namespace=namespace)
            if a["DesiredStatus"] == "run"
            and a["ClientStatus"] == "running"
            and (not groups or a["TaskGroup"] in groups)
        ]
        if not allocs:
            fail(f"Error: job {job_id!r} has no running allocations to restart")
        allocs.sort(key=lambda a: (a["TaskGroup"], a["Name"]))
        size = parse_batch_size(batch_size, len(allocs))
        click.echo(f"==> {_now()}: Restarting {len(allocs)} allocation{'s' if len(allocs) != 1 else ''}")
        for i in range(0, len(allocs), size):
            if i and batch_wait > 0:
                click.echo(f"==> {_now()}: Waiting {batch_wait:g}s before restarting the next batch")
                time.sleep(batch_wait)  # the operator's pacing between batches, not synchronisation
            _restart_batch(c, allocs[i : i + size], task=task, reschedule=reschedule, namespace=namespace)
    click.echo(f"==> {_now()}: Finished job restart\n\nAll allocations restarted successfully!")
