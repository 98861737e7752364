"""Semantic checks on a decoded job: the rules no single field's type can express.

Runs on the model, whatever format it came from (the loaders add line numbers from the
positions the decoder recorded). Checks: identifiers usable as etcd keys and paths,
duplicate group/task/port/check names, non-negative counts and sizes, port ranges, service
and check ports that name a network port, durations. A task's own blocks (its driver's
`config`, `user`, artifacts, templates, logs) are checked by `validate_task.py`, the
workload kinds (periodic, parameterized, lifecycle) by `validate_kinds.py`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from reconciler.model.ids import child_parent, is_valid_name
from reconciler.model.job import (
    MIN_SCRIPT_INTERVAL,
    Affinity,
    Check,
    Constraint,
    HealthCheck,
    Job,
    JobType,
    MigrateStrategy,
    Port,
    Service,
    Spread,
    Task,
    TaskGroup,
    UpdateStrategy,
)
from reconciler.model.node_pools import name_error
from reconciler.model.regexp import RegexpError, compile_regexp
from reconciler.spec.durations import format_duration
from reconciler.spec.errors import SpecIssue, quote, suggestion
from reconciler.spec.validate_kinds import check_kinds
from reconciler.spec.validate_task import check_driver, check_files, check_logs, check_user

MAX_COUNT = 100_000  # instances of one group: past this the scheduler's memory, not the job, is the limit
NAME_RULE = (
    "may contain only letters, digits, '-', '_' and '.', must start with a letter or digit"
    " and be at most 128 characters"
)


class _Checker:
    def __init__(self) -> None:
        self.issues: list[SpecIssue] = []

    def add(self, path: str, message: str) -> None:
        self.issues.append(SpecIssue("", 0, 0, path, message))

    def name(self, path: str, value: str, what: str) -> None:
        if not value:
            self.add(path, f"{what} must not be empty")
        elif not is_valid_name(value):
            self.add(path, f"{what} {quote(value)} {NAME_RULE}")

    def non_negative(self, path: str, value: int, what: str = "a non-negative integer") -> None:
        if value < 0:
            self.add(path, f"must be {what}, got {value}")

    def duplicates(self, base: str, names: Iterable[str], what: str) -> None:
        seen: set[str] = set()
        for name in names:
            if name in seen:
                self.add(f"{base}.{name}", f'duplicate {what} "{name}"')
            seen.add(name)


def _check_constraints(c: _Checker, path: str, constraints: list[Constraint], *, task: bool = False) -> None:
    for i, k in enumerate(constraints):
        if k.operator == "regexp":
            try:
                compile_regexp(k.value)
            except RegexpError as exc:
                c.add(f"{path}.constraint[{i}].value", str(exc))
        elif k.operator == "distinct_property":
            _check_distinct_property(c, f"{path}.constraint[{i}]", k, task)


def _check_distinct_property(c: _Checker, path: str, k: Constraint, task: bool) -> None:
    """Nomad's rules: job or group level only, an attribute, and a count of 1 or more if set."""
    if task:
        c.add(f"{path}.operator", 'disallowed at task level: "distinct_property"')
    if not k.attribute:
        c.add(f"{path}.attribute", "distinct_property needs the attribute whose values are counted")
    if k.value and not (k.value.isascii() and k.value.isdigit() and int(k.value) >= 1):
        c.add(f"{path}.value", f"must be an allowed count of 1 or more, got {quote(k.value)}")


def _check_node_pool(c: _Checker, root: str, job: Job) -> None:
    why = name_error(job.node_pool)
    if why is not None:
        c.add(f"{root}.node_pool", why)


def _check_affinities(c: _Checker, path: str, affinities: list[Affinity]) -> None:
    """Nomad's rules: an attribute, a weight from -100 to 100 that is not 0."""
    for i, a in enumerate(affinities):
        where = f"{path}.affinity[{i}]"
        if not a.attribute:
            c.add(f"{where}.attribute", "is required")
        if a.weight == 0 or not -100 <= a.weight <= 100:
            c.add(f"{where}.weight", "must be from -100 to 100 and not 0")
        if a.operator == "regexp":
            try:
                compile_regexp(a.value)
            except RegexpError as exc:
                c.add(f"{where}.value", str(exc))


