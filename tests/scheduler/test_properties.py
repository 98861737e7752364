"""Property: whatever happens to a job (scaling, nodes dying and joining, allocations failing,
time passing), repeated decisions never give two live allocations of a group one index,
never over-commit a node, never collide ports, and converge to `count` where capacity allows."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.scheduler.decide import decide
from reconciler.model.job import Port, ReschedulePolicy
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


@settings(max_examples=80, deadline=None)
@given(OPS, st.booleans())
def test_decisions_keep_invariants_under_churn(ops, static) -> None:
    job = mock_job(4, cpu=500, memory=256, ports=[Port("http", static=8080)] if static else [Port("http")])
    job.task_groups[0].reschedule = ReschedulePolicy(
        delay=30 * 10**9, delay_function="constant", unlimited=True
    )
    nodes = {
        f"n{i}": mock_node(f"n{i}", cpu=1000, memory=1024, min_dynamic_port=20000, max_dynamic_port=20005)
        for i in range(3)
    }
    allocs: dict[str, Allocation] = {}
    statuses: dict[str, AllocStatus] = {}
    now = 1000.0
    count = 4
    seq = 0

    def settle() -> None:
        nonlocal seq
        for _ in range(6):
            seq += 1
            cur = list(allocs.values())
            d = decide(with_count(job, count), 0, cur, cur, statuses, nodes, eval_id=f"e{seq}", now=now)
            for a in d.updated_allocs + d.new_allocs:
                allocs[a.id] = a
            _check(allocs, statuses, nodes)
            if not d.new_allocs and not d.updated_allocs:
                return

    settle()
    for op, arg in ops:
        live = sorted(
            (a for a in allocs.values() if _live(a, statuses)),
            key=lambda a: (a.index, a.node_id, a.create_time),
        )
        if op == "scale":
            count = arg
        elif op == "node_down" and f"n{arg}" in nodes:
            nodes[f"n{arg}"] = mock_node(f"n{arg}", cpu=1000, memory=1024, status="down")
        elif op == "node_up":
            nodes[f"n{arg}"] = mock_node(
                f"n{arg}", cpu=1000, memory=1024, min_dynamic_port=20000, max_dynamic_port=20005
            )
        elif op in ("fail", "run") and live:
            a = live[arg % len(live)]
            statuses[a.id] = AllocStatus(
                alloc_id=a.id,
                node_id=a.node_id,
                client_status="failed" if op == "fail" else "running",
                modify_time=now,
            )
        elif op == "wait":
            now += arg
        settle()
    # converged: live allocations plus what could not be placed or waits to be rescheduled
    live = [a for a in allocs.values() if _live(a, statuses)]
    assert len(live) <= count
