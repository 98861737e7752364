"""The scheduler and liveness controllers against a real etcd with simulated nodes."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter

import pytest

from controllers.liveness.controller import LivenessController
from controllers.scheduler.controller import SchedulerController
from reconciler.model.job import Port
from reconciler.model.objects import Allocation, Evaluation, JobRecord, Node
from reconciler.store import Store
from tests.scheduler.factories import mock_job, with_count
from tests.scheduler.sim import add_node, allocs, get_eval, submit, wait_for


def _indexes(items: list[Allocation]) -> list[int]:
    return sorted(a.index for a in items)


def test_scale_up_and_down(store: Store, scheduler: SchedulerController) -> None:
    add_node(store, "n1")
    add_node(store, "n2")
    job = mock_job(3)
    ev = submit(store, job)
    wait_for(lambda: get_eval(store, ev).status == "complete", message="eval complete")
    assert _indexes(allocs(store, "web")) == [0, 1, 2]
    assert get_eval(store, ev).placed
    assert len(get_eval(store, ev).placed) == 3
    submit(store, with_count(job, 6), version=1)
    wait_for(lambda: len(allocs(store, "web")) == 6, message="scale up to 6")
    assert all(a.job_version == 1 for a in allocs(store, "web")), "count change is an in-place update"
    submit(store, with_count(job, 2), version=2)
    wait_for(lambda: len(allocs(store, "web")) == 2, message="scale down to 2")
    assert _indexes(allocs(store, "web")) == [0, 1]
    submit(store, with_count(job, 2), version=3, stop=True)
    wait_for(lambda: not allocs(store, "web"), message="job stopped")


def test_port_collision_blocks_then_a_new_node_unblocks(store: Store, scheduler: SchedulerController) -> None:
    add_node(store, "n1")
    ev = submit(store, mock_job(2, ports=[Port("http", static=8080)]))
    wait_for(lambda: get_eval(store, ev).status == "blocked", message="eval blocked")
    e = get_eval(store, ev)
    assert len(allocs(store, "web")) == 1
    assert e.queued_allocations == {"web": 1}
    assert e.failed_tg_allocs["web"]["dimension_exhausted"] == {
        "network: reserved port collision http=8080": 1
    }
    add_node(store, "n2")
    wait_for(lambda: get_eval(store, ev).status == "complete", message="eval unblocked")
    assert sorted(a.node_id for a in allocs(store, "web")) == ["n1", "n2"]


def test_dynamic_ports_never_collide(store: Store, scheduler: SchedulerController) -> None:
    add_node(store, "n1", min_dynamic_port=21000, max_dynamic_port=21040)
    e1 = submit(store, mock_job(8, id="a", ports=[Port("http"), Port("admin")]))
    e2 = submit(store, mock_job(8, id="b", ports=[Port("http"), Port("admin")]))
    for e in (e1, e2):
        wait_for(lambda e=e: get_eval(store, e).status == "complete", message="evals complete")
    ports = [p.value for j in ("a", "b") for a in allocs(store, j) for p in a.ports]
    assert len(ports) == 32
    assert len(set(ports)) == 32
    assert all(21000 <= p <= 21040 for p in ports)


def test_lost_node_allocations_move(store: Store, scheduler: SchedulerController) -> None:
    _, lease1 = add_node(store, "n1")
    ev = submit(store, mock_job(2))
    wait_for(lambda: get_eval(store, ev).status == "complete", message="placed")
    assert {a.node_id for a in allocs(store, "web")} == {"n1"}
    add_node(store, "n2")
    live = LivenessController(store, grace=0.0, sweep_every=0.2)
    live.start()
    try:
        lease1.revoke()  # the node agent died: its heartbeat vanishes with the lease
        wait_for(lambda: store.get(store.keys.node("n1"), Node).value.status == "down", message="node down")
        wait_for(lambda: {a.node_id for a in allocs(store, "web")} == {"n2"}, message="allocs moved")
    finally:
        live.stop()
    old = [a for a in allocs(store, "web", live=False) if a.node_id == "n1"]
    assert len(old) == 2
    assert all(a.client_status == "lost" and a.desired_status == "stop" for a in old)
    assert _indexes(allocs(store, "web")) == [0, 1]
    evals, _ = store.list(store.keys.evals, Evaluation)
    assert any(e.value.triggered_by == "node-update" and e.value.status == "complete" for e in evals)


def test_two_schedulers_never_double_place(store: Store) -> None:
    for i in range(3):
        add_node(store, f"n{i}", cpu=100_000, memory=100_000)
    a, b = SchedulerController(store), SchedulerController(store)
    a.start()
    b.start()
    try:
        jobs = [mock_job(40, id=f"j{i}") for i in range(4)]
        for j in jobs:
            for _ in range(3):  # several evaluations: both replicas work on every job
                submit(store, j)
        for j in jobs:
            wait_for(lambda j=j: len(allocs(store, j.id)) >= 40, message=f"{j.id} placed")
        wait_for(lambda: a.queue.idle() and b.queue.idle(), message="schedulers idle")
        for j in jobs:
            live = allocs(store, j.id)
            assert len(live) == 40, f"{j.id} has {len(live)} live allocations"
            assert max(Counter(x.index for x in live).values()) == 1
    finally:
        a.stop()
        b.stop()


def test_failed_allocation_is_rescheduled_after_its_delay(
    store: Store, scheduler: SchedulerController
) -> None:
    from reconciler.model.job import ReschedulePolicy
    from reconciler.model.objects import AllocStatus

    add_node(store, "n1")
    job = mock_job(1)
    job.task_groups[0].reschedule = ReschedulePolicy(
        delay=200_000_000, delay_function="constant", unlimited=True
    )
    ev = submit(store, job)
    wait_for(lambda: get_eval(store, ev).status == "complete", message="placed")
    (first,) = allocs(store, "web")
    import time

    store.put(
        store.keys.alloc_status(first.id),
        AllocStatus(alloc_id=first.id, node_id="n1", client_status="failed", modify_time=time.time()),
    )
    wait_for(
        lambda: any(a.previous_allocation == first.id for a in allocs(store, "web")), message="rescheduled"
    )
    new = next(a for a in allocs(store, "web") if a.previous_allocation == first.id)
    assert new.index == 0
    assert len(new.reschedule_attempts) == 1
    old = next(a for a in allocs(store, "web", live=False) if a.id == first.id)
    assert old.next_allocation == new.id


def test_destructive_update_honours_max_parallel(store: Store, scheduler: SchedulerController) -> None:
    from reconciler.model.job import Resources, UpdateStrategy
    from reconciler.model.objects import AllocStatus

    add_node(store, "n1", cpu=100_000, memory=100_000)
    job = dataclasses.replace(mock_job(3), update=UpdateStrategy(max_parallel=1))
    ev = submit(store, job)
    wait_for(lambda: get_eval(store, ev).status == "complete", message="placed")
    v1 = dataclasses.replace(job, task_groups=[dataclasses.replace(job.task_groups[0])])
    v1.task_groups[0].tasks = [dataclasses.replace(job.task_groups[0].tasks[0], resources=Resources(cpu=200))]
    submit(store, v1, version=1)
    wait_for(lambda: sum(a.job_version == 1 for a in allocs(store, "web")) == 1, message="first replacement")
    assert len(allocs(store, "web")) == 3
    for _ in range(2):
        current = allocs(store, "web")
        n = sum(a.job_version == 1 for a in current)
        for a in current:
            if a.job_version == 1:
                store.put(
                    store.keys.alloc_status(a.id),
                    AllocStatus(alloc_id=a.id, node_id="n1", client_status="running"),
                )
        wait_for(
            lambda n=n: sum(a.job_version == 1 for a in allocs(store, "web")) == n + 1,
            message="next replacement",
        )
    assert all(a.job_version == 1 for a in allocs(store, "web"))


def test_pipelined_writer_commits_in_guarded_batches(store: Store) -> None:
    from controllers.scheduler.writer import PER_TXN, Guard, PipelinedWriter, guard_key
    from tests.scheduler.factories import mock_alloc

    job = mock_job(300)
    submit(store, job)
    rec = store.get(store.keys.job("default", "web"), JobRecord)
    assert rec is not None
    gk = guard_key(store, "default", "web")
    w = PipelinedWriter(store, Guard(gk, 0, store.keys.job("default", "web"), rec.mod_revision))
    items = [(store.keys.alloc(f"x{i}"), mock_alloc(job, i, id=f"x{i}")) for i in range(300)]
    w.feed(items[: PER_TXN + 10])
    w.feed(items[PER_TXN + 10 :])
    assert w.finish([], [])
    assert len(allocs(store, "web")) == 300
    # a second writer that read the guard before the first wrote loses at its first batch
    stale = PipelinedWriter(store, Guard(gk, 0, store.keys.job("default", "web"), rec.mod_revision))
    stale.feed([(store.keys.alloc("y0"), mock_alloc(job, 0, id="y0"))])
    assert not stale.finish([], [])
    assert store.get(store.keys.alloc("y0"), Allocation) is None


def test_purged_job_stops_its_allocations(store: Store, scheduler: SchedulerController) -> None:
    from reconciler.model.ids import new_id
    from reconciler.store import Txn

    add_node(store, "n1")
    ev = submit(store, mock_job(2))
    wait_for(lambda: get_eval(store, ev).status == "complete", message="placed")
    # a purge: the job record goes and the evaluation comes in one transaction
    dereg = Evaluation(
        id=new_id(), namespace="default", job_id="web", triggered_by="job-deregister", create_time=time.time()
    )
    store.commit(Txn().delete(store.keys.job("default", "web")).put(store.keys.eval(dereg.id), dereg))
    wait_for(lambda: not allocs(store, "web"), message="allocations stopped")
    assert get_eval(store, dereg.id).status == "complete"


def test_leader_elected_scheduler_hands_over(store: Store) -> None:
    from controllers.scheduler.controller import SchedulerService, run_scheduler

    add_node(store, "n1", cpu=100_000, memory=100_000)
    first = run_scheduler(store, "one", ttl=2)
    second = SchedulerService(store, "two", ttl=2)
    second.start()
    try:
        wait_for(lambda: first.controller is not None or second.controller is not None, message="a leader")
        leader, follower = (first, second) if first.controller is not None else (second, first)
        assert follower.controller is None
        ev = submit(store, mock_job(3))
        wait_for(lambda: get_eval(store, ev).status == "complete", message="placed by the leader")
        leader.stop()
        wait_for(lambda: follower.controller is not None, timeout=15, message="takeover")
        ev2 = submit(store, with_count(mock_job(3), 5), version=1)
        wait_for(lambda: get_eval(store, ev2).status == "complete", message="placed by the new leader")
        live = allocs(store, "web")
        assert sorted(a.index for a in live) == [0, 1, 2, 3, 4]
    finally:
        first.stop()
        second.stop()


def test_a_plan_that_lost_the_race_raises_conflict(store: Store) -> None:
    from controllers.scheduler.decide import decide
    from controllers.scheduler.writer import Guard, PipelinedWriter, guard_key
    from reconciler.store import Conflict
    from tests.scheduler.factories import mock_node

    job = mock_job(2)
    submit(store, job)
    rec = store.get(store.keys.job("default", "web"), JobRecord)
    assert rec is not None
    gk = guard_key(store, "default", "web")
    store.put(gk, "another scheduler's plan")  # written after our (stale) read of the guard
    c = SchedulerController(store)
    d = decide(job, 0, [], [], {}, {"n1": mock_node("n1")}, eval_id="e1", now=time.time())
    writer = PipelinedWriter(store, Guard(gk, 0, store.keys.job("default", "web"), rec.mod_revision))
    writer.feed([(store.keys.alloc(a.id), a) for a in d.new_allocs])
    assert len(d.new_allocs) == 2
    with pytest.raises(Conflict):
        c._commit("default/web", writer, d, [], [])
    assert c.stats["conflicts"] == 1
    assert allocs(store, "web") == []
