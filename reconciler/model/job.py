"""The one job model: what a user asks for, as typed data classes.

Every reader downstream (scheduler, drivers, registrar, deployments, plan diffs, the API)
works on these classes. Parsers (HCL, Nomad JSON, YAML) produce them; the Nomad JSON codec
turns them back into the API's shape. Field names follow the HCL job specification (snake
case); durations are integer nanoseconds, as in Nomad's API, so a round trip through Nomad
JSON is exact. Defaults are Nomad's.

Over 400 lines because it is one concept, Nomad's job specification: one class per stanza,
each small, and splitting them would only scatter a tree that is read as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler.model.volumes import VolumeMount, VolumeRequest

SECOND = 1_000_000_000
# a script check forks a process on the node every interval: no faster than Nomad lets any check run
MIN_SCRIPT_INTERVAL = SECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


class JobType(StrEnum):
    SERVICE = "service"
    BATCH = "batch"
    SYSTEM = "system"
    SYSBATCH = "sysbatch"


def runs_to_completion(job_type: str) -> bool:
    """Batch and sysbatch tasks end: a success is not restarted, and there is no update
    strategy (Nomad's batch rules)."""
    return job_type in (JobType.BATCH, JobType.SYSBATCH)


def one_per_node(job_type: str) -> bool:
    """System and sysbatch jobs run one allocation on every feasible node, and are never
    rescheduled elsewhere."""
    return job_type in (JobType.SYSTEM, JobType.SYSBATCH)


class HealthCheck(StrEnum):
    """`update.health_check`: what makes an allocation healthy in a deployment."""

    CHECKS = "checks"
    TASK_STATES = "task_states"
    MANUAL = "manual"


@dataclass
class Constraint:
    attribute: str = ""
    operator: str = "="
    value: str = ""


@dataclass
class Affinity:
    """A soft constraint: nodes that match score `weight` (-100..100, negative: avoid)."""

    attribute: str = ""
    operator: str = "="
    value: str = ""
    weight: int = 50


@dataclass
class SpreadTarget:
    value: str
    percent: int = 0


@dataclass
class Spread:
    """Spread a group's instances over the values of a node attribute: evenly, or by the
    `targets`' percentages (the rest to the values not named)."""

    attribute: str = ""
    weight: int = 50
    targets: list[SpreadTarget] = field(default_factory=list)


@dataclass
class Port:
    label: str
    static: int = 0  # 0 means dynamic
    to: int = 0
    host_network: str = ""


@dataclass
class Network:
    mode: str = "host"
    ports: list[Port] = field(default_factory=list)
    mbits: int = 0


@dataclass
class UpdateStrategy:
    max_parallel: int = 1
    canary: int = 0
    min_healthy_time: int = 10 * SECOND
    healthy_deadline: int = 5 * MINUTE
    progress_deadline: int = 10 * MINUTE
    auto_revert: bool = False
    auto_promote: bool = False
    health_check: HealthCheck = HealthCheck.CHECKS
    stagger: int = 30 * SECOND


@dataclass
class MigrateStrategy:
    """The group's `migrate` block: how allocations leave a draining node. At most
    `max_parallel` of the group are in flight at once; an original is stopped only once its
    replacement is healthy (`health_check` "checks" or "task_states", for `min_healthy_time`),
    and a replacement not healthy by `healthy_deadline` no longer holds the drain back."""

    max_parallel: int = 1
    health_check: HealthCheck = HealthCheck.CHECKS
    min_healthy_time: int = 10 * SECOND
    healthy_deadline: int = 5 * MINUTE


class ReconcileOption(StrEnum):
    """`disconnect.reconcile`: which copy survives when a disconnected client comes back
    and its allocation has a replacement (Nomad's reconnecting picker)."""

    BEST_SCORE = "best_score"
    KEEP_ORIGINAL = "keep_original"
    KEEP_REPLACEMENT = "keep_replacement"
    LONGEST_RUNNING = "longest_running"


@dataclass
class DisconnectStrategy:
    """The group's `disconnect` block (Nomad 1.8). While its node misses heartbeats an
    allocation is `unknown` for up to `lost_after` (0: lost at once, as without the block);
    `replace` places a replacement meanwhile; on reconnect `reconcile` picks the copy that
    stays. `stop_on_client_after` (not with `lost_after`): the client stops the group's
    tasks once it has been cut off that long, and the server holds the lost allocations'
    replacements back until then."""

    lost_after: int = 0
    replace: bool = True
    reconcile: ReconcileOption = ReconcileOption.BEST_SCORE
    stop_on_client_after: int | None = None


@dataclass
class RestartPolicy:
    attempts: int = 2
    interval: int = 30 * MINUTE
    delay: int = 15 * SECOND
    mode: str = "fail"  # fail | delay

    @staticmethod
    def default_for(job_type: str) -> RestartPolicy:
        if runs_to_completion(job_type):
            return RestartPolicy(attempts=3, interval=24 * HOUR, delay=15 * SECOND, mode="fail")
        return RestartPolicy()


@dataclass
class ReschedulePolicy:
    attempts: int = 0
    interval: int = 0
    delay: int = 30 * SECOND
    delay_function: str = "exponential"  # constant | exponential | fibonacci
    max_delay: int = HOUR
    unlimited: bool = True

    @staticmethod
    def default_for(job_type: str) -> ReschedulePolicy:
        if job_type == JobType.BATCH:
            return ReschedulePolicy(
                attempts=1,
                interval=24 * HOUR,
                delay=5 * SECOND,
                delay_function="constant",
                max_delay=0,
                unlimited=False,
            )
        return ReschedulePolicy()


@dataclass
class CheckRestart:
    """Restart the task after its check stayed unhealthy for `limit` consecutive results
    (0: never), not counting results within `grace` of the task's (re)start."""

    limit: int = 0
    grace: int = SECOND
    ignore_warnings: bool = False

    def merged(self, over: CheckRestart | None) -> CheckRestart:
        """Nomad's merge of a service's block with a check's: the check's set values win."""
        if over is None:
            return self
        return CheckRestart(
            limit=over.limit or self.limit,
            grace=over.grace if over.grace != SECOND else self.grace,
            ignore_warnings=over.ignore_warnings or self.ignore_warnings,
        )


@dataclass
class Check:
    name: str = ""
    type: str = "http"  # http | tcp | script | grpc
    path: str = ""
    method: str = "GET"
    header: dict[str, list[str]] = field(default_factory=dict)
    protocol: str = "http"
    port: str = ""
    interval: int = 10 * SECOND
    timeout: int = 2 * SECOND
    command: str = ""
    args: list[str] = field(default_factory=list)
    task: str = ""
    success_before_passing: int = 0
    failures_before_critical: int = 0
    failures_before_warning: int = 0
    initial_status: str = ""
    # how the check counts for a deployment's (and a migration's) health: require_healthy,
    # ignore_warnings (a warning counts as healthy) or ignore (not counted)
    on_update: str = "require_healthy"
    check_restart: CheckRestart | None = None
    grpc_service: str = ""  # the service named in the gRPC health request ("": the server)
    grpc_use_tls: bool = False


def check_restart_of(service: Service, check: Check) -> CheckRestart | None:
    """The check_restart rule that applies to `check` of `service` (either block, merged)."""
    if service.check_restart is None:
        return check.check_restart
    return service.check_restart.merged(check.check_restart)


@dataclass
class Service:
    name: str = ""
    port: str = ""
    tags: list[str] = field(default_factory=list)
    canary_tags: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    address_mode: str = "auto"
    provider: str = "consul"
    checks: list[Check] = field(default_factory=list)
    check_restart: CheckRestart | None = None


@dataclass
class Resources:
    cpu: int = 100  # MHz
    memory: int = 300  # MB
    memory_max: int = 0
    cores: int = 0


@dataclass
class ArtifactOptions:
    checksum: str = ""


@dataclass
class Artifact:
    source: str
    destination: str = "local/"
    mode: str = "any"  # any | file | dir
    options: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    archive: bool = True


@dataclass
class Template:
    data: str = ""
    source: str = ""
    destination: str = ""
    change_mode: str = "restart"  # restart | signal | noop
    change_signal: str = ""
    perms: str = "0644"
    env: bool = False
    left_delimiter: str = "{{"
    right_delimiter: str = "}}"
    splay: int = 5 * SECOND


@dataclass
class LogConfig:
    max_files: int = 10
    max_file_size: int = 10  # MB
    disabled: bool = False


class LifecycleHook(StrEnum):
    PRESTART = "prestart"
    POSTSTART = "poststart"
    POSTSTOP = "poststop"


@dataclass
class Lifecycle:
    """The task's `lifecycle` block: when it runs beside the group's main tasks (those
    without one); the order is `controllers/driver_runner/lifecycle.py`'s."""

    hook: LifecycleHook = LifecycleHook.PRESTART
    sidecar: bool = False


@dataclass
class DispatchPayload:
    """Where, under the task's `local/`, a dispatched job's payload is written."""

    file: str = ""


@dataclass
class Task:
    name: str
    driver: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)
    services: list[Service] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    templates: list[Template] = field(default_factory=list)
    logs: LogConfig = field(default_factory=LogConfig)
    kill_timeout: int = 5 * SECOND
    kill_signal: str = "SIGINT"
    # between leaving the catalog and the kill signal (Nomad's task-level shutdown_delay)
    shutdown_delay: int = 0
    user: str = ""
    leader: bool = False
    meta: dict[str, str] = field(default_factory=dict)
    constraints: list[Constraint] = field(default_factory=list)
    affinities: list[Affinity] = field(default_factory=list)
    volume_mounts: list[VolumeMount] = field(default_factory=list)
    restart: RestartPolicy | None = None  # None: the group's
    dispatch_payload: DispatchPayload | None = None
    lifecycle: Lifecycle | None = None

    def keeps_running(self) -> bool:
        """A task expected to run while the allocation runs (main tasks and sidecars, not
        prestart/poststart tasks that finish, nor poststop ones): what health looks at."""
        lc = self.lifecycle
        return lc is None or (lc.sidecar and lc.hook != LifecycleHook.POSTSTOP)


