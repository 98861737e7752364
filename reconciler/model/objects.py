"""The runtime objects and their statuses, named as Nomad names them.

Who writes what (one writer per key, see docs/architecture.md):
- Allocation: the scheduler (desired state of one instance of a task group on a node).
- AllocStatus: the node agent (what it observes of that instance).
- Node: the node agent; `status`/`eligibility` also by the liveness controller and the API.
- Evaluation: created by the API (and by node changes), completed by the scheduler.
- Deployment: the deployment controller; promotion by the API in a transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler.model.ids import AllocId, DeploymentId, EvalId, NodeId
from reconciler.model.job import Job, JobType


class DesiredStatus(StrEnum):
    RUN = "run"
    STOP = "stop"
    EVICT = "evict"


class ClientStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    LOST = "lost"
    UNKNOWN = "unknown"  # set by the scheduler: its node is disconnected (`disconnect` block)


class EvalStatus(StrEnum):
    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELED = "canceled"


class NodeStatus(StrEnum):
    INITIALIZING = "initializing"
    READY = "ready"
    DOWN = "down"
    # missed its heartbeat while running allocations that may wait for it (`disconnect`)
    DISCONNECTED = "disconnected"


class NodeEligibility(StrEnum):
    """Whether the scheduler may place new allocations on a node (set by the API, drain)."""

    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"


class TaskRunState(StrEnum):
    """`TaskState.state`: Nomad's task states."""

    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"


class JobStatus(StrEnum):
    """A job's status as `job status` shows it (see summary.py)."""

    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"


class DeploymentStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    SUCCESSFUL = "successful"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"


@dataclass
class AllocatedPort:
    label: str
    value: int
    to: int = 0
    host_ip: str = ""


@dataclass
class Allocation:
    id: AllocId
    namespace: str
    job_id: str
    job_version: int
    task_group: str
    name: str  # job.group[index]
    index: int
    node_id: NodeId
    node_name: str = ""
    eval_id: EvalId = EvalId("")
    deployment_id: DeploymentId = DeploymentId("")
    desired_status: DesiredStatus = DesiredStatus.RUN
    desired_description: str = ""
    ports: list[AllocatedPort] = field(default_factory=list)
    cpu: int = 0
    memory: int = 0
    disk: int = 0  # MB of the group's ephemeral_disk (Nomad's AllocatedResources.Shared.DiskMB)
    canary: bool = False
    previous_allocation: AllocId = AllocId("")
    next_allocation: AllocId = AllocId("")
    reschedule_attempts: list[float] = field(default_factory=list)  # times of past reschedules
    # Set by the scheduler when the node agent cannot report any more ("lost": its node is
    # down; "unknown": its node is disconnected and the group's `disconnect` window runs);
    # otherwise None and the node agent's AllocStatus.client_status is authoritative
    # (read it through reconciler.model.alloc_status).
    client_status: ClientStatus | None = None
    disconnected_at: float = 0.0  # when the scheduler marked it unknown (Nomad's LastUnknown)
    score: float | None = None  # the placement's normalised score (disconnect.reconcile best_score)
    followup_eval_id: EvalId = EvalId("")  # the delayed evaluation that will reschedule this failed alloc
    preempted_allocations: list[AllocId] = field(default_factory=list)  # evicted to make room for this one
    preempted_by_allocation: AllocId = AllocId("")  # the allocation this one was evicted for
    create_time: float = 0.0
    modify_time: float = 0.0
    schema: int = 1


@dataclass
class TaskEvent:
    type: str  # Received, Task Setup, Started, Terminated, Restarting, Killing, Killed ...
    time: float
    message: str = ""
    exit_code: int | None = None
    signal: int | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass
class TaskState:
    state: TaskRunState = TaskRunState.PENDING
    failed: bool = False
    restarts: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0
    pid: int = 0
    events: list[TaskEvent] = field(default_factory=list)


@dataclass
class AllocStatus:
    alloc_id: AllocId
    node_id: NodeId
    client_status: ClientStatus = ClientStatus.PENDING
    client_description: str = ""
    task_states: dict[str, TaskState] = field(default_factory=dict)
    modify_time: float = 0.0
    schema: int = 1


@dataclass
class NodeResources:
    cpu_mhz: int = 0  # total across cores
    cores: int = 0
    memory_mb: int = 0
    disk_mb: int = 0


@dataclass
class HostVolume:
    """A directory the agent offers to tasks (`--host-volume name=/path[,read_only]`)."""

    path: str
    read_only: bool = False


@dataclass
class Node:
    id: NodeId
    name: str
    datacenter: str = "dc1"
    address: str = "127.0.0.1"
    http_addr: str = ""
    status: NodeStatus = NodeStatus.READY
    eligibility: NodeEligibility = NodeEligibility.ELIGIBLE
    drain: bool = False
    resources: NodeResources = field(default_factory=NodeResources)
    reserved: NodeResources = field(default_factory=NodeResources)
    drivers: dict[str, bool] = field(default_factory=dict)  # driver -> healthy
    attributes: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    host_volumes: dict[str, HostVolume] = field(default_factory=dict)  # name -> offered directory
    min_dynamic_port: int = 20000
    max_dynamic_port: int = 32000
    node_class: str = ""
    node_pool: str = "default"  # Nomad's node pool: jobs of the pool (or of pool "all") run here
    create_time: float = 0.0
    modify_time: float = 0.0
    schema: int = 1

    def schedulable(self) -> bool:
        """New allocations may be placed here: ready, eligible and not draining."""
        return (
            self.status == NodeStatus.READY
            and self.eligibility == NodeEligibility.ELIGIBLE
            and not self.drain
        )


