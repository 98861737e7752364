"""The raw tree (from HCL or YAML) to the typed job model, stanza by stanza.

Each `_decode_*` function reads one stanza through a `FieldReader`, which records wrong
types and unknown fields as issues; decoding goes on after an error so that one run
reports everything. Semantic rules that look across stanzas (duplicate names, port labels,
ranges) are in `validate.py`; Nomad's defaults that depend on other fields are filled in by
`defaults.py`.

Over 400 lines because it mirrors the job specification stanza by stanza (one short method
each, beside the model's classes); split, a reader would look in two places for one tree.
"""

from __future__ import annotations

import copy

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
    Lifecycle,
    LifecycleHook,
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
    SpreadTarget,
    Task,
    TaskGroup,
    Template,
    UpdateStrategy,
)
from reconciler.model.services import CheckState
from reconciler.spec.decode_storage import volume, volume_mount
from reconciler.spec.drivers import coerce_config
from reconciler.spec.errors import Issues
from reconciler.spec.rawtree import RawBlock
from reconciler.spec.reader import FieldReader, Positions

NON_NEGATIVE = "a non-negative integer"
CONSTRAINT_OPERATORS = (
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "distinct_hosts",
    "distinct_property",
    "regexp",
    "set_contains",
    "set_contains_any",
    "version",
    "semver",
    "is_set",
    "is_not_set",
)
# Nomad's affinity operators: the constraint comparisons, without the placement-wide ones
AFFINITY_OPERATORS = (
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "regexp",
    "set_contains_all",
    "set_contains_any",
    "version",
    "semver",
)