@dataclass
class EphemeralDisk:
    size: int = 300  # MB
    sticky: bool = False
    migrate: bool = False


@dataclass
class TaskGroup:
    name: str
    count: int = 1
    tasks: list[Task] = field(default_factory=list)
    networks: list[Network] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    affinities: list[Affinity] = field(default_factory=list)
    spreads: list[Spread] = field(default_factory=list)
    volumes: dict[str, VolumeRequest] = field(default_factory=dict)
    restart: RestartPolicy | None = None  # None: the job type's default
    reschedule: ReschedulePolicy | None = None  # None: the job type's default
    update: UpdateStrategy | None = None  # None: the job's
    migrate: MigrateStrategy = field(default_factory=MigrateStrategy)
    meta: dict[str, str] = field(default_factory=dict)
    ephemeral_disk: EphemeralDisk = field(default_factory=EphemeralDisk)
    # the group's services leave the catalog, then this wait, then the tasks are signalled
    shutdown_delay: int = 0
    disconnect: DisconnectStrategy | None = None
    max_client_disconnect: int | None = None  # Nomad 1.8's older spelling of disconnect.lost_after
    stop_after_client_disconnect: int | None = None  # ... and of disconnect.stop_on_client_after

    def lost_after(self) -> int:
        """How long an allocation of this group may stay `unknown` on a disconnected node
        (nanoseconds; 0: it is lost at once): `disconnect.lost_after`, else Nomad 1.8's
        `max_client_disconnect` (the two together are refused when both give a window)."""
        if self.disconnect is not None and self.disconnect.lost_after:
            return self.disconnect.lost_after
        return self.max_client_disconnect or 0

    def stop_after(self) -> int | None:
        """How long a cut-off client keeps running this group's tasks (nanoseconds; None:
        for as long as it is cut off). Nomad's GetDisconnectStopTimeout."""
        if self.disconnect is not None and self.disconnect.stop_on_client_after is not None:
            return self.disconnect.stop_on_client_after
        return self.stop_after_client_disconnect

    def replace_on_disconnect(self) -> bool:
        """Whether an `unknown` allocation is replaced while it is away (default true)."""
        return self.disconnect is None or self.disconnect.replace

    def reconcile_option(self) -> ReconcileOption:
        return ReconcileOption.BEST_SCORE if self.disconnect is None else self.disconnect.reconcile