def _check_spreads(c: _Checker, path: str, spreads: list[Spread]) -> None:
    """Nomad's rules: an attribute, a weight from 1 to 100, target percentages of 0 to 100
    that sum to 100 at most, each value named once."""
    for i, s in enumerate(spreads):
        where = f"{path}.spread[{i}]"
        if not s.attribute:
            c.add(f"{where}.attribute", "is required")
        if not 0 < s.weight <= 100:
            c.add(f"{where}.weight", "must be from 1 to 100")
        seen: set[str] = set()
        for t in s.targets:
            if t.value in seen:
                c.add(f"{where}.target.{t.value}", f'duplicate target "{t.value}"')
            seen.add(t.value)
            if t.percent > 100:
                c.add(f"{where}.target.{t.value}.percent", "must be from 0 to 100")
        if sum(t.percent for t in s.targets) > 100:
            c.add(f"{where}.target", "percentages must add up to 100 at most")


def _check_volumes(c: _Checker, path: str, g: TaskGroup) -> None:
    """Nomad's rules for host volumes: a source, and every mount names a declared volume at
    a destination inside the task's directory (absolute means from the task dir, as in an
    exec task's chroot)."""
    for name, v in g.volumes.items():
        where = f"{path}.volume.{name}"
        if v.type != "host":
            c.add(f"{where}.type", f'{quote(v.type)} volumes are not supported yet (only "host")')
        if not v.source:
            c.add(f"{where}.source", "must name a host volume of the client")
    for t in g.tasks:
        for i, mount in enumerate(t.volume_mounts):
            where = f"{path}.task.{t.name}.volume_mount[{i}]"
            if mount.volume not in g.volumes:
                c.add(f"{where}.volume", f"{quote(mount.volume)} is not a volume of the group")
            rel = posixpath.normpath(mount.destination.lstrip("/")) if mount.destination else ""
            if rel in ("", ".") or rel == ".." or rel.startswith("../"):
                c.add(f"{where}.destination", "must be a path inside the task directory")
            if mount.propagation_mode != "private":
                c.add(f"{where}.propagation_mode", f"{quote(mount.propagation_mode)} is not supported yet")


def _check_update(c: _Checker, path: str, u: UpdateStrategy) -> None:
    c.non_negative(f"{path}.max_parallel", u.max_parallel)
    c.non_negative(f"{path}.canary", u.canary)
    for field in ("min_healthy_time", "healthy_deadline", "progress_deadline", "stagger"):
        c.non_negative(f"{path}.{field}", getattr(u, field), "a non-negative duration")
    if u.healthy_deadline and u.min_healthy_time >= u.healthy_deadline:
        c.add(f"{path}.min_healthy_time", "must be shorter than healthy_deadline")
    if u.progress_deadline and u.healthy_deadline > u.progress_deadline:
        c.add(f"{path}.healthy_deadline", "must not be longer than progress_deadline")


def _check_migrate(c: _Checker, path: str, m: MigrateStrategy) -> None:
    if m.max_parallel < 1:
        c.add(f"{path}.max_parallel", "must be at least 1")
    if m.health_check == HealthCheck.MANUAL:
        c.add(f"{path}.health_check", 'must be "checks" or "task_states"')
    for field in ("min_healthy_time", "healthy_deadline"):
        c.non_negative(f"{path}.{field}", getattr(m, field), "a non-negative duration")
    if m.healthy_deadline and m.min_healthy_time >= m.healthy_deadline:
        c.add(f"{path}.min_healthy_time", "must be shorter than healthy_deadline")


def _check_service(c: _Checker, path: str, s: Service, labels: set[str]) -> None:
    if s.name and "${" not in s.name:
        c.name(f"{path}.name", s.name, "service name")
    if s.port and not s.port.isdigit() and s.port not in labels:
        c.add(
            f"{path}.port",
            f'port label "{s.port}" is not defined in any network of the group' + suggestion(s.port, labels),
        )
    c.duplicates(f"{path}.check", (ch.name for ch in s.checks if ch.name), "check")
    for i, check in enumerate(s.checks):
        _check_check(c, f"{path}.check[{i}]", check, s, labels)


