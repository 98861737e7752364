"""Garbage collection of finished work, pure: what may go, by Nomad's rules and thresholds
(its server options `eval_gc_threshold` 1 h, `deployment_gc_threshold` 1 h,
`job_gc_threshold` 4 h, `node_gc_threshold` 24 h, and the 6 tracked job versions).

- An evaluation that finished (complete, failed, canceled) longer than `after` seconds ago,
  except the newest evaluation of each job (job status shows it).
- An allocation the scheduler stopped (desired status not `run`) whose client is done with it
  (client status complete, failed or lost, or its node is gone or down), last changed longer
  than `after` seconds ago; also a failed allocation already rescheduled (it keeps desired
  status `run` and names its successor). Batch allocations that completed keep desired status `run`: they
  hold their index so the job is not run again, and go only with their job.
- Job versions past the newest `versions` (6), except the newest stable one (Nomad keeps it
  in place of the oldest of the six, so an auto-revert has somewhere to go).
- A deployment that ended (successful, failed, cancelled) longer than `deployment` ago,
  except each job's newest (job status shows it); all of a job that is gone.
- A job that is dead (stopped, or a batch job done: `summary.summarize`), with no
  evaluation pending or blocked, not changed for `job` seconds; then its allocations,
  evaluations and deployments go too, as those of a job that is gone.
- A node that is down, not changed for `node` seconds, with no allocation that runs there.

The thresholds are the agent's (`reconciler/model/gc_policy.py`, `GcThresholds`); an
operator's `system gc` uses `FORCED`, every threshold at 0, as Nomad's forced GC does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

from reconciler.model.alloc_status import client_terminal, is_terminal
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    Deployment,
    DeploymentStatus,
    DesiredStatus,
    EvalStatus,
    Evaluation,
    JobRecord,
    JobStatus,
    Node,
    NodeStatus,
)
from reconciler.model.summary import summarize

_FINISHED_EVAL = (EvalStatus.COMPLETE, EvalStatus.FAILED, EvalStatus.CANCELED)
_ENDED_DEPLOYMENT = (DeploymentStatus.SUCCESSFUL, DeploymentStatus.FAILED, DeploymentStatus.CANCELLED)
JobKey = tuple[str, str]  # (namespace, job id)


def evals_to_collect(
    evals: Iterable[Evaluation], *, now: float, after: float, jobs: Collection[JobKey] | None = None
) -> list[Evaluation]:
    """Finished evaluations older than `after`, but each existing job's newest (with `jobs`
    given, a job not in it is gone and keeps none)."""
    evals = list(evals)
    newest: dict[tuple[str, str], Evaluation] = {}
    for e in evals:
        k = (e.namespace, e.job_id)
        if k not in newest or e.create_time > newest[k].create_time:
            newest[k] = e
    return [
        e
        for e in evals
        if e.status in _FINISHED_EVAL
        and now - e.modify_time >= after
        and (
            newest[(e.namespace, e.job_id)].id != e.id
            or (jobs is not None and (e.namespace, e.job_id) not in jobs)
        )
    ]


def allocs_to_collect(
    allocs: Iterable[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    nodes: Mapping[NodeId, Node],
    *,
    now: float,
    after: float,
    jobs: Collection[JobKey] | None = None,
) -> list[Allocation]:
    """Stopped allocations the client is done with; with `jobs` given, also every finished
    allocation of a job that is gone (a completed batch allocation included)."""
    out = []
    for a in allocs:
        if now - a.modify_time < after:
            continue
        st = statuses.get(a.id)
        if jobs is not None and (a.namespace, a.job_id) not in jobs and is_terminal(a, statuses):
            out.append(a)
            continue
        if a.desired_status == DesiredStatus.RUN:
            # a failed allocation that was rescheduled stays `run` with its successor named
            if a.next_allocation and st is not None and st.client_status == ClientStatus.FAILED:
                out.append(a)
            continue
        node = nodes.get(a.node_id)
        done = client_terminal(a, statuses) or node is None or node.status == NodeStatus.DOWN
        if done:
            out.append(a)
    return out


def versions_to_collect(
    versions: Iterable[JobRecord], *, keep: int, jobs: Collection[JobKey]
) -> list[JobRecord]:
    """Each job's versions past its newest `keep`, but its newest stable version, which takes
    the place of the oldest kept one when it is older than them all; every version of a job
    that is gone."""
    by_job: dict[JobKey, list[JobRecord]] = defaultdict(list)
    for v in versions:
        by_job[(v.namespace, v.id)].append(v)
    out: list[JobRecord] = []
    for k, records in by_job.items():
        if k not in jobs:
            out.extend(records)
            continue
        records.sort(key=lambda r: r.version, reverse=True)
        if len(records) <= keep:
            continue
        kept = records[:keep]
        stable = next((r for r in records if r.stable), None)
        if keep and stable is not None and stable not in kept:
            kept[-1] = stable
        out.extend(r for r in records if r not in kept)
    return out


def deployments_to_collect(
    deployments: Iterable[Deployment], *, now: float, after: float, jobs: Collection[JobKey]
) -> list[Deployment]:
    """Deployments that ended longer than `after` ago, but each existing job's newest; every
    deployment of a job that is gone, once ended or not."""
    deployments = list(deployments)
    newest: dict[JobKey, Deployment] = {}
    for d in deployments:
        k = (d.namespace, d.job_id)
        if k not in newest or d.create_time > newest[k].create_time:
            newest[k] = d
    out = []
    for d in deployments:
        k = (d.namespace, d.job_id)
        ended = d.status in _ENDED_DEPLOYMENT and now - d.modify_time >= after
        if k not in jobs or (ended and newest[k].id != d.id):
            out.append(d)
    return out


def jobs_to_collect(
    jobs: Iterable[JobRecord],
    allocs: Iterable[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    evals: Iterable[Evaluation],
    *,
    now: float,
    after: float,
) -> list[JobRecord]:
    """Dead jobs (summary status `dead`) with no evaluation pending or blocked, whose record
    and allocations have not changed for `after` seconds."""
    allocs_of: dict[JobKey, list[Allocation]] = defaultdict(list)
    for a in allocs:
        allocs_of[(a.namespace, a.job_id)].append(a)
    evals_of: dict[JobKey, list[Evaluation]] = defaultdict(list)
    for e in evals:
        evals_of[(e.namespace, e.job_id)].append(e)
    out = []
    for r in jobs:
        k = (r.namespace, r.id)
        mine, its_evals = allocs_of.get(k, []), evals_of.get(k, [])
        if now - r.submit_time < after or any(now - a.modify_time < after for a in mine):
            continue
        if any(e.status in (EvalStatus.PENDING, EvalStatus.BLOCKED) for e in its_evals):
            continue
        if summarize(r.job, mine, statuses, its_evals, stopped=r.stop).status == JobStatus.DEAD:
            out.append(r)
    return out


def nodes_to_collect(
    nodes: Iterable[Node],
    allocs: Iterable[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    *,
    now: float,
    after: float,
) -> list[Node]:
    """Down nodes unchanged for `after` seconds with no allocation still running there."""
    busy = {a.node_id for a in allocs if not is_terminal(a, statuses)}
    return [
        n for n in nodes if n.status == NodeStatus.DOWN and now - n.modify_time >= after and n.id not in busy
    ]
