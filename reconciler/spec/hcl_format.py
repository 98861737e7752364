"""The job model as canonical HCL text, for `reconciler fmt` and `job inspect -o hcl`.

Writes only what differs from what the reader would fill in by itself (Nomad's defaults,
the job type's policies, default service and check names), in a fixed order with two-space
indentation, so the text is short and `parse_job(format_hcl(job)) == job` for every job the
loaders produce. Strings are escaped so that they read back unchanged: `${` becomes `$${`
unless it is a runtime interpolation such as `${NOMAD_PORT_http}`, which stays as written.
"""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

from reconciler.model.job import (
    Affinity,
    Artifact,
    Check,
    CheckRestart,
    Constraint,
    DisconnectStrategy,
    DispatchPayload,
    EphemeralDisk,
    Job,
    LogConfig,
    MigrateStrategy,
    Network,
    Parameterized,
    Periodic,
    Port,
    ReschedulePolicy,
    Resources,
    RestartPolicy,
    Service,
    Spread,
    Task,
    TaskGroup,
    Template,
    UpdateStrategy,
    one_per_node,
    runs_to_completion,
)
from reconciler.model.volumes import VolumeMount, VolumeRequest
from reconciler.spec.defaults import default_check_name, default_service_name, fill_defaults
from reconciler.spec.durations import format_duration
from reconciler.spec.expressions import is_runtime_reference
from reconciler.spec.hcl_text import matching_brace

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
KEYWORDS = frozenset({"true", "false", "null", "in", "for", "if", "for_each", "else", "endif", "endfor"})
DURATIONS = frozenset(
    {
        "min_healthy_time",
        "healthy_deadline",
        "progress_deadline",
        "stagger",
        "interval",
        "delay",
        "max_delay",
        "grace",
        "timeout",
        "kill_timeout",
        "splay",
        "shutdown_delay",
        "max_client_disconnect",
        "stop_after_client_disconnect",
        "stop_on_client_after",
        "lost_after",
    }
)


def _escape_literal(text: str) -> str:
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def quote_string(text: str) -> str:
    """`text` as an HCL quoted string that reads back as exactly `text`."""
    out: list[str] = []
    i = 0
    literal_start = 0
    while i < len(text):
        two = text[i : i + 2]
        if two in ("${", "%{"):
            out.append(_escape_literal(text[literal_start:i]))
            end = matching_brace(text, i + 2) if two == "${" else -1
            if end > 0 and "\n" not in text[i:end] and is_runtime_reference(text[i + 2 : end]):
                if out[-1].endswith("$"):  # "$${" would read as an escape: spell that "$" out
                    out[-1] = out[-1][:-1] + "\\u0024"
                out.append(text[i : end + 1])
                i = literal_start = end + 1
                continue
            out.append("\\u0024{" if two == "${" else "\\u0025{")
            i = literal_start = i + 2
            continue
        i += 1
    out.append(_escape_literal(text[literal_start:]))
    return '"' + "".join(out) + '"'


def _number(v: int | float) -> str:
    if isinstance(v, float):
        return repr(v) if v == v and v not in (float("inf"), float("-inf")) else "null"
    return str(v)


def _key(k: str) -> str:
    return k if IDENT.fullmatch(k) and k not in KEYWORDS else quote_string(k)