class Decoder:
    def __init__(self, issues: Issues) -> None:
        self.issues = issues
        self.positions: Positions = {}

    def reader(self, raw: RawBlock, path: str) -> FieldReader:
        return FieldReader(raw, path, self.issues, self.positions)

    # -- job ----------------------------------------------------------------------------

    def job(self, raw: RawBlock, path: str) -> Job:
        r = self.reader(raw, path)
        job_id = raw.labels[0] if raw.labels else ""
        job = Job(id=job_id)
        job.name = r.text("name", job_id)
        job.region = r.text("region", job.region)
        job.namespace = r.text("namespace", job.namespace)
        job.type = r.choice("type", job.type)
        job.priority = r.integer("priority", job.priority)
        job.datacenters = r.str_list("datacenters", job.datacenters)
        job.node_pool = r.text("node_pool", job.node_pool)
        job.all_at_once = r.flag("all_at_once", job.all_at_once)
        job.meta = r.str_map("meta")
        job.constraints = [self.constraint(b, p) for b, p in r.blocks("constraint")]
        job.affinities = [self.affinity(b, p) for b, p in r.blocks("affinity")]
        job.spreads = [self.spread(b, p) for b, p in r.blocks("spread")]
        found = r.block("update")
        job.update = self.update(found[0], found[1], None) if found else None
        found = r.block("periodic")
        job.periodic = self.periodic(*found) if found else None
        found = r.block("parameterized")
        job.parameterized = self.parameterized(*found) if found else None
        job.task_groups = [self.group(b, p, job) for b, p in r.blocks("group", labels=1)]
        r.finish()
        return job

    def constraint(self, raw: RawBlock, path: str) -> Constraint:
        r = self.reader(raw, path)
        c = Constraint()
        c.attribute = r.text("attribute", c.attribute)
        c.operator = r.text("operator", c.operator, choices=CONSTRAINT_OPERATORS)
        c.value = r.text("value", c.value)
        r.finish()
        return c

    def affinity(self, raw: RawBlock, path: str) -> Affinity:
        r = self.reader(raw, path)
        a = Affinity()
        a.attribute = r.text("attribute", a.attribute)
        a.operator = r.text("operator", a.operator, choices=AFFINITY_OPERATORS)
        a.value = r.text("value", a.value)
        a.weight = r.integer("weight", a.weight)
        r.finish()
        return a

    def spread(self, raw: RawBlock, path: str) -> Spread:
        r = self.reader(raw, path)
        s = Spread()
        s.attribute = r.text("attribute", s.attribute)
        s.weight = r.integer("weight", s.weight)
        s.targets = [self.spread_target(b, p) for b, p in r.blocks("target", labels=1)]
        r.finish()
        return s

    def spread_target(self, raw: RawBlock, path: str) -> SpreadTarget:
        r = self.reader(raw, path)
        t = SpreadTarget(value=raw.labels[0])
        t.percent = r.integer("percent", t.percent, want=NON_NEGATIVE)
        r.finish()
        return t

    def update(self, raw: RawBlock, path: str, base: UpdateStrategy | None) -> UpdateStrategy:
        r = self.reader(raw, path)
        u = copy.deepcopy(base) if base is not None else UpdateStrategy()
        u.max_parallel = r.integer("max_parallel", u.max_parallel, want=NON_NEGATIVE)
        u.canary = r.integer("canary", u.canary, want=NON_NEGATIVE)
        u.min_healthy_time = r.duration("min_healthy_time", u.min_healthy_time)
        u.healthy_deadline = r.duration("healthy_deadline", u.healthy_deadline)
        u.progress_deadline = r.duration("progress_deadline", u.progress_deadline)
        u.auto_revert = r.flag("auto_revert", u.auto_revert)
        u.auto_promote = r.flag("auto_promote", u.auto_promote)
        u.health_check = r.choice("health_check", u.health_check)
        u.stagger = r.duration("stagger", u.stagger)
        r.finish()
        return u

    def migrate(self, raw: RawBlock, path: str) -> MigrateStrategy:
        r = self.reader(raw, path)
        m = MigrateStrategy()
        m.max_parallel = r.integer("max_parallel", m.max_parallel, want=NON_NEGATIVE)
        m.health_check = r.choice("health_check", m.health_check)
        m.min_healthy_time = r.duration("min_healthy_time", m.min_healthy_time)
        m.healthy_deadline = r.duration("healthy_deadline", m.healthy_deadline)
        r.finish()
        return m

    def disconnect(self, raw: RawBlock, path: str) -> DisconnectStrategy:
        r = self.reader(raw, path)
        d = DisconnectStrategy()
        d.lost_after = r.duration("lost_after", d.lost_after)
        d.replace = r.flag("replace", d.replace)
        d.reconcile = r.choice("reconcile", d.reconcile)
        d.stop_on_client_after = _optional_duration(r, "stop_on_client_after")
        r.finish()
        return d

    def periodic(self, raw: RawBlock, path: str) -> Periodic:
        r = self.reader(raw, path)
        p = Periodic()
        p.cron = r.text("cron", p.cron)
        p.crons = r.str_list("crons", p.crons)
        p.prohibit_overlap = r.flag("prohibit_overlap", p.prohibit_overlap)
        p.time_zone = r.text("time_zone", p.time_zone)
        p.enabled = r.flag("enabled", p.enabled)
        r.finish()
        return p

    def parameterized(self, raw: RawBlock, path: str) -> Parameterized:
        r = self.reader(raw, path)
        p = Parameterized()
        p.payload = r.choice("payload", p.payload)
        p.meta_required = r.str_list("meta_required", p.meta_required)
        p.meta_optional = r.str_list("meta_optional", p.meta_optional)
        r.finish()
        return p

    # -- group --------------------------------------------------------------------------

    def group(self, raw: RawBlock, path: str, job: Job) -> TaskGroup:
        r = self.reader(raw, path)
        g = TaskGroup(name=raw.labels[0])
        g.count = r.integer("count", g.count, want=NON_NEGATIVE)
        g.meta = r.str_map("meta")
        g.shutdown_delay = r.duration("shutdown_delay", g.shutdown_delay)
        g.max_client_disconnect = r.duration("max_client_disconnect", 0) or None
        g.stop_after_client_disconnect = _optional_duration(r, "stop_after_client_disconnect")
        found = r.block("disconnect")
        g.disconnect = self.disconnect(*found) if found else None
        g.constraints = [self.constraint(b, p) for b, p in r.blocks("constraint")]
        g.affinities = [self.affinity(b, p) for b, p in r.blocks("affinity")]
        g.spreads = [self.spread(b, p) for b, p in r.blocks("spread")]
        g.networks = [self.network(b, p) for b, p in r.blocks("network")]
        g.services = [self.service(b, p) for b, p in r.blocks("service")]
        g.volumes = {
            b.labels[0]: volume(self.reader(b, p), b.labels[0]) for b, p in r.blocks("volume", labels=1)
        }
        found = r.block("restart")
        g.restart = self.restart(*found, job.type) if found else None
        found = r.block("reschedule")
        g.reschedule = self.reschedule(*found, job.type) if found else None
        found = r.block("update")
        g.update = self.update(found[0], found[1], job.update) if found else None
        found = r.block("migrate")
        g.migrate = self.migrate(*found) if found else MigrateStrategy()
        found = r.block("ephemeral_disk")
        g.ephemeral_disk = self.ephemeral_disk(*found) if found else EphemeralDisk()
        g.tasks = [self.task(b, p, job) for b, p in r.blocks("task", labels=1)]
        r.finish()
        return g

    def network(self, raw: RawBlock, path: str) -> Network:
        r = self.reader(raw, path)
        n = Network()
        n.mode = r.text("mode", n.mode, choices=("host", "bridge", "none"))
        n.mbits = r.integer("mbits", n.mbits, want=NON_NEGATIVE)
        for block, ppath in r.blocks("port", labels=1):
            pr = self.reader(block, ppath)
            port = Port(label=block.labels[0])
            port.static = pr.integer("static", port.static, want="a port number")
            port.to = pr.integer("to", port.to, want="a port number")
            port.host_network = pr.text("host_network", port.host_network)
            pr.finish()
            n.ports.append(port)
        r.finish()
        return n

    def restart(self, raw: RawBlock, path: str, job_type: str) -> RestartPolicy:
        r = self.reader(raw, path)
        p = RestartPolicy.default_for(job_type)
        p.attempts = r.integer("attempts", p.attempts, want=NON_NEGATIVE)
        p.interval = r.duration("interval", p.interval)
        p.delay = r.duration("delay", p.delay)
        p.mode = r.text("mode", p.mode, choices=("fail", "delay"))
        r.finish()
        return p

    def reschedule(self, raw: RawBlock, path: str, job_type: str) -> ReschedulePolicy:
        r = self.reader(raw, path)
        p = ReschedulePolicy.default_for(job_type)
        p.attempts = r.integer("attempts", p.attempts, want=NON_NEGATIVE)
        p.interval = r.duration("interval", p.interval)
        p.delay = r.duration("delay", p.delay)
        p.delay_function = r.text(
            "delay_function", p.delay_function, choices=("constant", "exponential", "fibonacci")
        )
        p.max_delay = r.duration("max_delay", p.max_delay)
        p.unlimited = r.flag("unlimited", p.unlimited)
        r.finish()
        return p

    def ephemeral_disk(self, raw: RawBlock, path: str) -> EphemeralDisk:
        r = self.reader(raw, path)
        d = EphemeralDisk()
        d.size = r.integer("size", d.size, want=NON_NEGATIVE)
        d.sticky = r.flag("sticky", d.sticky)
        d.migrate = r.flag("migrate", d.migrate)
        r.finish()
        return d

    # -- services -----------------------------------------------------------------------

    def service(self, raw: RawBlock, path: str) -> Service:
        r = self.reader(raw, path)
        s = Service()
        s.name = r.text("name", s.name)
        s.port = r.text("port", s.port)
        s.tags = r.str_list("tags", s.tags)
        s.canary_tags = r.str_list("canary_tags", s.canary_tags)
        s.meta = r.str_map("meta")
        s.address_mode = r.text("address_mode", s.address_mode, choices=("auto", "host", "driver", "alloc"))
        s.provider = r.text("provider", s.provider, choices=("consul", "nomad"))
        s.checks = [self.check(b, p) for b, p in r.blocks("check")]
        found = r.block("check_restart")
        s.check_restart = self.check_restart(*found) if found else None
        r.finish()
        return s

    def check(self, raw: RawBlock, path: str) -> Check:
        r = self.reader(raw, path)
        c = Check()
        c.name = r.text("name", c.name)
        c.type = r.text("type", c.type, choices=("http", "tcp", "script", "grpc"))
        c.path = r.text("path", c.path)
        c.method = r.text("method", c.method)
        c.header = r.list_map("header")
        c.protocol = r.text("protocol", c.protocol, choices=("http", "https"))
        c.port = r.text("port", c.port)
        c.interval = r.duration("interval", c.interval)
        c.timeout = r.duration("timeout", c.timeout)
        c.command = r.text("command", c.command)
        c.args = r.str_list("args", c.args)
        c.task = r.text("task", c.task)
        c.success_before_passing = r.integer(
            "success_before_passing", c.success_before_passing, want=NON_NEGATIVE
        )
        c.failures_before_critical = r.integer(
            "failures_before_critical", c.failures_before_critical, want=NON_NEGATIVE
        )
        c.failures_before_warning = r.integer(
            "failures_before_warning", c.failures_before_warning, want=NON_NEGATIVE
        )
        c.initial_status = r.text("initial_status", c.initial_status, choices=("", *CheckState))
        c.on_update = r.text(
            "on_update", c.on_update, choices=("require_healthy", "ignore_warnings", "ignore")
        )
        c.grpc_service = r.text("grpc_service", c.grpc_service)
        c.grpc_use_tls = r.flag("grpc_use_tls", c.grpc_use_tls)
        found = r.block("check_restart")
        c.check_restart = self.check_restart(*found) if found else None
        r.finish()
        return c

    def check_restart(self, raw: RawBlock, path: str) -> CheckRestart:
        r = self.reader(raw, path)
        c = CheckRestart()
        c.limit = r.integer("limit", c.limit, want=NON_NEGATIVE)
        c.grace = r.duration("grace", c.grace)
        c.ignore_warnings = r.flag("ignore_warnings", c.ignore_warnings)
        r.finish()
        return c

    # -- task ---------------------------------------------------------------------------

    def task(self, raw: RawBlock, path: str, job: Job) -> Task:
        r = self.reader(raw, path)
        t = Task(name=raw.labels[0])
        t.driver = r.text("driver", t.driver)
        t.config = coerce_config(t.driver, r.any_map("config"))
        t.env = r.str_map("env")
        found = r.block("resources")
        t.resources = self.resources(*found) if found else Resources()
        t.services = [self.service(b, p) for b, p in r.blocks("service")]
        t.artifacts = [self.artifact(b, p) for b, p in r.blocks("artifact")]
        t.templates = [self.template(b, p) for b, p in r.blocks("template")]
        found = r.block("logs")
        t.logs = self.logs(*found) if found else LogConfig()
        t.kill_timeout = r.duration("kill_timeout", t.kill_timeout)
        t.kill_signal = r.text("kill_signal", t.kill_signal)
        t.shutdown_delay = r.duration("shutdown_delay", t.shutdown_delay)
        t.user = r.text("user", t.user)
        t.leader = r.flag("leader", t.leader)
        t.meta = r.str_map("meta")
        t.constraints = [self.constraint(b, p) for b, p in r.blocks("constraint")]
        t.affinities = [self.affinity(b, p) for b, p in r.blocks("affinity")]
        t.volume_mounts = [volume_mount(self.reader(b, p)) for b, p in r.blocks("volume_mount")]
        found = r.block("restart")
        t.restart = self.restart(*found, job.type) if found else None
        found = r.block("lifecycle")
        t.lifecycle = self.lifecycle(*found) if found else None
        found = r.block("dispatch_payload")
        t.dispatch_payload = self.dispatch_payload(*found) if found else None
        r.finish()
        return t

    def lifecycle(self, raw: RawBlock, path: str) -> Lifecycle:
        r = self.reader(raw, path)
        if not r.has("hook"):
            r.error("", 'missing required field "hook"')
        lc = Lifecycle(hook=r.choice("hook", LifecycleHook.PRESTART), sidecar=r.flag("sidecar", False))
        r.finish()
        return lc

    def dispatch_payload(self, raw: RawBlock, path: str) -> DispatchPayload:
        r = self.reader(raw, path)
        d = DispatchPayload(file=r.text("file", ""))
        r.finish()
        return d

    def resources(self, raw: RawBlock, path: str) -> Resources:
        r = self.reader(raw, path)
        res = Resources()
        res.cpu = r.integer("cpu", res.cpu, want=NON_NEGATIVE)
        res.memory = r.integer("memory", res.memory, want=NON_NEGATIVE)
        res.memory_max = r.integer("memory_max", res.memory_max, want=NON_NEGATIVE)
        res.cores = r.integer("cores", res.cores, want=NON_NEGATIVE)
        r.finish()
        return res

    def artifact(self, raw: RawBlock, path: str) -> Artifact:
        r = self.reader(raw, path)
        a = Artifact(source=r.text("source", ""))
        if not r.has("source"):
            r.error("", 'missing required field "source"')
        a.destination = r.text("destination", a.destination)
        a.mode = r.text("mode", a.mode, choices=("any", "file", "dir"))
        a.options = r.str_map("options")
        a.headers = r.str_map("headers")
        a.archive = r.flag("archive", a.archive)
        r.finish()
        return a

    def template(self, raw: RawBlock, path: str) -> Template:
        r = self.reader(raw, path)
        t = Template()
        t.data = r.text("data", t.data)
        t.source = r.text("source", t.source)
        t.destination = r.text("destination", t.destination)
        t.change_mode = r.text("change_mode", t.change_mode, choices=("restart", "signal", "noop"))
        t.change_signal = r.text("change_signal", t.change_signal)
        t.perms = r.text("perms", t.perms)
        t.env = r.flag("env", t.env)
        t.left_delimiter = r.text("left_delimiter", t.left_delimiter)
        t.right_delimiter = r.text("right_delimiter", t.right_delimiter)
        t.splay = r.duration("splay", t.splay)
        r.finish()
        return t

    def logs(self, raw: RawBlock, path: str) -> LogConfig:
        r = self.reader(raw, path)
        lc = LogConfig()
        lc.max_files = r.integer("max_files", lc.max_files, want=NON_NEGATIVE)
        lc.max_file_size = r.integer("max_file_size", lc.max_file_size, want=NON_NEGATIVE)
        lc.disabled = r.flag("disabled", lc.disabled)
        r.finish()
        return lc


def _optional_duration(r: FieldReader, name: str) -> int | None:
    """A duration that may be left out (None: not written), as Nomad's pointer fields."""
    written = name in r.raw.attrs
    value = r.duration(name, 0)
    return value if written else None


def decode_job(raw: RawBlock, issues: Issues) -> tuple[Job, Positions]:
    """The job of a `job "ID" { ... }` raw block, and where each field was written."""
    decoder = Decoder(issues)
    job = decoder.job(raw, f"job.{raw.labels[0]}" if raw.labels else "job")
    return job, decoder.positions
