"""The group's `ephemeral_disk` in placement: `size` is a dimension like CPU and memory, and a
replacement of a `sticky` (or `migrate`) group goes back to its previous allocation's node."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from controllers.scheduler.decide import Decision, decide
from controllers.scheduler.feasibility import dynamic_filter
from controllers.scheduler.state import NodeState
from controllers.scheduler.update_policy import always_destructive
from reconciler.model.job import EphemeralDisk, Job
from reconciler.model.objects import Allocation, ClientStatus, Node, NodeResources
from tests.scheduler.factories import mock_alloc, mock_job, mock_node, mock_status, nodes_map

NOW = 1000.0


def _disk_job(count: int, size: int, *, sticky: bool = False, migrate: bool = False) -> Job:
    job = mock_job(count)
    g = dataclasses.replace(job.task_groups[0], ephemeral_disk=EphemeralDisk(size, sticky, migrate))
    return dataclasses.replace(job, task_groups=[g])


def _node(id: str, disk: int, reserved: int = 0, **kw: Any) -> Node:
    n = mock_node(id, **kw)
    n.resources = NodeResources(cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=disk)
    n.reserved = NodeResources(disk_mb=reserved)
    return n


@pytest.mark.parametrize(
    ("why", "nodes", "used", "size", "count", "placed", "exhausted"),
    [
        ("fits", [("n1", 1000, 0)], {}, 300, 3, {"n1": 3}, 0),
        ("the fourth does not fit", [("n1", 1000, 0)], {}, 300, 4, {"n1": 3}, 1),
        ("the reserved disk is kept", [("n1", 1000, 500)], {}, 300, 2, {"n1": 1}, 1),
        ("running allocations count", [("n1", 1000, 0)], {"n1": 2}, 300, 2, {"n1": 1}, 1),
        ("a bigger disk goes elsewhere", [("n1", 400, 0), ("n2", 4000, 0)], {}, 1000, 2, {"n2": 2}, 0),
        ("no node has room", [("n1", 400, 0), ("n2", 500, 0)], {}, 1000, 1, {}, 2),
        ("a node reporting no disk is not checked", [("n1", 0, 0)], {}, 300, 5, {"n1": 5}, 0),
    ],
)
def test_disk_is_a_scheduling_dimension(
    why: str,
    nodes: list[tuple[str, int, int]],
    used: dict[str, int],
    size: int,
    count: int,
    placed: dict[str, int],
    exhausted: int,
) -> None:
    job = _disk_job(count, size)
    other = _disk_job(1, 300)
    other = dataclasses.replace(other, id="other")
    running = [mock_alloc(other, i, node=nid, disk=300) for nid, k in used.items() for i in range(k)]
    d = decide(job, 0, [], running, {}, nodes_map(*(_node(*n) for n in nodes)), eval_id="e1", now=NOW)
    got: dict[str, int] = {}
    for a in d.new_allocs:
        assert a.disk == size, why
        got[a.node_id] = got.get(a.node_id, 0) + 1
    assert got == placed, why
    if exhausted:
        assert d.failed["web"].dimension_exhausted.get("disk") == exhausted, why
    else:
        assert not d.failed, why


def test_dynamic_filter_names_the_disk_dimension() -> None:
    st = NodeState.of(_node("n1", 1000, 100))
    job = _disk_job(1, 300)
    g = job.task_groups[0]
    assert dynamic_filter(job.id, g, st, 1, 1, (False, False), disk=901) == ("dimension", "disk")
    assert dynamic_filter(job.id, g, st, 1, 1, (False, False), disk=900) is None  # 1000 less 100 reserved


def _replace(job: Job, prev: Allocation, nodes: dict[str, Node]) -> Decision:
    return decide(
        job, 1, [prev], [prev], {}, nodes, eval_id="e-replace", now=NOW, update_fn=always_destructive
    )


@pytest.mark.parametrize(
    ("why", "sticky", "migrate", "prev_node_change", "lands_on_prev"),
    [
        ("sticky goes back", True, False, {}, True),
        ("migrate implies sticky", False, True, {}, True),
        ("a drained node is not preferred", True, False, {"drain": True}, False),
        ("an ineligible node is not preferred", True, False, {"eligibility": "ineligible"}, False),
        ("a node whose disk is now full is not preferred", True, False, {"disk": 100}, False),
    ],
)
def test_a_sticky_replacement_prefers_the_previous_node(
    why: str, sticky: bool, migrate: bool, prev_node_change: dict[str, object], lands_on_prev: bool
) -> None:
    job = _disk_job(1, 300, sticky=sticky, migrate=migrate)
    nodes = nodes_map(*(_node(f"n{i}", 10_000) for i in range(16)))
    prev_node = nodes["n7"]
    disk = prev_node_change.pop("disk", None)
    for k, v in prev_node_change.items():
        setattr(prev_node, k, v)
    if disk is not None:
        prev_node.resources.disk_mb = disk
    prev = mock_alloc(job, 0, node="n7", disk=300)
    d = _replace(job, prev, nodes)
    assert len(d.new_allocs) == 1, why
    new = d.new_allocs[0]
    assert new.previous_allocation == prev.id, why
    assert (new.node_id == "n7") == lands_on_prev, why


def test_without_sticky_the_previous_node_is_not_preferred() -> None:
    """The same replacement without a sticky disk is ranked as usual: over many eval ids it
    does not always land where its predecessor ran."""
    job = _disk_job(1, 300)
    nodes = nodes_map(*(_node(f"n{i}", 10_000) for i in range(16)))
    prev = mock_alloc(job, 0, node="n7", disk=300)
    landed = {
        decide(job, 1, [prev], [prev], {}, nodes, eval_id=f"e{i}", now=NOW, update_fn=always_destructive)
        .new_allocs[0]
        .node_id
        for i in range(20)
    }
    assert landed != {"n7"}


def test_a_sticky_reschedule_goes_back_despite_the_penalty() -> None:
    """A failed allocation's replacement normally avoids its node; with a sticky disk the
    previous node is tried first (Nomad's preferred node wins over the reschedule penalty)."""
    job = _disk_job(1, 300, sticky=True)
    nodes = nodes_map(*(_node(f"n{i}", 10_000) for i in range(8)))
    prev = mock_alloc(job, 0, node="n3", disk=300)
    statuses = {prev.id: mock_status(prev, ClientStatus.FAILED, at=NOW - 3600)}
    d = decide(job, 0, [prev], [prev], statuses, nodes, eval_id="e-r", now=NOW)
    assert [a.node_id for a in d.new_allocs] == ["n3"]
