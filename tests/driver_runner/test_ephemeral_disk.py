"""`ephemeral_disk { sticky, migrate }` on the node: a replacement waits for its previous
allocation, then takes over its `alloc/data` and `<task>/local` (moved on the same node,
copied from the old node's agent with `migrate`), and says so in a task event; with nothing
to take over it starts empty and says why. Real agents on real etcd; the old node's files
are served by the real API application."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from controllers.driver_runner import NodeAgent
from controllers.driver_runner.agent import reachable_http_addr
from controllers.driver_runner.prev_alloc import Handover, handover_kind
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.job import SECOND, EphemeralDisk, Job, Task
from reconciler.model.objects import Allocation, AllocStatus, DesiredStatus, Node, NodeStatus
from reconciler.store import Store
from tests.api.server import ApiServer, make_server
from tests.driver_runner.support import get_status, make_alloc, make_job, put_alloc, put_job, wait_status
from tests.waiting import wait_for

# Each run records what alloc/data held when it started, then appends its own mark.
SCRIPT = (
    'cat "$NOMAD_ALLOC_DIR/data/log" >"$NOMAD_TASK_DIR/before" 2>/dev/null; '
    'echo "$MARK" >>"$NOMAD_ALLOC_DIR/data/log"; exec sleep 600'
)


def _job(mark: str, *, sticky: bool = True, migrate: bool = False) -> Job:
    task = Task(
        name="t",
        driver="raw_exec",
        config={"command": "/bin/sh", "args": ["-c", SCRIPT]},
        env={"MARK": mark},
        kill_timeout=2 * SECOND,
    )
    job = make_job("keeper", tasks=[task], ports=())
    g = dataclasses.replace(job.task_groups[0], ephemeral_disk=EphemeralDisk(300, sticky, migrate))
    return dataclasses.replace(job, task_groups=[g])


def _data(agent: NodeAgent, alloc_id: str, rel: str) -> str:
    path = agent.data_dir / "allocs" / alloc_id / rel
    return path.read_text() if path.exists() else ""


def _replace(store: Store, old: Allocation, new_job: Job, node_id: str) -> Allocation:
    """What the scheduler writes for a destructive update: the old allocation stopped, the
    new one (job version 1) naming it as its previous allocation."""
    put_job(store, new_job, 1)
    new = dataclasses.replace(
        make_alloc(new_job, node_id, version=1), previous_allocation=old.id, name=old.name
    )
    put_alloc(store, dataclasses.replace(old, desired_status=DesiredStatus.STOP))
    return put_alloc(store, new)


def _setup_messages(st: AllocStatus) -> list[str]:
    """The hand-over's task events (Task Setup also says "Building Task Directory")."""
    return [
        e.message for e in st.task_states["t"].events if e.type == "Task Setup" and "previous" in e.message
    ]


def _stop_all(store: Store, *allocs: Allocation) -> None:
    for a in allocs:
        put_alloc(store, dataclasses.replace(a, desired_status=DesiredStatus.STOP))


@pytest.mark.parametrize("sticky", [True, False])
def test_a_sticky_replacement_keeps_alloc_data(store: Store, agent: NodeAgent, sticky: bool) -> None:
    v0 = _job("a", sticky=sticky)
    put_job(store, v0, 0)
    old = put_alloc(store, make_alloc(v0, agent.node.id))
    wait_status(store, old.id, "running")
    wait_for(lambda: _data(agent, old.id, "alloc/data/log") == "a\n", 30, message="the first task wrote")

    new = _replace(store, old, _job("b", sticky=sticky), agent.node.id)
    st = wait_status(store, new.id, "running")
    wait_for(lambda: _data(agent, new.id, "alloc/data/log").endswith("b\n"), 30, message="the new task wrote")
    try:
        if sticky:
            assert _data(agent, new.id, "alloc/data/log") == "a\nb\n"
            assert _data(agent, new.id, "t/local/before") == "a\n"  # it saw the data when it started
            assert _setup_messages(st) == [f"Moved alloc/data, t/local from previous allocation {old.id[:8]}"]
            # it waited: the old task had ended before the new one started
            old_st = get_status(store, old.id)
            assert old_st is not None
            assert old_st.client_status == "complete"
            assert st.task_states["t"].started_at >= old_st.task_states["t"].finished_at
        else:
            assert _data(agent, new.id, "alloc/data/log") == "b\n"
            assert _setup_messages(st) == []
    finally:
        _stop_all(store, new)
        wait_status(store, new.id, "complete")


