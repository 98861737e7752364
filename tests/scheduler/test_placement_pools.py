"""distinct_property and node pools through `decide` on in-memory nodes: the allocations a
plan places count against distinct_property as the existing ones do, and a job is placed
only on the nodes of its pool."""

from __future__ import annotations

from collections import Counter

import pytest

from controllers.scheduler.decide import decide
from reconciler.model.job import Constraint, Job
from reconciler.model.objects import Allocation, AllocStatus, Node
from tests.scheduler.factories import mock_alloc, mock_job, mock_node, mock_status, nodes_map

NOW = 1000.0
RACK = "${meta.rack}"


def _racks(*racks: str) -> dict[str, Node]:
    """One node per entry, `n<i>` with `meta.rack` (none for "")."""
    return nodes_map(*(mock_node(f"n{i}", meta={"rack": r} if r else {}) for i, r in enumerate(racks)))


def _decide(
    job: Job, nodes: dict[str, Node], allocs: list[Allocation] | None = None, statuses: dict | None = None
):
    allocs = allocs or []
    return decide(job, 0, allocs, allocs, statuses or {}, nodes, eval_id="e1", now=NOW)


def _per_rack(nodes: dict[str, Node], allocs: list[Allocation]) -> Counter[str]:
    return Counter(nodes[a.node_id].meta.get("rack", "") for a in allocs)


def _distinct(value: str = "") -> Constraint:
    return Constraint(RACK, "distinct_property", value)


@pytest.mark.parametrize(
    ("count", "value", "racks", "placed", "queued"),
    [
        (3, "", ("r1", "r1", "r2", "r2"), {"r1": 1, "r2": 1}, 1),
        (4, "2", ("r1", "r1", "r2", "r2"), {"r1": 2, "r2": 2}, 0),
        (5, "2", ("r1", "r1", "r1", "r2"), {"r1": 2, "r2": 2}, 1),
    ],
    ids=["one per rack by default", "two per rack", "a rack's spare nodes do not help"],
)
def test_job_level_distinct_property_counts_this_plans_placements(
    count: int, value: str, racks: tuple[str, ...], placed: dict[str, int], queued: int
) -> None:
    nodes = _racks(*racks)
    d = _decide(mock_job(count, constraints=[_distinct(value)]), nodes)
    assert _per_rack(nodes, d.new_allocs) == placed
    assert d.queued.get("web", 0) == queued


def test_the_failure_metric_names_the_property_value_and_its_use() -> None:
    nodes = _racks("r1", "r1", "")
    d = _decide(mock_job(2, constraints=[_distinct()]), nodes)
    assert len(d.new_allocs) == 1
    metric = d.failed["web"]
    assert metric.constraint_filtered == {
        "distinct_property: ${meta.rack}=r1 used by 1 allocs": 2,
        'missing property "${meta.rack}"': 1,
    }
    assert metric.nodes_in_pool == 3


def test_existing_live_allocations_count_and_finished_ones_do_not() -> None:
    nodes = _racks("r1", "r2", "r3")
    job = mock_job(3, constraints=[_distinct()])
    running = mock_alloc(job, 0, node="n0", id="a0")
    done = mock_alloc(job, 1, node="n1", id="a1")
    statuses: dict[str, AllocStatus] = {"a1": mock_status(done, "complete")}
    d = _decide(job, nodes, [running, done], statuses)
    assert _per_rack(nodes, d.new_allocs) == {"r2": 1, "r3": 1}


def test_job_level_counts_every_group_and_group_level_only_its_own() -> None:
    nodes = _racks("r1", "r1", "r2", "r2")
    job = mock_job(1, constraints=[_distinct()])
    other = mock_job(1, group="api").task_groups[0]
    job.task_groups.append(other)
    d = _decide(job, nodes)
    assert len(d.new_allocs) == 2
    assert _per_rack(nodes, d.new_allocs) == {"r1": 1, "r2": 1}

    job = mock_job(2)
    job.task_groups.append(mock_job(2, group="api").task_groups[0])
    for g in job.task_groups:
        g.constraints = [_distinct()]
    d = _decide(job, nodes)
    by_group = Counter((a.task_group, nodes[a.node_id].meta["rack"]) for a in d.new_allocs)
    assert by_group == {("web", "r1"): 1, ("web", "r2"): 1, ("api", "r1"): 1, ("api", "r2"): 1}


def _pools(*pools: str) -> dict[str, Node]:
    return nodes_map(*(mock_node(f"n{i}", node_pool=p) for i, p in enumerate(pools)))


@pytest.mark.parametrize(
    ("job_pool", "expected"),
    [("default", {"n0", "n1"}), ("prod", {"n2", "n3"}), ("all", {"n0", "n1", "n2", "n3"})],
    ids=["default pool", "a named pool", "all means every node"],
)
def test_a_job_is_placed_only_on_the_nodes_of_its_pool(job_pool: str, expected: set[str]) -> None:
    nodes = _pools("default", "default", "prod", "prod")
    d = _decide(mock_job(8, node_pool=job_pool, constraints=[]), nodes)
    assert {a.node_id for a in d.new_allocs} == expected
    assert len(d.new_allocs) == 8


def test_a_pool_without_nodes_places_nothing_and_counts_no_node() -> None:
    d = _decide(mock_job(2, node_pool="gpu"), _pools("default", "prod"))
    assert not d.new_allocs
    assert d.failed["web"].nodes_in_pool == 0
    assert d.failed["web"].nodes_evaluated == 0


def test_a_system_job_runs_on_every_node_of_its_pool_only() -> None:
    nodes = _pools("default", "prod", "prod")
    d = _decide(mock_job(1, type="system", node_pool="prod"), nodes)
    assert sorted(a.node_id for a in d.new_allocs) == ["n1", "n2"]