@dataclass
class Evaluation:
    id: EvalId
    namespace: str
    job_id: str
    triggered_by: (
        str  # job-register, job-deregister, job-scaling, node-update, alloc-failure, deployment-watcher ...
    )
    status: EvalStatus = EvalStatus.PENDING
    status_description: str = ""
    type: JobType = JobType.SERVICE
    priority: int = 50
    job_version: int = 0
    node_id: NodeId = NodeId("")
    deployment_id: DeploymentId = DeploymentId("")
    previous_eval: EvalId = EvalId("")
    blocked_eval: EvalId = EvalId("")
    wait_until: float = 0.0
    failed_tg_allocs: dict[str, Any] = field(default_factory=dict)  # group -> placement failure metrics
    queued_allocations: dict[str, int] = field(default_factory=dict)
    placed: list[AllocId] = field(default_factory=list)  # created by this eval
    create_time: float = 0.0
    modify_time: float = 0.0
    schema: int = 1


@dataclass
class DeploymentGroupState:
    auto_revert: bool = False
    auto_promote: bool = False
    promoted: bool = False
    desired_canaries: int = 0
    desired_total: int = 0
    placed_canaries: list[AllocId] = field(default_factory=list)
    placed_allocs: int = 0
    healthy_allocs: int = 0
    unhealthy_allocs: int = 0
    progress_deadline: int = 0
    require_progress_by: float = 0.0


@dataclass
class AllocHealth:
    """One allocation's health within a deployment, as the deployment controller judged it
    (the working form; the deployment stores it compactly, see Deployment).

        `healthy` is None while undecided, then True or False for good (Nomad's health is
        sticky: an allocation healthy once stays counted as healthy). `passing_since` is when
        its tasks (and checks) were last seen all running/passing, the start of min_healthy_time.
    """

    healthy: bool | None = None
    passing_since: float = 0.0
    timestamp: float = 0.0


@dataclass
class Deployment:
    id: DeploymentId
    namespace: str
    job_id: str
    job_version: int
    status: DeploymentStatus = DeploymentStatus.RUNNING
    status_description: str = ""
    task_groups: dict[str, DeploymentGroupState] = field(default_factory=dict)
    # Allocation health, judged by the deployment controller (AllocStatus has one writer,
    # the node agent, so it lives here): sorted ids of healthy and unhealthy allocations
    # (verdicts are final) and, for undecided ones whose checks pass, since when. Compact on
    # purpose: ~40 bytes per allocation keeps a 10,000-allocation deployment far below
    # etcd's request size limit. Read and write it through reconciler.deployments.health.
    healthy_alloc_ids: list[str] = field(default_factory=list)
    unhealthy_alloc_ids: list[str] = field(default_factory=list)
    passing_since: dict[str, float] = field(default_factory=dict)
    # Set (with the description saying which version, or that none was stable) in the same
    # transaction that fails the deployment and submits the reverted version: the revert
    # is decided once, from state.
    auto_revert_decided: bool = False
    job_spec_modify_index: int = 0
    create_index: int = 0
    modify_index: int = 0
    create_time: float = 0.0
    modify_time: float = 0.0
    schema: int = 1


@dataclass
class JobRecord:
    """What `jobs/<ns>/<id>` (and each `job_versions/<ns>/<id>/<v>`) holds: the job model
    itself (decoded by msgspec straight into `Job`, no parsing) and its bookkeeping. The
    API turns `job` into Nomad's JSON shape on the way out."""

    namespace: str
    id: str
    version: int
    job: Job
    spec_hash: str
    stop: bool = False
    status: JobStatus = JobStatus.PENDING
    stable: bool = False
    source_file: str = ""
    submit_time: float = 0.0
    create_index: int = 0
    modify_index: int = 0
    schema: int = 1


@dataclass
class ChildLaunch:
    """What `child_launch/<ns>/<job>` holds: when a template job last launched a child: a
    periodic job's cron time (or that of the launch `prohibit_overlap` skipped), a
    parameterized job's dispatch time. Written, compared on its revision, in the
    transaction that submits the child, so a launcher that restarts never launches one time
    twice and two dispatches with one idempotency token never both launch."""

    namespace: str
    job_id: str
    launch: float = 0.0
    schema: int = 1


@dataclass
class NodeHeartbeat:
    """What `node_heartbeats/<node-id>` holds; the key is bound to the node agent's lease,
    so it vanishes when the agent stops refreshing it."""

    node_id: NodeId
    time: float = 0.0
    ttl: int = 10
    schema: int = 1


@dataclass
class AllocSignalRequest:
    """`alloc_signals/<alloc-id>`: a user (the API) asked the node agent to send `signal`
    (a name such as SIGHUP) to an allocation's tasks (all, or `task`); consumed and deleted
    by the node agent, like a restart request. A newer request replaces one not yet
    consumed."""

    alloc_id: AllocId
    signal: str
    task: str = ""
    time: float = 0.0
    request_id: str = ""
    schema: int = 1


@dataclass
class AllocRestartRequest:
    """`alloc_restarts/<alloc-id>`: a user (the API) or an unhealthy check (the registrar)
    asked the node agent to restart an allocation's tasks (all, or `task`); consumed and
    deleted by the node agent."""

    alloc_id: AllocId
    task: str = ""
    time: float = 0.0
    request_id: str = ""
    # set by a check_restart: the restart counts against the restart policy, as a failure
    failure: bool = False
    reason: str = ""
    schema: int = 1


@dataclass
class ClusterIdentity:
    """`cluster`: written once, by the first node agent to start against this etcd and
    prefix. Each node's data dir remembers it (`client/cluster-id`), so a node started
    against another etcd or prefix refuses to start instead of treating every allocation
    it runs as an orphan to kill and delete (review H10)."""

    id: str
    create_time: float
    schema: int = 1