def _check_check(c: _Checker, path: str, ch: Check, s: Service, labels: set[str]) -> None:
    if ch.type == "http" and not ch.path:
        c.add(f"{path}.path", "an http check needs a path")
    if ch.type == "script" and not ch.command:
        c.add(f"{path}.command", "a script check needs a command")
    if ch.type in ("http", "tcp") and not (ch.port or s.port):
        c.add(
            f"{path}.port",
            f"{'an' if ch.type == 'http' else 'a'} {ch.type} check needs a port"
            " (on the check or its service)",
        )
    if ch.port.isdigit() and ch.port not in labels:
        # as Nomad's host address mode: a label, never a number (a number would probe any
        # port of the node and publish what answers, review L9)
        c.add(
            f"{path}.port",
            f'port label "{ch.port}" is not defined in any network of the group'
            " (a check's port is a port label, not a number)",
        )
    elif ch.port and ch.port not in labels:
        c.add(
            f"{path}.port",
            f'port label "{ch.port}" is not defined in any network of the group'
            + suggestion(ch.port, labels),
        )
    for field in ("interval", "timeout"):
        if getattr(ch, field) <= 0:
            c.add(f"{path}.{field}", "must be a positive duration")
    if ch.type == "script" and 0 < ch.interval < MIN_SCRIPT_INTERVAL:
        # a script forks a process on the node each time (review H4); Nomad's floor for every check
        c.add(
            f"{path}.interval",
            f"interval ({format_duration(ch.interval)}) cannot be lower than "
            f"{format_duration(MIN_SCRIPT_INTERVAL)}",
        )
    c.non_negative(f"{path}.success_before_passing", ch.success_before_passing)
    c.non_negative(f"{path}.failures_before_critical", ch.failures_before_critical)


def _check_task(c: _Checker, path: str, t: Task, labels: set[str], disk_mb: int) -> None:
    c.name(path, t.name, "task name")
    check_driver(c.add, path, t)
    check_user(c.add, path, t)
    c.non_negative(f"{path}.resources.cpu", t.resources.cpu)
    c.non_negative(f"{path}.resources.memory", t.resources.memory)
    if t.resources.memory_max and t.resources.memory_max < t.resources.memory:
        c.add(f"{path}.resources.memory_max", "must not be less than memory")
    c.non_negative(f"{path}.kill_timeout", t.kill_timeout, "a non-negative duration")
    c.non_negative(f"{path}.shutdown_delay", t.shutdown_delay, "a non-negative duration")
    check_logs(c.add, path, t, disk_mb)
    check_files(c.add, path, t)
    for i, s in enumerate(t.services):
        _check_service(c, f"{path}.service[{i}]", s, labels)
    _check_constraints(c, path, t.constraints, task=True)
    _check_affinities(c, path, t.affinities)


def _check_port(c: _Checker, ppath: str, port: Port, labels: set[str], statics: dict[int, str]) -> None:
    c.name(ppath, port.label, "port label")
    if port.label in labels:
        c.add(ppath, f'duplicate port label "{port.label}"')
    labels.add(port.label)
    if not 0 <= port.static <= 65535:
        c.add(
            f"{ppath}.static",
            f"must be a port number between 1 and 65535 (or 0 for a dynamic port), got {port.static}",
        )
    elif port.static:
        if port.static in statics:
            c.add(
                f"{ppath}.static", f'static port {port.static} is also used by port "{statics[port.static]}"'
            )
        statics[port.static] = port.label
    if not 0 <= port.to <= 65535:
        c.add(f"{ppath}.to", f"must be a port number between 0 and 65535, got {port.to}")


def _check_networks(c: _Checker, path: str, g: TaskGroup) -> set[str]:
    """The group's networks and ports; returns the port labels services and checks may name."""
    labels: set[str] = set()
    statics: dict[int, str] = {}
    for n_i, network in enumerate(g.networks):
        npath = f"{path}.network[{n_i}]"
        c.non_negative(f"{npath}.mbits", network.mbits)
        for port in network.ports:
            _check_port(c, f"{npath}.port.{port.label}", port, labels, statics)
    return labels


