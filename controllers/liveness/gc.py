"""Garbage collection of finished work, pure: which evaluations and allocations may go.

- An evaluation that finished (complete, failed, canceled) longer than `after` seconds ago,
  except the newest evaluation of each job (job status shows it).
- An allocation the scheduler stopped (desired status not `run`) whose client is done with it
  (client status complete, failed or lost, or its node is gone or down), last changed longer
  than `after` seconds ago; also a failed allocation already rescheduled (it keeps desired
  status `run` and names its successor). Batch allocations that completed keep desired status `run`: they
  hold their index so the job is not run again, and are never collected.
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
    Node,
    NodeStatus,
)

_FINISHED_EVAL = (EvalStatus.COMPLETE, EvalStatus.FAILED, EvalStatus.CANCELED)


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
