"""Disconnected clients against a real etcd, with the real liveness and scheduler
controllers (node agents simulated by their records, heartbeats and statuses): a node
whose heartbeat lease expires while it runs a group with a `disconnect` window is
`disconnected`, its allocations `unknown` and replaced; when it heartbeats again one copy
of each survives; when the window passes first, the originals are lost and the node down."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

from controllers.liveness.controller import LivenessController
from controllers.scheduler.controller import SchedulerController
from reconciler.model.job import SECOND, DisconnectStrategy, Job, ReconcileOption, ReschedulePolicy
from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, Node, NodeStatus
from reconciler.store import Store
from tests.scheduler.factories import mock_job
from tests.scheduler.sim import add_node, allocs, submit
from tests.waiting import wait_for


@pytest.fixture
def controllers(store: Store) -> Iterator[tuple[SchedulerController, LivenessController]]:
    sched = SchedulerController(store)
    live = LivenessController(store, grace=1.0, sweep_every=0.2)
    sched.start()
    live.start()
    yield sched, live
    live.stop()
    sched.stop()


def _job(lost_after: float, reconcile: ReconcileOption = ReconcileOption.KEEP_ORIGINAL) -> Job:
    job = mock_job(2)
    g = dataclasses.replace(
        job.task_groups[0],
        disconnect=DisconnectStrategy(lost_after=int(lost_after * SECOND), reconcile=reconcile),
        reschedule=ReschedulePolicy(delay=0, delay_function="constant"),
    )
    return dataclasses.replace(job, task_groups=[g])


def _node_status(store: Store, nid: str) -> str:
    got = store.get(store.keys.node(nid), Node)
    assert got is not None
    return got.value.status


def _report_running(store: Store, items: list[Allocation]) -> None:
    """What each node agent would write once its tasks run."""
    for a in items:
        st = AllocStatus(a.id, a.node_id, client_status=ClientStatus.RUNNING, modify_time=time.time())
        store.put(store.keys.alloc_status(a.id), st)


def _placed_on_n1(store: Store, job: Job) -> list[Allocation]:
    _, lease1 = add_node(store, "n1")
    submit(store, job)
    wait_for(lambda: len(allocs(store, "web")) == 2, message="placed on n1")
    originals = allocs(store, "web")
    _report_running(store, originals)
    add_node(store, "n2")
    lease1.revoke()  # type: ignore[attr-defined]  # n1 is cut off: its heartbeat lease ends
    return originals


def test_a_disconnected_node_reconnects_and_one_copy_of_each_survives(
    store: Store, controllers: tuple[SchedulerController, LivenessController]
) -> None:
    originals = _placed_on_n1(store, _job(lost_after=300))
    wait_for(lambda: _node_status(store, "n1") == NodeStatus.DISCONNECTED, message="n1 disconnected")
    wait_for(lambda: len(allocs(store, "web")) == 4, message="replacements placed")
    by_id = {a.id: a for a in allocs(store, "web")}
    assert all(by_id[a.id].client_status == ClientStatus.UNKNOWN for a in originals)
    replacements = [a for a in by_id.values() if a.previous_allocation]
    assert sorted(a.node_id for a in replacements) == ["n2", "n2"]
    _report_running(store, replacements)
    # n1 heartbeats again: its agent registers anew (ready) on a new lease
    node = store.get(store.keys.node("n1"), Node)
    assert node is not None
    back = dataclasses.replace(node.value, status=NodeStatus.READY, modify_time=time.time())
    store.put(store.keys.node("n1"), back)
    store.put(store.keys.heartbeat("n1"), "alive", lease=store.lease(30).id)
    wait_for(lambda: len(allocs(store, "web")) == 2, message="one copy of each index")
    kept = allocs(store, "web")
    assert sorted(a.id for a in kept) == sorted(a.id for a in originals)  # keep_original
    assert all(a.client_status is None for a in kept)
    stopped = {a.id: a for a in allocs(store, "web", live=False)}
    assert all(stopped[r.id].desired_status == "stop" for r in replacements)


def test_past_lost_after_the_originals_are_lost_and_the_node_down(
    store: Store, controllers: tuple[SchedulerController, LivenessController]
) -> None:
    originals = _placed_on_n1(store, _job(lost_after=1))
    wait_for(lambda: _node_status(store, "n1") == NodeStatus.DOWN, timeout=30, message="n1 down")
    wait_for(
        lambda: all(
            a.client_status == ClientStatus.LOST
            for a in allocs(store, "web", live=False)
            if a.node_id == "n1"
        ),
        timeout=30,
        message="the originals lost",
    )
    live = allocs(store, "web")
    assert sorted(a.index for a in live) == [0, 1]
    assert {a.node_id for a in live} == {"n2"}
    assert all(a.client_status is None for a in live)
    assert len([a for a in allocs(store, "web", live=False) if a.node_id == "n1"]) == len(originals)
