"""Property: whatever happens to a job (scaling, nodes dying and joining, allocations failing,
time passing), repeated decisions never give two live allocations of a group one index,
never over-commit a node, never collide ports, and converge to `count` where capacity allows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.scheduler.decide import decide
from reconciler.model.job import Job, Port, ReschedulePolicy
from reconciler.model.objects import Allocation, AllocStatus, Node
from tests.scheduler.factories import mock_job, mock_node, with_count

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("scale"), st.integers(0, 12)),
        st.tuples(st.just("node_down"), st.integers(0, 5)),
        st.tuples(st.just("node_up"), st.integers(0, 5)),
        st.tuples(st.just("fail"), st.integers(0, 20)),
        st.tuples(st.just("run"), st.integers(0, 20)),
        st.tuples(st.just("wait"), st.integers(1, 120)),
    ),
    max_size=12,
)


def _live(a: Allocation, statuses: dict[str, AllocStatus]) -> bool:
    cs = a.client_status or (statuses[a.id].client_status if a.id in statuses else "pending")
    return a.desired_status == "run" and cs not in ("failed", "complete", "lost")


def _check(allocs: dict[str, Allocation], statuses: dict[str, AllocStatus], nodes: dict[str, Node]) -> None:
    live = [a for a in allocs.values() if _live(a, statuses)]
    dup = [k for k, v in Counter((a.task_group, a.index) for a in live).items() if v > 1]
    assert not dup, f"two live allocations share an index: {dup}"
    for nid, n in nodes.items():
        on = [a for a in live if a.node_id == nid]
        assert sum(a.cpu for a in on) <= n.resources.cpu_mhz
        assert sum(a.memory for a in on) <= n.resources.memory_mb
        ports = [p.value for a in on for p in a.ports]
        assert len(ports) == len(set(ports))


def _node(i: int, status: str = "ready") -> Node:
    if status == "down":
        return mock_node(f"n{i}", cpu=1000, memory=1024, status="down")
    return mock_node(f"n{i}", cpu=1000, memory=1024, min_dynamic_port=20000, max_dynamic_port=20005)


@dataclass
class _Churn:
    """One job's world as the operations change it; `settle` decides until nothing changes."""

    job: Job
    count: int = 4
    now: float = 1000.0
    seq: int = 0
    nodes: dict[str, Node] = field(default_factory=lambda: {f"n{i}": _node(i) for i in range(3)})
    allocs: dict[str, Allocation] = field(default_factory=dict)
    statuses: dict[str, AllocStatus] = field(default_factory=dict)

    def settle(self) -> None:
        for _ in range(6):
            self.seq += 1
            cur = list(self.allocs.values())
            d = decide(
                with_count(self.job, self.count),
                0,
                cur,
                cur,
                self.statuses,
                self.nodes,
                eval_id=f"e{self.seq}",
                now=self.now,
            )
            for a in d.updated_allocs + d.new_allocs:
                self.allocs[a.id] = a
            _check(self.allocs, self.statuses, self.nodes)
            if not d.new_allocs and not d.updated_allocs:
                return

    def apply(self, op: str, arg: int) -> None:
        live = sorted(
            (a for a in self.allocs.values() if _live(a, self.statuses)),
            key=lambda a: (a.index, a.node_id, a.create_time),
        )
        if op == "scale":
            self.count = arg
        elif op == "node_down" and f"n{arg}" in self.nodes:
            self.nodes[f"n{arg}"] = _node(arg, "down")
        elif op == "node_up":
            self.nodes[f"n{arg}"] = _node(arg)
        elif op in ("fail", "run") and live:
            a = live[arg % len(live)]
            self.statuses[a.id] = AllocStatus(
                alloc_id=a.id,
                node_id=a.node_id,
                client_status="failed" if op == "fail" else "running",
                modify_time=self.now,
            )
        elif op == "wait":
            self.now += arg


@settings(max_examples=80, deadline=None)
@given(OPS, st.booleans())
def test_decisions_keep_invariants_under_churn(ops, static) -> None:
    job = mock_job(4, cpu=500, memory=256, ports=[Port("http", static=8080)] if static else [Port("http")])
    job.task_groups[0].reschedule = ReschedulePolicy(
        delay=30 * 10**9, delay_function="constant", unlimited=True
    )
    world = _Churn(job)
    world.settle()
    for op, arg in ops:
        world.apply(op, arg)
        world.settle()
    # converged: live allocations plus what could not be placed or waits to be rescheduled
    live = [a for a in world.allocs.values() if _live(a, world.statuses)]
    assert len(live) <= world.count
