"""Preemption against a real etcd: the scheduler evicting a low-priority job only when the
scheduler configuration lets the service scheduler preempt, the dry-run plan listing what
it would preempt, and `job plan` printing it through the API as Nomad does. The pure choice
and placement are in test_preemption.py."""

from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner

from controllers.scheduler.controller import SchedulerController
from controllers.scheduler.plan import plan_job
from reconciler.cli.client import ApiClient
from reconciler.cli.main import cli
from reconciler.model.evals import new_eval
from reconciler.model.job import Job
from reconciler.model.objects import Allocation, DesiredStatus, EvalStatus, Evaluation, JobRecord
from reconciler.model.scheduler_config import PreemptionConfig, SchedulerConfig
from reconciler.ops.operator import get_scheduler_config, set_scheduler_config
from reconciler.store import Store
from tests.scheduler.factories import mock_alloc, mock_job
from tests.scheduler.sim import add_node, allocs, get_eval, wait_for

# -- the scheduler against a real etcd --------------------------------------------------------


def _submit(store: Store, job: Job) -> str:
    """A job and its register evaluation carrying the job's priority (as ops.jobs writes it)."""
    rec = JobRecord(namespace=job.namespace, id=job.id, version=0, job=job, spec_hash="0")
    store.put(store.keys.job_version(job.namespace, job.id, 0), rec)
    store.put(store.keys.job(job.namespace, job.id), rec)
    ev = new_eval(job.namespace, job.id, "job-register", now=time.time(), record=rec)
    store.put(store.keys.eval(ev.id), ev)
    return ev.id


def test_a_higher_priority_job_preempts_on_a_full_node_only_when_enabled(
    store: Store, scheduler: SchedulerController
) -> None:
    add_node(store, "n1", cpu=1000, memory=1024)
    low_ev = _submit(store, mock_job(2, id="low", cpu=500, memory=256, priority=20))
    wait_for(lambda: get_eval(store, low_ev).status == "complete", message="low placed")
    assert len(allocs(store, "low")) == 2
    # Nomad's default: the service scheduler does not preempt
    assert not get_scheduler_config(store).config.preemption_config.service_scheduler_enabled
    high_ev = _submit(store, mock_job(1, id="high", cpu=500, memory=256, priority=80))
    wait_for(lambda: get_eval(store, high_ev).status == "blocked", message="high blocked without preemption")
    assert not allocs(store, "high")
    assert len(allocs(store, "low")) == 2
    # turned on, the blocked job is looked at again and evicts one low allocation
    on = SchedulerConfig(preemption_config=PreemptionConfig(service_scheduler_enabled=True))
    assert set_scheduler_config(store, on) is not None
    wait_for(lambda: len(allocs(store, "high")) == 1, message="high placed by preemption")
    (placed,) = allocs(store, "high")
    everything = allocs(store, "low", live=False)
    evicted = [a for a in everything if a.desired_status == DesiredStatus.EVICT]
    assert len(evicted) == 1
    assert len(allocs(store, "low")) == 1
    assert evicted[0].desired_description == f"Preempted by alloc ID {placed.id}"
    assert evicted[0].preempted_by_allocation == placed.id
    assert placed.preempted_allocations == [evicted[0].id]
    wait_for(lambda: get_eval(store, high_ev).status == "complete", message="high eval complete")

    # the preempted job got an evaluation of its own and, with no room left, is blocked
    def low_blocked() -> bool:
        evals, _ = store.list(store.keys.evals, Evaluation)
        return any(
            e.value.job_id == "low"
            and e.value.triggered_by == "preemption"
            and e.value.status == EvalStatus.BLOCKED
            for e in evals
        )

    wait_for(low_blocked, message="low's preemption evaluation blocked")
    assert len(allocs(store, "low")) == 1, "the low job does not take its room back"


# -- the dry-run shows what it would preempt -------------------------------------------------

HIGH_HCL = """job "high" {
  datacenters = ["dc1"]
  priority    = 80
  group "web" {
    task "server" {
      driver = "raw_exec"
      config { command = "/bin/sleep" }
      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
"""


def _low_running(store: Store) -> list[Allocation]:
    """A priority-20 job filling node n1 (its allocations written directly, no scheduler)."""
    add_node(store, "n1", cpu=1000, memory=1024)
    low = mock_job(2, id="low", cpu=500, memory=256, priority=20)
    rec = JobRecord(namespace="default", id="low", version=0, job=low, spec_hash="0")
    store.put(store.keys.job("default", "low"), rec)
    placed = [mock_alloc(low, i, node="n1", cpu=500, memory=256) for i in range(2)]
    for a in placed:
        store.put(store.keys.alloc(a.id), a)
    return placed


def test_the_plan_lists_the_allocations_it_would_preempt(store: Store) -> None:
    placed = _low_running(store)
    high = mock_job(1, id="high", cpu=500, memory=256, priority=80)
    assert plan_job(store, high).preempted == []  # the service scheduler does not preempt by default
    set_scheduler_config(store, SchedulerConfig(PreemptionConfig(service_scheduler_enabled=True)))
    res = plan_job(store, high)
    (pre,) = res.preempted
    assert pre.id in {a.id for a in placed}
    assert res.to_nomad()["Annotations"]["PreemptedAllocs"] == [
        {"ID": pre.id, "Namespace": "default", "JobID": "low", "TaskGroup": "web", "JobType": "service"}
    ]
    assert not res.failed_tg_allocs
    assert all(a.desired_status == DesiredStatus.RUN for a in allocs(store, "low")), "a plan writes nothing"


def test_job_plan_prints_preemptions_as_nomad_does(api: ApiClient, store: Store, tmp_path: Path) -> None:
    placed = _low_running(store)
    set_scheduler_config(store, SchedulerConfig(PreemptionConfig(service_scheduler_enabled=True)))
    path = tmp_path / "high.nomad.hcl"
    path.write_text(HIGH_HCL)
    res = CliRunner().invoke(cli, ["--address", api.address, "job", "plan", str(path)])
    assert res.exit_code == 1, res.output
    lines = res.output.splitlines()
    at = lines.index("Preemptions:")
    assert lines[at + 2].split() == ["Alloc", "ID", "Job", "ID", "Task", "Group"]
    assert lines[at + 3].split()[1:] == ["low", "web"]
    assert lines[at + 3].split()[0] in {a.id for a in placed}
