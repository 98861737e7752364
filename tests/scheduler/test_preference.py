"""affinity and spread, as Nomad scores them: the pure scores (table-driven) and placements
decided end to end on in-memory nodes."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from controllers.scheduler.decide import decide
from controllers.scheduler.preference import (
    IMPLICIT,
    SpreadRule,
    affinity_score,
    spread_rules,
    spread_score,
)
from reconciler.model.job import Affinity, Job, Spread, SpreadTarget
from reconciler.model.objects import Node
from tests.scheduler.factories import mock_job, mock_node, nodes_map

DC = "${node.datacenter}"
NOW = 1000.0


def node(dc: str = "dc1", rack: str = "") -> Node:
    return mock_node(f"{dc}-{rack or 'x'}", dc=dc, meta={"rack": rack} if rack else {})


@pytest.mark.parametrize(
    ("affinities", "on", "score"),
    [
        pytest.param([Affinity(DC, "=", "dc1", 100)], node("dc1"), 1.0, id="match"),
        pytest.param([Affinity(DC, "=", "dc1", 100)], node("dc2"), 0.0, id="no-match"),
        pytest.param([Affinity(DC, "=", "dc1", -50)], node("dc1"), -1.0, id="anti-affinity"),
        pytest.param(
            [Affinity(DC, "=", "dc1", 50), Affinity("${meta.rack}", "=", "r1", 50)],
            node("dc1", "r2"),
            0.5,
            id="one-of-two",
        ),
        pytest.param(
            [Affinity(DC, "=", "dc1", 75), Affinity("${meta.rack}", "regexp", "r[0-9]", -25)],
            node("dc1", "r2"),
            0.5,
            id="weighted-sum",
        ),
        pytest.param([], node(), 0.0, id="none"),
    ],
)
def test_affinity_score(affinities: list[Affinity], on: Node, score: float) -> None:
    assert affinity_score(affinities, on) == pytest.approx(score)


def job_with(spreads: list[Spread], count: int = 4, **kw: object) -> Job:
    job = mock_job(count, **kw)  # type: ignore[arg-type]
    group = dataclasses.replace(job.task_groups[0], spreads=spreads)
    return dataclasses.replace(job, task_groups=[group])


def targets(**percent: int) -> list[SpreadTarget]:
    return [SpreadTarget(v, p) for v, p in percent.items()]


def test_spread_rules_give_the_rest_to_the_values_not_named() -> None:
    job = job_with([Spread(DC, 50, targets(dc1=50, dc2=25)), Spread("${meta.rack}", 150)], count=8)
    named, even = spread_rules(job, job.task_groups[0])
    assert named == SpreadRule(DC, 0.25, {"dc1": 4.0, "dc2": 2.0, IMPLICIT: 2.0})
    assert even == SpreadRule("${meta.rack}", 0.75, {})


HALF = SpreadRule(DC, 1.0, {"dc1": 2.0, "dc2": 2.0})


@pytest.mark.parametrize(
    ("rule", "used", "on", "score"),
    [
        pytest.param(HALF, {}, node("dc1"), 0.5, id="target-empty"),
        pytest.param(HALF, {"dc1": 1}, node("dc1"), 0.0, id="target-reached-by-this-one"),
        pytest.param(HALF, {"dc1": 2}, node("dc1"), -0.5, id="target-passed"),
        pytest.param(HALF, {"dc1": 2}, node("dc3"), -1.0, id="value-with-no-share"),
        pytest.param(
            SpreadRule(DC, 1.0, {"dc1": 3.0, IMPLICIT: 1.0}), {}, node("dc9"), 0.0, id="implicit-target"
        ),
        pytest.param(SpreadRule("${meta.rack}", 1.0, {}), {}, node(), -1.0, id="attribute-missing"),
        pytest.param(SpreadRule(DC, 1.0, {}), {}, node("dc1"), 0.0, id="even-nothing-placed"),
        pytest.param(SpreadRule(DC, 1.0, {}), {"dc1": 1}, node("dc2"), 1.0, id="even-unused-value"),
        pytest.param(SpreadRule(DC, 1.0, {}), {"dc1": 1, "dc2": 1}, node("dc1"), -1.0, id="even-all-even"),
        pytest.param(SpreadRule(DC, 1.0, {}), {"dc1": 2, "dc2": 1}, node("dc1"), -1.0, id="even-above-min"),
        pytest.param(SpreadRule(DC, 1.0, {}), {"dc1": 2, "dc2": 1}, node("dc2"), 1.0, id="even-the-min"),
    ],
)
def test_spread_score(rule: SpreadRule, used: dict[str, int], on: Node, score: float) -> None:
    assert spread_score([rule], [used], on) == pytest.approx(score)


def place(job: Job, *nodes: Node) -> Counter[str]:
    d = decide(job, 0, [], [], {}, nodes_map(*nodes), eval_id="e1", now=NOW)
    assert not d.failed
    return Counter(nodes_map(*nodes)[a.node_id].datacenter for a in d.new_allocs)


@pytest.mark.parametrize(
    ("spread", "count", "want"),
    [
        pytest.param(targets(dc1=50, dc2=50), 4, {"dc1": 2, "dc2": 2}, id="50-50"),
        pytest.param(targets(dc1=75, dc2=25), 4, {"dc1": 3, "dc2": 1}, id="75-25"),
        pytest.param(targets(dc1=100), 4, {"dc1": 4}, id="all-to-one"),
        pytest.param(targets(dc1=50), 4, {"dc1": 2, "dc2": 1, "dc3": 1}, id="the-rest-shared"),
        pytest.param([], 6, {"dc1": 2, "dc2": 2, "dc3": 2}, id="even"),
    ],
)
def test_spread_places_by_target(spread: list[SpreadTarget], count: int, want: dict[str, int]) -> None:
    job = job_with([Spread(DC, 50, spread)], count=count)
    assert dict(place(job, node("dc1"), node("dc2"), node("dc3"))) == want


def test_affinity_draws_instances_to_the_matching_node() -> None:
    plain = mock_job(4)
    drawn = dataclasses.replace(plain, affinities=[Affinity(DC, "=", "dc2", 100)])
    nodes = (node("dc1"), node("dc2"), node("dc3"))
    assert place(plain, *nodes)["dc2"] <= 2
    assert place(drawn, *nodes)["dc2"] >= 3
