"""`reconciler event stream`: the agent's event stream (`GET /v1/event/stream`) for people,
one line per event (when it arrived, topic, type, key, a short summary), or the frames as
they come with `-json`."""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import click

from reconciler.cli.client import client_from
from reconciler.cli.groups import cli
from reconciler.cli.output import now, short

TOPICS = ("Job", "Allocation", "Deployment", "Evaluation", "Node", "Service", "*")
SHORT_KEYS = frozenset({"Allocation", "Deployment", "Evaluation", "Node"})  # uuids: 8 characters do


def _job(p: dict[str, Any]) -> str:
    job = p["Job"]
    return f"version {job.get('Version', 0)}, {job.get('Status', '')}" + (
        ", stopped" if job.get("Stop") else ""
    )


def _alloc(p: dict[str, Any]) -> str:
    a = p["Allocation"]
    where = a.get("NodeName") or short(a.get("NodeID", ""))
    return f"{a['Name']} on {where}: desired {a['DesiredStatus']}, client {a['ClientStatus']}"


def _eval(p: dict[str, Any]) -> str:
    e = p["Evaluation"]
    return f"job {e['JobID']} ({e['TriggeredBy']}): {e['Status']}"


def _deployment(p: dict[str, Any]) -> str:
    d = p["Deployment"]
    return f"job {d['JobID']} version {d['JobVersion']}: {d['Status']}"


def _node(p: dict[str, Any]) -> str:
    n = p["Node"]
    return f"{n['Name']} {n['Status']}, {n['SchedulingEligibility']}" + (
        ", draining" if n.get("Drain") else ""
    )


def _service(p: dict[str, Any]) -> str:
    s = p["Service"]
    return f"{s['ServiceName']} at {s['Address']}:{s['Port']} (alloc {short(s['AllocID'])})"


SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "Job": _job,
    "Allocation": _alloc,
    "Evaluation": _eval,
    "Deployment": _deployment,
    "Node": _node,
    "Service": _service,
}


def summary(event: dict[str, Any]) -> str:
    """A few words on what the event's object is now; "" for a topic or payload we do not know."""
    fn = SUMMARIES.get(event.get("Topic", ""))
    try:
        return fn(event.get("Payload") or {}) if fn else ""
    except (KeyError, TypeError):
        return ""


def event_line(event: dict[str, Any], at: str) -> str:
    key = event.get("Key", "")
    if event.get("Topic") in SHORT_KEYS:
        key = short(key)
    topic, typ = event.get("Topic", ""), event.get("Type", "")
    return f"{at}  {topic:<10}  {typ:<29}  {key:<20}  {summary(event)}".rstrip()


class Lines:
    """Splits a chunked body into lines (a frame may arrive in pieces) for `handle`."""

    def __init__(self, handle: Callable[[bytes], None]) -> None:
        self.handle = handle
        self.buf = b""

    def feed(self, chunk: bytes) -> None:
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            if line.strip():
                self.handle(line)


@cli.group()
def event() -> None:
    """Follow what happens in the cluster."""


@event.command("stream")
@click.option(
    "-topic",
    "--topic",
    "topics",
    multiple=True,
    metavar="TOPIC[:KEY]",
    help=f"Only this topic ({', '.join(TOPICS)}), optionally one key (a job id matches its "
    "allocations, evaluations and deployments too). Repeatable; default every topic.",
)
@click.option("-index", "--index", default=0, type=click.IntRange(min=0), help="Start at this index.")
@click.option("-namespace", "--namespace", default="default", show_default=True, help='"*" for every one.')
@click.option("-json", "--json", "as_json", is_flag=True, help="Print the frames as the API sends them.")
@click.pass_context
def event_stream(
    ctx: click.Context, topics: tuple[str, ...], index: int, namespace: str, as_json: bool
) -> None:
    """Print events as they happen (Ctrl-C to stop); with -index, first those since that index."""
    for t in topics:
        if t.split(":", 1)[0] not in TOPICS:
            raise click.BadParameter(f"unknown topic {t!r}; one of {', '.join(TOPICS)}", param_hint="-topic")

    def frame(line: bytes) -> None:
        data = json.loads(line)
        if not data:
            return  # a heartbeat
        if as_json:
            click.echo(json.dumps(data))
            return
        at = now()
        for e in data.get("Events") or []:
            click.echo(event_line(e, at))

    query = urllib.parse.urlencode(
        {"topic": list(topics), "namespace": namespace, **({"index": index} if index else {})}, doseq=True
    )
    lines = Lines(frame)
    with contextlib.suppress(KeyboardInterrupt):
        client_from(ctx).stream(f"/v1/event/stream?{query}", lines.feed)