def value_text(v: Any) -> str:
    """Any plain value (config, meta) as an HCL expression."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return _number(v)
    if isinstance(v, str):
        return quote_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(value_text(x) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{_key(str(k))} = {value_text(x)}" for k, x in v.items()) + " }"
    return quote_string(str(v))


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0
        self.pending: list[tuple[str, str]] = []  # attributes aligned on "=" when flushed

    def _flush(self) -> None:
        width = max((len(name) for name, _ in self.pending), default=0)
        for name, text in self.pending:
            self.lines.append("  " * self.depth + name.ljust(width) + " = " + text)
        self.pending = []

    def attr(self, name: str, value: Any, *, duration: bool = False) -> None:
        text = quote_string(format_duration(value)) if duration else value_text(value)
        if isinstance(value, list) and value and len(text) + 2 * self.depth + len(name) > 100:
            inner = "  " * (self.depth + 1)
            text = "[\n" + "".join(f"{inner}{value_text(x)},\n" for x in value) + "  " * self.depth + "]"
        self.pending.append((name, text))

    def open(self, head: str) -> None:
        self._flush()
        self.lines.append("  " * self.depth + head + " {")
        self.depth += 1

    def close(self) -> None:
        self._flush()
        self.depth -= 1
        if self.lines[-1].endswith(" {") and self.lines[-1].strip() != "{":
            self.lines[-1] += "}"
        else:
            self.lines.append("  " * self.depth + "}")

    def blank(self) -> None:
        self._flush()
        if self.lines and not self.lines[-1].endswith("{") and self.lines[-1] != "":
            self.lines.append("")

    def diff_fields(self, obj: Any, base: Any, skip: tuple[str, ...] = ()) -> None:
        """Every field of `obj` whose value differs from `base`'s."""
        for f in fields(obj):
            if f.name in skip:
                continue
            value = getattr(obj, f.name)
            if base is not None and value == getattr(base, f.name):
                continue
            self.attr(f.name, value, duration=f.name in DURATIONS and isinstance(value, int))

    def block(
        self, head: str, obj: Any, base: Any, skip: tuple[str, ...] = (), *, always: bool = False
    ) -> None:
        if not always and obj == base:
            return
        self.open(head)
        self.diff_fields(obj, base, skip)
        self.close()

    def map_block(self, name: str, value: dict[str, Any]) -> None:
        if not value:
            return
        if all(IDENT.fullmatch(k) and k not in KEYWORDS for k in value):
            self.open(name)
            for k, v in value.items():
                self.attr(k, v)
            self.close()
        else:
            self.attr(name, value)


def _constraints(w: _Writer, items: list[Constraint]) -> None:
    for c in items:
        w.block("constraint", c, Constraint(), always=True)


def _placement(w: _Writer, affinities: list[Affinity], spreads: list[Spread]) -> None:
    for a in affinities:
        w.block("affinity", a, Affinity(), always=True)
    for s in spreads:
        w.open("spread")
        w.diff_fields(s, Spread(), skip=("targets",))
        for t in s.targets:
            w.open(f"target {quote_string(t.value)}")
            w.attr("percent", t.percent)
            w.close()
        w.close()


def _service(w: _Writer, s: Service, default_name: str) -> None:
    w.open("service")
    if s.name != default_name:
        w.attr("name", s.name)
    w.diff_fields(s, Service(), skip=("name", "meta", "checks", "check_restart"))
    w.map_block("meta", s.meta)
    for i, c in enumerate(s.checks):
        w.open("check")
        if c.name != default_check_name(s, i):
            w.attr("name", c.name)
        w.attr("type", c.type)
        w.diff_fields(c, Check(), skip=("name", "header", "type", "check_restart"))
        w.map_block("header", c.header)
        if c.check_restart is not None:
            w.block("check_restart", c.check_restart, CheckRestart(), always=True)
        w.close()
    if s.check_restart is not None:
        w.block("check_restart", s.check_restart, CheckRestart(), always=True)
    w.close()


def _task(w: _Writer, job: Job, group: TaskGroup, t: Task) -> None:
    w.open(f"task {quote_string(t.name)}")
    w.diff_fields(
        t,
        Task(name=t.name),
        skip=(
            "name",
            "config",
            "env",
            "resources",
            "services",
            "artifacts",
            "templates",
            "logs",
            "meta",
            "constraints",
            "affinities",
            "volume_mounts",
            "restart",
            "dispatch_payload",
            "lifecycle",
        ),
    )
    w.map_block("config", t.config)
    w.map_block("env", t.env)
    w.block("resources", t.resources, Resources())
    for a in t.artifacts:
        w.open("artifact")
        w.attr("source", a.source)
        w.diff_fields(a, Artifact(source=a.source), skip=("source", "options", "headers"))
        w.map_block("options", a.options)
        w.map_block("headers", a.headers)
        w.close()
    for tpl in t.templates:
        w.block("template", tpl, Template(), always=True)
    for s in t.services:
        _service(w, s, default_service_name(job, group.name, t.name))
    w.block("logs", t.logs, LogConfig())
    w.map_block("meta", t.meta)
    _constraints(w, t.constraints)
    _placement(w, t.affinities, [])
    for vm in t.volume_mounts:
        w.block("volume_mount", vm, VolumeMount(), always=True)
    if t.restart is not None:
        w.block("restart", t.restart, RestartPolicy.default_for(job.type), always=True)
    if t.lifecycle is not None:
        w.block("lifecycle", t.lifecycle, None, always=True)
    if t.dispatch_payload is not None:
        w.block("dispatch_payload", t.dispatch_payload, DispatchPayload(), always=True)
    w.close()