@pytest.fixture
def two_nodes(store: Store, tmp_path: Path) -> Iterator[tuple[NodeAgent, NodeAgent, ApiServer]]:
    """Node 1 with its API (serving node 1's data dir, its HTTPAddr), node 2 without."""
    d1 = tmp_path / "n1"
    d1.mkdir()
    api = make_server(store, d1)
    n1 = NodeAgent(
        store,
        data_dir=d1,
        node_name="node-1",
        raw_exec_enabled=True,
        heartbeat_ttl=5,
        http_addr=f"127.0.0.1:{api.port}",
    )
    n2 = NodeAgent(
        store, data_dir=tmp_path / "n2", node_name="node-2", raw_exec_enabled=True, heartbeat_ttl=5
    )
    n1.start()
    n2.start()
    yield n1, n2, api
    n2.stop(drain=True, timeout=30)
    n1.stop(drain=True, timeout=30)
    api.stop()


def test_migrate_copies_the_data_from_the_previous_node(
    store: Store, two_nodes: tuple[NodeAgent, NodeAgent, ApiServer]
) -> None:
    n1, n2, _ = two_nodes
    v0 = _job("a", migrate=True)
    put_job(store, v0, 0)
    old = put_alloc(store, make_alloc(v0, n1.node.id))
    wait_status(store, old.id, "running")
    wait_for(lambda: _data(n1, old.id, "alloc/data/log") == "a\n", 30, message="the first task wrote")

    new = _replace(store, old, _job("b", migrate=True), n2.node.id)
    st = wait_status(store, new.id, "running", timeout=60)
    try:
        wait_for(lambda: _data(n2, new.id, "alloc/data/log") == "a\nb\n", 30, message="the new task wrote")
        assert _data(n2, new.id, "t/local/before") == "a\n"
        assert _setup_messages(st) == [
            f"Migrated alloc/data, t/local from previous allocation {old.id[:8]} on node node-1"
        ]
        assert not (n2.data_dir / "allocs" / new.id / ".state" / "previous").exists()  # staging removed
    finally:
        _stop_all(store, new)
        wait_status(store, new.id, "complete")


def test_sticky_alone_does_not_copy_from_another_node(
    store: Store, two_nodes: tuple[NodeAgent, NodeAgent, ApiServer]
) -> None:
    n1, n2, _ = two_nodes
    v0 = _job("a")
    put_job(store, v0, 0)
    old = put_alloc(store, make_alloc(v0, n1.node.id))
    wait_status(store, old.id, "running")
    new = _replace(store, old, _job("b"), n2.node.id)
    st = wait_status(store, new.id, "running")
    try:
        wait_for(lambda: _data(n2, new.id, "alloc/data/log") == "b\n", 30, message="the new task wrote")
        assert _setup_messages(st) == []
    finally:
        _stop_all(store, new)
        wait_status(store, new.id, "complete")


def test_a_migration_from_a_gone_node_starts_empty_and_says_so(store: Store, agent: NodeAgent) -> None:
    v0 = _job("a", migrate=True)
    put_job(store, v0, 0)
    gone = put_alloc(store, make_alloc(v0, "0d5b7d6e-0000-4000-8000-000000000000"))  # no such node
    new = _replace(store, gone, _job("b", migrate=True), agent.node.id)
    st = wait_status(store, new.id, "running")
    try:
        assert _setup_messages(st) == [
            f"node 0d5b7d6e of previous allocation {gone.id[:8]} is gone; data not migrated"
        ]
        wait_for(lambda: _data(agent, new.id, "alloc/data/log") == "b\n", 30, message="the new task wrote")
    finally:
        _stop_all(store, new)
        wait_status(store, new.id, "complete")


# -- the pure decision ---------------------------------------------------------------------

HERE, THERE = NodeId("n-here"), NodeId("n-there")


def _alloc(node: NodeId, previous: str = "prev-1") -> Allocation:
    return Allocation(
        id=AllocId("new-1"),
        namespace="default",
        job_id="j",
        job_version=1,
        task_group="g",
        name="j.g[0]",
        index=0,
        node_id=node,
        previous_allocation=AllocId(previous),
    )


