"""The periodic launcher's decision, pure and table-driven: what is due, what is skipped,
what a restart or a missed launch does, and the one transaction's guards."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controllers.periodic.decide import decide
from reconciler.model.job import Job, JobType, Periodic, Task, TaskGroup
from reconciler.model.objects import ChildLaunch, JobRecord
from reconciler.store import Keys, Versioned

KEYS = Keys("/p/")
T0 = 1_767_268_800.0  # 2026-01-01 12:00:00 UTC, a multiple of five minutes
MIN = 60.0


def record(
    periodic: Periodic | None = None, *, stop: bool = False, submit: float = T0
) -> Versioned[JobRecord]:
    job = Job(
        id="report",
        type=JobType.BATCH,
        periodic=periodic if periodic is not None else Periodic(cron="*/5 * * * *"),
        task_groups=[TaskGroup("g", tasks=[Task("t", driver="raw_exec", config={"command": "/bin/true"})])],
    )
    rec = JobRecord(
        namespace="default", id="report", version=0, job=job, spec_hash="h", stop=stop, submit_time=submit
    )
    return Versioned(KEYS.job("default", "report"), rec, mod_revision=7)


def launched(at: float) -> Versioned[ChildLaunch]:
    return Versioned(KEYS.child_launch("default", "report"), ChildLaunch("default", "report", at), 9)


# (parent, last launch, a child still active, now) -> (launch, child launched, wake at)
CASES = [
    pytest.param(record(), None, False, T0 + 4 * MIN, None, False, T0 + 5 * MIN, id="not-due-yet"),
    pytest.param(record(), None, False, T0 + 5 * MIN, T0 + 5 * MIN, True, T0 + 10 * MIN, id="due"),
    pytest.param(
        record(),
        launched(T0 + 5 * MIN),
        False,
        T0 + 6 * MIN,
        None,
        False,
        T0 + 10 * MIN,
        id="restart-after-launch",
    ),
    pytest.param(
        record(),
        launched(T0),
        False,
        T0 + 62 * MIN,
        T0 + 60 * MIN,
        True,
        T0 + 65 * MIN,
        id="missed-latest-once",
    ),
    pytest.param(
        record(Periodic(cron="*/5 * * * *", prohibit_overlap=True)),
        None,
        True,
        T0 + 5 * MIN,
        T0 + 5 * MIN,
        False,
        T0 + 10 * MIN,
        id="overlap-skipped",
    ),
    pytest.param(record(), None, True, T0 + 5 * MIN, T0 + 5 * MIN, True, T0 + 10 * MIN, id="overlap-allowed"),
    pytest.param(
        record(Periodic(cron="*/5 * * * *", enabled=False)),
        None,
        False,
        T0 + 9 * MIN,
        None,
        False,
        None,
        id="disabled",
    ),
    pytest.param(record(stop=True), None, False, T0 + 9 * MIN, None, False, None, id="stopped"),
    pytest.param(None, None, False, T0, None, False, None, id="purged"),
    pytest.param(
        record(submit=T0 + 7 * MIN),
        launched(T0),
        False,
        T0 + 8 * MIN,
        None,
        False,
        T0 + 10 * MIN,
        id="new-version-no-replay",
    ),
]


@pytest.mark.parametrize(("parent", "last", "active", "now", "launch", "child", "wake"), CASES)
def test_decide(
    parent: Versioned[JobRecord] | None,
    last: Versioned[ChildLaunch] | None,
    active: bool,
    now: float,
    launch: float | None,
    child: bool,
    wake: float | None,
) -> None:
    plan = decide(KEYS, parent, last, child_active=active, now=now)
    assert plan.launch == launch
    assert (plan.child is not None) == child
    assert plan.wake_at == wake
    assert (plan.txn is not None) == (launch is not None)


def test_a_launch_is_one_guarded_transaction_with_the_child() -> None:
    parent, last = record(), launched(T0)
    plan = decide(KEYS, parent, last, child_active=False, now=T0 + 5 * MIN)
    assert plan.txn is not None
    assert plan.child is not None
    child = plan.child.record
    assert child.id == f"report/periodic-{int(T0 + 5 * MIN)}"
    assert child.job.parent_id == "report"
    assert child.job.periodic is None
    assert child.job.name == child.id
    compares = dict(plan.txn.compares)
    assert compares[parent.key] == 7
    assert compares[last.key] == 9
    assert compares[KEYS.job("default", child.id)] == 0  # the child must not exist yet
    puts = {k for k, _, _ in plan.txn.puts}
    assert {last.key, KEYS.job("default", child.id), KEYS.eval(plan.child.evaluation.id)} <= puts


def test_the_first_launch_requires_no_launch_record() -> None:
    plan = decide(KEYS, record(), None, child_active=False, now=T0 + 5 * MIN)
    assert plan.txn is not None
    assert dict(plan.txn.compares)[KEYS.child_launch("default", "report")] == 0


def test_a_skipped_launch_writes_only_the_launch_record() -> None:
    parent = replace(
        record(),
        value=replace(
            record().value,
            job=replace(record().value.job, periodic=Periodic(cron="*/5 * * * *", prohibit_overlap=True)),
        ),
    )
    plan = decide(KEYS, parent, None, child_active=True, now=T0 + 5 * MIN)
    assert plan.txn is not None
    assert [k for k, _, _ in plan.txn.puts] == [KEYS.child_launch("default", "report")]