def _network(w: _Writer, n: Network) -> None:
    w.open("network")
    w.diff_fields(n, Network(), skip=("ports",))
    for p in n.ports:
        w.block(f"port {quote_string(p.label)}", p, Port(label=p.label), skip=("label",), always=True)
    w.close()


def _disconnect(w: _Writer, g: TaskGroup) -> None:
    if g.max_client_disconnect is not None:
        w.attr("max_client_disconnect", g.max_client_disconnect, duration=True)
    if g.stop_after_client_disconnect is not None:
        w.attr("stop_after_client_disconnect", g.stop_after_client_disconnect, duration=True)
    if g.disconnect is not None:
        w.block("disconnect", g.disconnect, DisconnectStrategy(), always=True)


def _group(w: _Writer, job: Job, g: TaskGroup) -> None:
    w.open(f"group {quote_string(g.name)}")
    w.attr("count", g.count)
    if g.shutdown_delay:
        w.attr("shutdown_delay", g.shutdown_delay, duration=True)
    w.map_block("meta", g.meta)
    _constraints(w, g.constraints)
    _placement(w, g.affinities, g.spreads)
    base_update = job.update if job.update is not None else UpdateStrategy()
    if g.update is not None and (runs_to_completion(job.type) or g.update != base_update):
        w.block("update", g.update, base_update, always=True)
    if g.migrate != MigrateStrategy():
        w.block("migrate", g.migrate, MigrateStrategy(), always=True)
    _disconnect(w, g)
    default_restart = RestartPolicy.default_for(job.type)
    if g.restart is not None and g.restart != default_restart:
        w.block("restart", g.restart, default_restart)
    default_reschedule = ReschedulePolicy.default_for(job.type)
    if g.reschedule is not None and (one_per_node(job.type) or g.reschedule != default_reschedule):
        w.block("reschedule", g.reschedule, default_reschedule, always=True)
    w.block("ephemeral_disk", g.ephemeral_disk, EphemeralDisk())
    for name, v in g.volumes.items():
        w.block(f"volume {quote_string(name)}", v, VolumeRequest(name=name), skip=("name",), always=True)
    for n in g.networks:
        w.blank()
        _network(w, n)
    for s in g.services:
        w.blank()
        _service(w, s, default_service_name(job, g.name, None))
    for t in g.tasks:
        w.blank()
        _task(w, job, g, t)
    w.close()


def format_hcl(job: Job) -> str:
    """Canonical HCL for `job` (defaults left out); reads back to the same job."""
    job = fill_defaults(job)
    w = _Writer()
    w.open(f"job {quote_string(job.id)}")
    if job.name != job.id:
        w.attr("name", job.name)
    w.diff_fields(
        job,
        Job(id=job.id),
        skip=(
            "id",
            "name",
            "task_groups",
            "constraints",
            "affinities",
            "spreads",
            "update",
            "periodic",
            "meta",
            "parameterized",
            # a launched child's; never written in a job file
            "parent_id",
            "dispatched",
            "payload",
            "dispatch_idempotency_token",
        ),
    )
    w.map_block("meta", job.meta)
    _constraints(w, job.constraints)
    _placement(w, job.affinities, job.spreads)
    if job.update is not None:
        w.block("update", job.update, UpdateStrategy(), always=True)
    if job.periodic is not None:
        w.block("periodic", job.periodic, Periodic(), always=True)
    if job.parameterized is not None:
        w.block("parameterized", job.parameterized, Parameterized(), always=True)
    for g in job.task_groups:
        w.blank()
        _group(w, job, g)
    w.close()
    return "\n".join(w.lines) + "\n"