@pytest.mark.parametrize(
    ("why", "sticky", "migrate", "previous", "prev_on", "node", "local_dir", "kind"),
    [
        ("no previous allocation", True, True, "", None, None, False, Handover.NONE),
        ("neither sticky nor migrate", False, False, "prev-1", HERE, None, True, Handover.NONE),
        ("sticky on the same node", True, False, "prev-1", HERE, None, True, Handover.LOCAL),
        ("migrate on the same node", False, True, "prev-1", HERE, None, True, Handover.LOCAL),
        ("sticky alone across nodes", True, False, "prev-1", THERE, "up", False, Handover.NONE),
        ("migrate across nodes", False, True, "prev-1", THERE, "up", False, Handover.REMOTE),
        ("the old node is down", False, True, "prev-1", THERE, "down", False, Handover.GONE),
        ("the old node is disconnected", False, True, "prev-1", THERE, "disconnected", False, Handover.GONE),
        ("the old node is deleted", False, True, "prev-1", THERE, None, False, Handover.GONE),
        ("the old node has no HTTP address", False, True, "prev-1", THERE, "no-addr", False, Handover.GONE),
        ("collected, its dir still here", True, False, "prev-1", None, None, True, Handover.LOCAL),
        ("collected and gone", True, True, "prev-1", None, None, False, Handover.GONE),
    ],
)
def test_handover_kind(
    why: str,
    sticky: bool,
    migrate: bool,
    previous: str,
    prev_on: NodeId | None,
    node: str | None,
    local_dir: bool,
    kind: Handover,
) -> None:
    group = dataclasses.replace(_job("x").task_groups[0], ephemeral_disk=EphemeralDisk(300, sticky, migrate))
    alloc = _alloc(HERE, previous)
    prev = None if prev_on is None else dataclasses.replace(_alloc(prev_on), id=AllocId("prev-1"))
    prev_node = None
    if node is not None:
        prev_node = Node(
            id=THERE,
            name="there",
            status={"down": NodeStatus.DOWN, "disconnected": NodeStatus.DISCONNECTED}.get(
                node, NodeStatus.READY
            ),
            http_addr="" if node == "no-addr" else "10.0.0.2:4646",
        )
    d = handover_kind(alloc, group, HERE, prev, prev_node, local_dir=local_dir)
    assert d.kind == kind, why
    assert bool(d.why) == (kind == Handover.GONE), why


@pytest.mark.parametrize(
    ("http_addr", "address", "want"),
    [
        ("127.0.0.1:4646", "10.0.0.5", "127.0.0.1:4646"),
        ("0.0.0.0:4646", "10.0.0.5", "10.0.0.5:4646"),
        ("[::]:4646", "10.0.0.5", "10.0.0.5:4646"),
        ("", "10.0.0.5", ""),
    ],
)
def test_the_advertised_http_addr_is_reachable(http_addr: str, address: str, want: str) -> None:
    assert reachable_http_addr(http_addr, address) == want


def test_a_replacement_stopped_while_it_waits_never_runs(store: Store, agent: NodeAgent) -> None:
    """The previous allocation still runs (nothing stopped it): the replacement waits, and a
    stop then ends it without starting a task."""
    v0 = _job("a")
    put_job(store, v0, 0)
    old = put_alloc(store, make_alloc(v0, agent.node.id))
    wait_status(store, old.id, "running")
    v1 = _job("b")
    put_job(store, v1, 1)
    new = make_alloc(v1, agent.node.id, version=1)
    new = put_alloc(store, dataclasses.replace(new, previous_allocation=old.id))
    try:
        wait_for(lambda: agent.runner(new.id) is not None, 30, message="the replacement's runner exists")
        runner = agent.runner(new.id)
        assert runner is not None
        assert not runner.all_done.wait(1.0)  # waiting for the previous allocation
        put_alloc(store, dataclasses.replace(new, desired_status=DesiredStatus.STOP))
        st = wait_status(store, new.id, "complete")
        assert st.task_states == {}
        assert _data(agent, new.id, "alloc/data/log") == ""
    finally:
        _stop_all(store, old)
        wait_status(store, old.id, "complete")
