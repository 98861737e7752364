"""Garbage collection of finished work, pure: which evaluations and allocations may go.

- An evaluation that finished (complete, failed, canceled) longer than `after` seconds ago,
  except the newest evaluation of each job (job status shows it).
- An allocation the scheduler stopped (desired status not `run`) whose client is done with it
  (client status complete, failed or lost, or its node is gone or down), last changed longer
  than `after` seconds ago; also a failed allocation already rescheduled (it keeps desired
  status `run` and names its successor). Batch allocations that completed keep desired status `run`: they
  hold their index so the job is not run again, and are never collected.
- A job version past the newest TRACKED_VERSIONS of its job (Nomad's JobTrackedVersions),
  unless it is the job's current version, its newest stable one, or an allocation still
  names it: an allocation runs the version it was placed with, read by number (review M8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reconciler.model.alloc_status import client_terminal
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    DesiredStatus,
    EvalStatus,
    Evaluation,
    JobRecord,
    Node,
    NodeStatus,
)

_FINISHED_EVAL = (EvalStatus.COMPLETE, EvalStatus.FAILED, EvalStatus.CANCELED)
TRACKED_VERSIONS = 6  # Nomad's structs.JobTrackedVersions


def versions_to_collect(
    versions: Iterable[JobRecord],
    current: Iterable[JobRecord],
    allocs: Iterable[Allocation],
    *,
    keep: int = TRACKED_VERSIONS,
) -> list[JobRecord]:
    """The version records that may go: per job, all but the newest `keep`, the current
    one, the newest stable one (what an auto-revert goes back to) and those an allocation
    names."""
    needed = {(r.namespace, r.id, r.version) for r in current}
    needed |= {(a.namespace, a.job_id, a.job_version) for a in allocs}
    by_job: dict[tuple[str, str], list[JobRecord]] = {}
    for v in versions:
        by_job.setdefault((v.namespace, v.id), []).append(v)
    out: list[JobRecord] = []
    for history in by_job.values():
        history.sort(key=lambda r: r.version, reverse=True)
        stable = next((r for r in history if r.stable and not r.stop), None)
        if stable is not None:
            needed.add((stable.namespace, stable.id, stable.version))
        out.extend(r for r in history[keep:] if (r.namespace, r.id, r.version) not in needed)
    return out


def evals_to_collect(evals: Iterable[Evaluation], *, now: float, after: float) -> list[Evaluation]:
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
        and now - e.modify_time > after
        and newest[(e.namespace, e.job_id)].id != e.id
    ]


def allocs_to_collect(
    allocs: Iterable[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    nodes: Mapping[NodeId, Node],
    *,
    now: float,
    after: float,
) -> list[Allocation]:
    out = []
    for a in allocs:
        if now - a.modify_time <= after:
            continue
        st = statuses.get(a.id)
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
