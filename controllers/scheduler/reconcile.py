"""Reconcile one job: a pure function from (job, allocations, statuses, nodes, now) to buckets.

No I/O and no clock: the caller reads state, calls `reconcile`, and turns the result into a
plan (placement on nodes happens later, in `placer`). The buckets are described in `buckets`;
a service or batch group is reconciled by `reconcile_group`, a system group here (one
allocation per eligible node). The job-wide steps: a stopped job stops everything, the
deployment holds its canaries and stops what promoted canaries displace, a group removed
from the job is stopped, and the deployment's new canaries are placed last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from controllers.scheduler.alloc_kinds import left_alone
from controllers.scheduler.allocs import alloc_name, client_status_of, is_terminal, node_lost
from controllers.scheduler.buckets import AllocPlace, AllocStop, ReconcileResult, lost_stop
from controllers.scheduler.deployment_gate import DeploymentView, deployment_view
from controllers.scheduler.disconnect import back
from controllers.scheduler.job_input import JobInput
from controllers.scheduler.reconcile_group import reconcile_group
from controllers.scheduler.update_policy import UpdateFn, default_max_replace, tasks_updated
from reconciler.model.disconnect import expired, expires_at, window
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.job import Job, JobType, TaskGroup, one_per_node
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    Deployment,
    DesiredStatus,
    Node,
    NodeStatus,
)
from reconciler.model.services import CheckStatus


def reconcile(
    job: Job | None,
    allocs: list[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    *,
    nodes: Mapping[NodeId, Node],
    job_version: int = 0,
    versions: Mapping[int, Job] | None = None,
    deployment: Deployment | None = None,
    now: float,
    max_replace: Mapping[str, int] | None = None,
    update_fn: UpdateFn = tasks_updated,
    checks: Mapping[AllocId, Sequence[CheckStatus]] | None = None,
) -> ReconcileResult:
    """Decide what should happen to `job`'s allocations. `job` None means stopped or purged.

    `job_version` is the version of `job`; `versions` the older job versions allocations may
    run (for the in-place/destructive decision); `nodes` every known node (an alloc whose
    node is missing or down is lost; a draining node's allocs migrate, see `migrate`);
    `checks` the check statuses of the job's allocations (a migration waits for them).

    Each step below is a pure function returning its share of the buckets; they are merged
    in step order, so every bucket lists its allocations in the order the steps found them.
    """
    if job is None:
        return _stop_all(allocs, "alloc not needed since job was stopped")
    res = ReconcileResult()
    view = None
    if deployment is not None and job.type == JobType.SERVICE and deployment.job_version == job_version:
        # canaries and the rollout gate come from the deployment (see deployment_gate)
        view = deployment_view(job, job_version, allocs, statuses, deployment)
        allocs = view.allocs
        res.add(_deployment_stops(view))
    by_group: dict[str, list[Allocation]] = {}
    for a in allocs:
        by_group.setdefault(a.task_group, []).append(a)
    names = {g.name for g in job.task_groups}
    for gname, galloc in by_group.items():
        if gname not in names:
            res.add(_stop_all(galloc, "alloc not needed as task group was removed"))
    gates = _gates(job, job_version, allocs, statuses, max_replace, view)
    inp = JobInput(job, job_version, versions or {}, statuses, nodes, now, update_fn, checks or {})
    for g in job.task_groups:
        galloc = by_group.get(g.name, [])
        if one_per_node(job.type):  # system and sysbatch
            res.add(_reconcile_system(inp, g, galloc))
            continue
        for part in reconcile_group(inp, g, galloc, gate=gates.get(g.name, 1 << 30)):
            res.add(part)
        batch = job.type == JobType.BATCH
        res.desired_tg_updates[g.name].ignore = sum(
            1 for a in res.ignore if a.task_group == g.name and not left_alone(a, statuses, batch)
        )
    if view is not None:
        res.add(_canaries(job, view))
    return res


def _stop_all(allocs: Sequence[Allocation], description: str) -> ReconcileResult:
    """Every allocation still meant to run is stopped; the others are left as they are."""
    res = ReconcileResult()
    for a in allocs:
        upd = res.counts(a.task_group)
        if a.desired_status == DesiredStatus.RUN:
            res.stop.append(AllocStop(a, description))
            upd.stop += 1
        else:  # terminal: left alone, not counted (Nomad's plan shows no "ignore" for it)
            res.ignore.append(a)
    return res


def _deployment_stops(view: DeploymentView) -> ReconcileResult:
    """The deployment's canaries held aside, the old allocations promoted canaries displace
    and the canaries of an older deployment."""
    res = ReconcileResult(ignore=list(view.held))
    for a in view.displaced:
        res.stop.append(AllocStop(a, "alloc is being updated due to job update"))
        res.counts(a.task_group).stop += 1
    for a in view.stale_canaries:
        res.stop.append(AllocStop(a, "alloc not needed as it is a canary of an older deployment"))
        res.counts(a.task_group).stop += 1
    return res


def _gates(
    job: Job,
    version: int,
    allocs: list[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    max_replace: Mapping[str, int] | None,
    view: DeploymentView | None,
) -> dict[str, int]:
    """Per group, how many old allocations may be replaced now: the caller's, the
    deployment's, or the update stanza's."""
    if max_replace is not None:
        return dict(max_replace)
    if view is not None:
        return view.gates
    return default_max_replace(job, version, allocs, statuses)


def _canaries(job: Job, view: DeploymentView) -> ReconcileResult:
    res = ReconcileResult()
    for gname, indexes in view.canaries.items():
        for idx in indexes:
            res.place.append(
                AllocPlace(gname, alloc_name(job.id, gname, idx), idx, None, "canary", canary=True)
            )
            res.counts(gname).canary += 1
    return res


def _reconcile_system(inp: JobInput, g: TaskGroup, allocs: list[Allocation]) -> ReconcileResult:
    """One allocation per eligible node; placement checks the node's feasibility."""
    res = ReconcileResult()
    upd = res.counts(g.name)
    on_node: dict[str, Allocation] = {}
    for a in allocs:
        handled, a = _system_gone(inp, g, a, res)
        if handled:
            continue
        if a.node_id in on_node:  # a duplicate on one node: keep the first
            res.stop.append(AllocStop(a, "alloc not needed: more than one on this node"))
            upd.stop += 1
            continue
        on_node[a.node_id] = a
        if is_terminal(a, inp.statuses) or a.job_version == inp.version:
            res.ignore.append(a)
            upd.ignore += 1
        elif inp.update_fn(inp.versions.get(a.job_version), inp.job, g.name):
            res.add_destructive(AllocPlace(g.name, a.name, a.index, a, "destructive", node_id=a.node_id))
        else:
            res.inplace_update.append(a)
            upd.in_place_update += 1
    for nid in sorted(inp.nodes):
        if nid in on_node or not inp.nodes[nid].schedulable():
            continue
        res.place.append(AllocPlace(g.name, alloc_name(inp.job.id, g.name, 0), 0, node_id=nid))
        upd.place += 1
    return res


def _system_gone(inp: JobInput, g: TaskGroup, a: Allocation, res: ReconcileResult) -> tuple[bool, Allocation]:
    """The allocations of a system group that are not updated on their node: not meant to
    run, lost, away (see `_system_away`) or draining; True when `res` took care of `a`.
    An allocation back from a disconnect is returned with its unknown cleared."""
    upd = res.counts(g.name)
    if a.desired_status != DesiredStatus.RUN or client_status_of(a, inp.statuses) == ClientStatus.LOST:
        res.ignore.append(a)
        upd.ignore += 1
        return True, a
    node = inp.nodes.get(a.node_id)
    w = window(g)
    if (
        w > 0
        and node is not None
        and node.status == NodeStatus.READY
        and a.client_status == ClientStatus.UNKNOWN
    ):
        a = back(a)  # its node is back: the agent's reports count again
        res.reconnect.append(a)
    elif w > 0 and _system_away(inp, w, a, node, res):
        return True, a
    if node_lost(node):
        res.lost.append(a)
        res.stop.append(lost_stop(a))
        upd.stop += 1
        return True, a
    assert node is not None
    if node.drain:
        res.stop.append(AllocStop(a, "alloc is not needed as node is draining"))
        upd.migrate += 1
        return True, a
    return False, a


def _system_away(inp: JobInput, w: float, a: Allocation, node: Node | None, res: ReconcileResult) -> bool:
    """A system group with a `disconnect` window of `w` seconds: an allocation running on a
    disconnected node is marked unknown (never replaced: it belongs to that node) and is
    lost once its window ends. True when `res` took care of `a`."""
    if node is None or node.status == NodeStatus.READY:
        return False
    unknown = a.client_status == ClientStatus.UNKNOWN
    if unknown and not expired(a, w, inp.now):
        res.ignore.append(a)
        res.followups.append(expires_at(a, w))
    elif not unknown and client_status_of(a, inp.statuses) == ClientStatus.RUNNING:
        res.disconnect.append(a)
        res.followups.append(inp.now + w)
    else:
        return False
    res.counts(a.task_group).ignore += 1
    return True
