"""What the deployment gate must never do, over generated rollouts (hypothesis):

- before promotion, no old allocation is stopped or replaced and canaries never exceed
  `canary`;
- the rollout never has more than `max_parallel` not-yet-healthy new allocations in flight
  because of this decision;
- a paused or failed deployment starts nothing new for the update;
- the group never runs more than `count` non-canary allocations once the result applies.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.scheduler.reconcile import reconcile
from controllers.scheduler.update_policy import always_destructive
from reconciler.model.objects import Allocation, DeploymentStatus
from tests.deployments.factories import deployment, job, new
from tests.scheduler.factories import mock_alloc, mock_node, nodes_map

NODES = nodes_map(mock_node("n1"))


@st.composite
def rollouts(draw: st.DrawFn) -> tuple[object, list[Allocation], object, int, int]:
    count = draw(st.integers(1, 8))
    max_parallel = draw(st.integers(1, 4))
    canary = draw(st.integers(0, 3))
    promoted = draw(st.booleans()) if canary else False
    status = draw(
        st.sampled_from([DeploymentStatus.RUNNING] * 3 + [DeploymentStatus.PAUSED, DeploymentStatus.FAILED])
    )
    j = job(count, canary=canary, max_parallel=max_parallel)
    allocs: list[Allocation] = []
    healthy: list[str] = []
    for i in range(count):
        state = draw(st.sampled_from(["old", "new-healthy", "new-pending"]))
        if state == "old":
            allocs += [mock_alloc(j, i, version=0, id=f"old{i}")]
        else:
            allocs.append(new(j, i))
            if state == "new-healthy":
                healthy.append(f"new{i}")
    placed_canaries = draw(st.integers(0, canary))
    for i in range(min(placed_canaries, count)):
        allocs.append(new(j, i, canary=True))
        if promoted or draw(st.booleans()):
            healthy.append(f"new{i}c")
    dep = deployment(canaries=canary, promoted=promoted, total=count, status=status, healthy=tuple(healthy))
    return j, allocs, dep, max_parallel, canary


def _not_healthy_new(allocs: list[Allocation], healthy: set[str]) -> int:
    return sum(1 for a in allocs if a.deployment_id and a.id not in healthy)


@settings(max_examples=400, deadline=None)
@given(rollouts())
def test_gate_properties(case: tuple[object, list[Allocation], object, int, int]) -> None:
    j, allocs, dep, max_parallel, canary = case
    r = reconcile(
        j,
        allocs,
        {},
        nodes=NODES,
        job_version=1,
        deployment=dep,
        now=0.0,  # type: ignore[arg-type]
        update_fn=always_destructive,
    )
    g = dep.task_groups["web"]  # type: ignore[attr-defined]
    canaries_placed = [p for p in r.place if p.canary]
    old_stopped = [s for s in r.stop if s.alloc.job_version == 0]
    if canary and not g.promoted:
        assert not old_stopped, "nothing old is replaced before promotion"
        assert not r.destructive_update, "nothing old is replaced before promotion"
        existing = sum(1 for a in allocs if a.canary)
        assert existing + len(canaries_placed) <= canary
    else:
        assert not canaries_placed
    if dep.status != DeploymentStatus.RUNNING:  # type: ignore[attr-defined]
        assert not r.destructive_update
        assert not canaries_placed
    healthy = set(dep.healthy_alloc_ids)  # type: ignore[attr-defined]
    before = _not_healthy_new(allocs, healthy)
    assert not r.destructive_update or before + len(r.destructive_update) <= max_parallel, (
        "max_parallel in flight"
    )
    stopped = {s.alloc.id for s in r.stop}
    held = canary and not g.promoted
    running = [a for a in allocs if a.id not in stopped and not (held and a.canary)]
    running += [p for p in r.place if not p.canary]
    assert len(running) <= j.task_groups[0].count, "never more than count once applied"  # type: ignore[attr-defined]
