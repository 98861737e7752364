"""What the periodic launcher does for one periodic job, decided purely (no I/O, `now` given).

The launch basis is the later of the last launch (the record `child_launch/<ns>/<job>`)
and the time the current version was submitted: launches due before the job (or its new
version) existed are not made, and launches missed while no launcher ran (the agent was
down) are made once, at the latest missed time, as Nomad's leader does when it restores its
periodic dispatcher. With `prohibit_overlap` and a child still pending or running, the due
launch is recorded as made without a child (Nomad skips it).
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model.objects import ChildLaunch, JobRecord
from reconciler.model.periodic import latest_due, next_launch
from reconciler.ops.jobs import Submission
from reconciler.ops.periodic import launch_ops
from reconciler.store import Keys, Txn, Versioned


@dataclass(frozen=True)
class Plan:
    """The writes of one reconcile (None: nothing is due) and when to look again."""

    txn: Txn | None = None
    launch: float | None = None  # the cron time launched (or skipped)
    child: Submission | None = None  # None with a launch: skipped for overlap
    wake_at: float | None = None  # the next launch time; None: the job launches no more


def launches(rec: JobRecord | None) -> bool:
    """Whether `rec` is a periodic job the launcher acts on."""
    return rec is not None and not rec.stop and rec.job.periodic is not None and rec.job.periodic.enabled


def decide(
    keys: Keys,
    parent: Versioned[JobRecord] | None,
    last: Versioned[ChildLaunch] | None,
    *,
    child_active: bool,
    now: float,
) -> Plan:
    """The plan for a periodic job: launch (or skip) the latest due time, wake at the next."""
    if parent is None or not launches(parent.value):
        return Plan()
    rec = parent.value
    periodic = rec.job.periodic
    assert periodic is not None  # launches() checked it
    basis = max(last.value.launch if last is not None else 0.0, rec.submit_time)
    due = latest_due(periodic, basis, now)
    if due is None:
        return Plan(wake_at=next_launch(periodic, basis))
    txn = Txn()
    skip = periodic.prohibit_overlap and child_active
    child = launch_ops(txn, keys, parent, last, due, now=now, skip=skip)
    return Plan(txn=txn, launch=due, child=child, wake_at=next_launch(periodic, due))
