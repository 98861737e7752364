"""The deployment controller's decision (pure): which keys its one transaction compares and
writes, for each kind of step. Table-driven, no etcd."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from controllers.deployments.decide import View, decide
from reconciler import codec
from reconciler.model.objects import AllocHealth, Deployment, DeploymentStatus, JobRecord
from reconciler.store import Keys, Txn, Versioned
from tests.deployments.factories import deployment, job, new

KEYS = Keys("/r/")
JOB = job(3)
DKEY = KEYS.deployment("dep-1")
JKEY = KEYS.job("default", "web")


def rec(version: int, *, stable: bool = False) -> JobRecord:
    j = dataclasses.replace(JOB, meta={"v": str(version)})  # each version its own spec
    return JobRecord(
        namespace="default", id="web", version=version, job=j, spec_hash=str(version), stable=stable
    )


def vkey(version: int) -> str:
    return KEYS.job_version("default", "web", version)


def versions(*recs: JobRecord) -> list[Versioned[JobRecord]]:
    return [Versioned(vkey(r.version), r, 10 + r.version) for r in recs]


@dataclass
class Case:
    name: str
    dep: Deployment
    health: dict[str, AllocHealth] = field(default_factory=dict)
    compares: list[tuple[str, int]] = field(default_factory=list)
    puts: list[str] = field(default_factory=list)  # keys; evaluations as "eval"
    reverted_to: int | None = None
    settled: bool = False  # decide once first, then decide on its result (job cache unchanged)


FAILED_BY_USER = dataclasses.replace(
    deployment(status=DeploymentStatus.FAILED, auto_revert=True),
    status_description="Deployment marked as failed",
)

CASES = [
    Case("nothing changed since the last step: no transaction", deployment(), settled=True),
    Case(
        "more healthy: the deployment and an evaluation",
        deployment(healthy=("new0",)),
        health={"new1": AllocHealth(healthy=True)},
        compares=[(DKEY, 5)],
        puts=[DKEY, "eval"],
    ),
    Case(
        "successful: the version and the job record marked stable, all compared",
        deployment(),
        health={f"new{i}": AllocHealth(healthy=True) for i in range(3)},
        compares=[(DKEY, 5), (vkey(1), 11), (JKEY, 7)],
        puts=[DKEY, vkey(1), JKEY],
    ),
    Case(
        "failed with auto_revert: the revert's version, job record and evaluation with the deployment",
        FAILED_BY_USER,
        compares=[(DKEY, 5), (JKEY, 7), (vkey(2), 0)],
        puts=[DKEY, JKEY, vkey(2), "eval"],
        reverted_to=0,
    ),
    Case("the revert decided, the job cache not yet showing it: not again", FAILED_BY_USER, settled=True),
]


def shape(txn: Txn | None) -> tuple[list[tuple[str, int]], list[str]]:
    """What a transaction compares and writes; the writes sorted, as one transaction
    applies them all at once."""
    if txn is None:
        return [], []
    return sorted(txn.compares), sorted("eval" if k.startswith(KEYS.evals) else k for k, _, _ in txn.puts)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_one_transaction_per_step(case: Case) -> None:
    view = View(
        deployment=Versioned(DKEY, case.dep, 5),
        job=Versioned(JKEY, rec(1), 7),
        versions=versions(rec(1), rec(0, stable=True)),
        allocs=[new(JOB, i) for i in range(3)],
    )
    # judged health is the step's input here: put it in the deployment as judge_all would
    dep = case.dep
    if case.health:
        ids = sorted(set(dep.healthy_alloc_ids) | {a for a, h in case.health.items() if h.healthy})
        view = dataclasses.replace(
            view, deployment=Versioned(DKEY, dataclasses.replace(dep, healthy_alloc_ids=ids), 5)
        )
    plan = decide(view, KEYS, now=100.0)
    if case.settled:
        view = dataclasses.replace(view, deployment=Versioned(DKEY, plan.step.deployment, 6))
        plan = decide(view, KEYS, now=100.0)
    assert shape(plan.txn) == (sorted(case.compares), sorted(case.puts))
    if case.reverted_to is None:
        assert plan.revert is None
    else:
        assert plan.revert is not None
        assert plan.revert.record.version == 2
        assert plan.revert.record.job == rec(case.reverted_to).job
        assert plan.txn is not None
        written = {k: v for k, v, _ in plan.txn.puts}
        assert codec.decode(written[DKEY], Deployment).auto_revert_decided
        assert plan.step.deployment.status_description.endswith("rolling back to job version 0")
