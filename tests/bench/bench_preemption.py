"""Benchmark: one decision that must preempt for every placement, on a full cluster.

1,000 nodes (1,000 MHz, 1 GiB each) full with 10,000 allocations of a priority-20 job; a
priority-80 job of 1,000 instances three times their size. Each placement evicts three of
them. Run with `make bench` (or `pytest -s -o addopts="" tests/bench/bench_preemption.py`);
prints the time, asserts only the outcome. The figure is in docs/scheduler.md.
"""

from __future__ import annotations

import time

from controllers.scheduler.decide import decide
from controllers.scheduler.preempting import JobFacts
from reconciler.model.ids import EvalId, NodeId
from tests.scheduler.factories import mock_alloc, mock_job, mock_node


def test_a_full_cluster_preempts_for_1000_placements() -> None:
    nodes = {NodeId(f"n{i}"): mock_node(f"n{i}", cpu=1000, memory=1024) for i in range(1000)}
    low = mock_job(10000, id="low", cpu=100, memory=100, priority=20)
    running = [mock_alloc(low, i, node=f"n{i % 1000}", cpu=100, memory=100, id=f"l{i}") for i in range(10000)]
    high = mock_job(1000, id="high", cpu=300, memory=300, priority=80)
    facts = {("default", "low"): JobFacts(20, {"web": 1})}
    started = time.perf_counter()
    d = decide(high, 0, [], running, {}, nodes, eval_id=EvalId("e"), now=1.0, preempt=True, other_jobs=facts)
    took = time.perf_counter() - started
    print(f"\npreemption: {len(d.new_allocs)} placements, {len(d.preempted)} evictions in {took:.2f} s")
    assert len(d.new_allocs) == 1000
    assert len(d.preempted) == 3000