@dataclass
class Periodic:
    """The job's `periodic` block: the job is a template launched as a child job at each
    time one of its cron expressions (`cron`, or several in `crons`) names, read in
    `time_zone`; `prohibit_overlap` skips a launch while an earlier child still runs."""

    cron: str = ""
    crons: list[str] = field(default_factory=list)
    prohibit_overlap: bool = False
    time_zone: str = "UTC"
    enabled: bool = True

    def specs(self) -> list[str]:
        """Every cron expression of the block (`cron` first)."""
        return ([self.cron] if self.cron else []) + self.crons


class PayloadRule(StrEnum):
    OPTIONAL = "optional"
    REQUIRED = "required"
    FORBIDDEN = "forbidden"


@dataclass
class Parameterized:
    """The job's `parameterized` block: the job is a template run only through
    `job dispatch`, with a payload as `payload` says and the meta keys it names (a
    dispatch must give every `meta_required` key and no key outside the two lists)."""

    payload: PayloadRule = PayloadRule.OPTIONAL
    meta_required: list[str] = field(default_factory=list)
    meta_optional: list[str] = field(default_factory=list)


@dataclass
class Job:
    id: str
    name: str = ""
    namespace: str = "default"
    region: str = "global"
    type: JobType = JobType.SERVICE
    priority: int = 50
    datacenters: list[str] = field(default_factory=lambda: ["*"])
    node_pool: str = "default"  # the nodes it may run on: that pool's, or every node's for "all"
    all_at_once: bool = False
    task_groups: list[TaskGroup] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    affinities: list[Affinity] = field(default_factory=list)
    spreads: list[Spread] = field(default_factory=list)
    update: UpdateStrategy | None = None
    periodic: Periodic | None = None
    meta: dict[str, str] = field(default_factory=dict)
    parameterized: Parameterized | None = None
    # set on a child job (`<parent>/periodic-<unix time>`, `<parent>/dispatch-<t>-<hex>`):
    # the job it was launched from; a dispatched child also carries its payload (base64)
    parent_id: str = ""
    dispatched: bool = False
    payload: str = ""
    dispatch_idempotency_token: str = ""

    def is_template(self) -> bool:
        """A periodic or parameterized job is never run itself: only its children are."""
        return self.periodic is not None or (self.parameterized is not None and not self.dispatched)

    def group(self, name: str) -> TaskGroup | None:
        for g in self.task_groups:
            if g.name == name:
                return g
        return None

    def update_for(self, group: TaskGroup) -> UpdateStrategy | None:
        """The group's update strategy, inheriting the job's (Nomad merges the two)."""
        return group.update if group.update is not None else self.update

    def restart_for(self, group: TaskGroup, task: Task) -> RestartPolicy:
        if task.restart is not None:
            return task.restart
        if group.restart is not None:
            return group.restart
        return RestartPolicy.default_for(self.type)

    def reschedule_for(self, group: TaskGroup) -> ReschedulePolicy:
        return group.reschedule if group.reschedule is not None else ReschedulePolicy.default_for(self.type)
