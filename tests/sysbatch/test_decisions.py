"""sysbatch, pure and table-driven: one allocation per feasible node that runs to
completion, never placed again on a node where it completed or failed (Nomad's rules),
placed on a node that joins later; a success is not restarted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from controllers.driver_runner.restarts import Action, Tracker, decide
from controllers.scheduler.reconcile import reconcile
from reconciler.model.job import RestartPolicy, runs_to_completion
from reconciler.model.objects import ClientStatus, NodeStatus
from reconciler.spec import fill_defaults
from tests.scheduler.factories import assert_results, mock_alloc, mock_job, mock_node, mock_status, nodes_map

NOW = 1_000_000.0
JOB = fill_defaults(mock_job(1, type="sysbatch"))
NEWER = fill_defaults(mock_job(1, type="sysbatch", memory=256))
TWO = nodes_map(mock_node("n1"), mock_node("n2"))


@dataclass
class Case:
    id: str
    allocs: list[Any]
    want: dict[str, int]
    statuses: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, Any] = field(default_factory=lambda: TWO)
    job: Any = field(default_factory=lambda: JOB)
    version: int = 0
    placed_on: list[str] = field(default_factory=list)


A1 = mock_alloc(JOB, 0, node="n1")
A2 = mock_alloc(JOB, 0, node="n2")

CASES = [
    Case(
        "one per feasible node",
        [],
        {"place": 2},
        placed_on=["n1", "n2"],
        nodes=nodes_map(mock_node("n1"), mock_node("n2"), mock_node("n3", eligibility="ineligible")),
    ),
    Case(
        "complete is not run again",
        [A1, A2],
        {},
        statuses={A1.id: ClientStatus.COMPLETE, A2.id: ClientStatus.COMPLETE},
    ),
    Case(
        "failed is not replaced",
        [A1, A2],
        {},
        statuses={A1.id: ClientStatus.FAILED, A2.id: ClientStatus.COMPLETE},
    ),
    Case(
        "a node that joins gets one",
        [A1, A2],
        {"place": 1},
        statuses={A1.id: ClientStatus.COMPLETE, A2.id: ClientStatus.RUNNING},
        nodes=nodes_map(mock_node("n1"), mock_node("n2"), mock_node("n3")),
        placed_on=["n3"],
    ),
    Case(
        "a new version does not re-run what completed",
        [A1, A2],
        {},
        statuses={A1.id: ClientStatus.COMPLETE, A2.id: ClientStatus.COMPLETE},
        job=NEWER,
        version=1,
    ),
    Case(
        "a running one on a down node is lost, not moved",
        [A1, A2],
        {"stop": 1, "lost": 1},
        statuses={A1.id: ClientStatus.RUNNING, A2.id: ClientStatus.RUNNING},
        nodes=nodes_map(mock_node("n1"), mock_node("n2", status=NodeStatus.DOWN)),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_sysbatch_reconcile(case: Case) -> None:
    statuses = {
        aid: mock_status(next(a for a in case.allocs if a.id == aid), cs, at=NOW)
        for aid, cs in case.statuses.items()
    }
    r = reconcile(case.job, case.allocs, statuses, nodes=case.nodes, now=NOW, job_version=case.version)
    assert_results(r, **case.want)
    assert sorted(p.node_id for p in r.place) == case.placed_on


@pytest.mark.parametrize(
    ("exit_ok", "action"),
    [
        pytest.param(True, Action.COMPLETE, id="success-completes"),
        pytest.param(False, Action.RESTART, id="failure-restarts"),
    ],
)
def test_a_sysbatch_task_is_not_restarted_after_success(exit_ok: bool, action: Action) -> None:
    policy = RestartPolicy.default_for("sysbatch")
    got = decide(policy, Tracker(), now=NOW, job_type="sysbatch", exit_ok=exit_ok)
    assert got.action == action


def test_sysbatch_takes_the_batch_defaults_and_no_reschedule() -> None:
    assert runs_to_completion("sysbatch")
    group = JOB.task_groups[0]
    assert group.restart == RestartPolicy.default_for("batch")
    assert group.reschedule is None
    assert group.update is None