def _check_group(c: _Checker, path: str, g: TaskGroup, job: Job) -> None:
    c.name(path, g.name, "group name")
    c.non_negative(f"{path}.count", g.count)
    c.non_negative(f"{path}.shutdown_delay", g.shutdown_delay, "a non-negative duration")
    if g.count > MAX_COUNT:
        c.add(f"{path}.count", f"must be at most {MAX_COUNT}, got {g.count}")
    _check_constraints(c, path, g.constraints)
    _check_affinities(c, path, g.affinities)
    _check_spreads(c, path, g.spreads)
    _check_volumes(c, path, g)
    labels = _check_networks(c, path, g)
    if not g.tasks:
        c.add(path, "a group needs at least one task")
    c.duplicates(f"{path}.task", (t.name for t in g.tasks), "task")
    for t in g.tasks:
        _check_task(c, f"{path}.task.{t.name}", t, labels, g.ephemeral_disk.size)
    for i, s in enumerate(g.services):
        _check_service(c, f"{path}.service[{i}]", s, labels)
    if g.update is not None:
        _check_update(c, f"{path}.update", g.update)
    _check_migrate(c, f"{path}.migrate", g.migrate)
    if g.restart is not None:
        c.non_negative(f"{path}.restart.attempts", g.restart.attempts)
    c.non_negative(f"{path}.ephemeral_disk.size", g.ephemeral_disk.size)
    _check_disconnect(c, path, g, job)


def _check_disconnect(c: _Checker, path: str, g: TaskGroup, job: Job) -> None:
    """Nomad's rules: durations not negative, one way to say each, and a client's own stop
    (`stop_on_client_after`) not with `lost_after`, for service and batch jobs only."""
    for name, value in (
        ("max_client_disconnect", g.max_client_disconnect),
        ("stop_after_client_disconnect", g.stop_after_client_disconnect),
        ("disconnect.lost_after", g.disconnect.lost_after if g.disconnect else None),
        ("disconnect.stop_on_client_after", g.disconnect.stop_on_client_after if g.disconnect else None),
    ):
        if value is not None:
            c.non_negative(f"{path}.{name}", value, "a non-negative duration")
    if g.disconnect is not None and g.max_client_disconnect is not None and g.disconnect.lost_after:
        c.add(
            f"{path}.max_client_disconnect",
            "using both max_client_disconnect and disconnect.lost_after is not supported",
        )
    stop_after = g.stop_after()
    if stop_after is not None and g.lost_after():
        c.add(f"{path}.disconnect", "using both lost_after and stop_on_client_after is not supported")
    if stop_after is not None and job.type not in (JobType.SERVICE, JobType.BATCH):
        c.add(f"{path}.disconnect", "stop_on_client_after is supported for service and batch jobs only")


def _check_job_id(c: _Checker, root: str, job: Job) -> None:
    """A plain name, or a launched child's `<parent>/periodic-<t>` named after its parent."""
    if not (job.parent_id and child_parent(job.id) == job.parent_id):
        c.name(root, job.id, "job ID")


def validate(job: Job) -> list[SpecIssue]:
    """Every semantic problem of `job`, with field paths (file and line are filled by loaders)."""
    c = _Checker()
    root = f"job.{job.id}" if job.id else "job"
    _check_job_id(c, root, job)
    c.name(f"{root}.namespace", job.namespace, "namespace")
    c.name(f"{root}.region", job.region, "region")
    if job.type not in tuple(JobType):
        c.add(
            f"{root}.type", f'must be one of "service", "batch", "system", "sysbatch", got {quote(job.type)}'
        )
    if not 1 <= job.priority <= 100:
        c.add(f"{root}.priority", f"must be between 1 and 100, got {job.priority}")
    if not job.datacenters:
        c.add(f"{root}.datacenters", "must name at least one datacenter")
    for dc in job.datacenters:
        if dc != "*" and "*" not in dc:
            c.name(f"{root}.datacenters", dc, "datacenter")
    check_kinds(c.add, root, job)
    _check_node_pool(c, root, job)
    if job.update is not None:
        _check_update(c, f"{root}.update", job.update)
    _check_constraints(c, root, job.constraints)
    _check_affinities(c, root, job.affinities)
    _check_spreads(c, root, job.spreads)
    if not job.task_groups:
        c.add(root, 'a job needs at least one group: group "NAME" { task "NAME" { ... } }')
    c.duplicates(f"{root}.group", (g.name for g in job.task_groups), "group")
    for g in job.task_groups:
        _check_group(c, f"{root}.group.{g.name}", g, job)
    return c.issues
