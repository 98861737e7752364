"""Leader election on a real etcd: one leader at a time, takeover when the leader stops or
its lease disappears, on_stopped called on loss."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from reconciler.runtime import LeaderElector
from reconciler.store import Store
from tests.waiting import wait_for


class Calls:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: list[str] = []

    def started(self) -> None:
        with self.lock:
            self.log.append("started")

    def stopped(self) -> None:
        with self.lock:
            self.log.append("stopped")


@pytest.fixture
def pair(store: Store) -> Iterator[tuple[list[LeaderElector], list[Calls]]]:
    electors = [LeaderElector(store, "scheduler", f"agent-{i}", ttl=2) for i in range(2)]
    calls = [Calls(), Calls()]
    for e, c in zip(electors, calls, strict=True):
        e.start(c.started, c.stopped)
    yield electors, calls
    for e in electors:
        e.stop()


def leaders(electors: list[LeaderElector]) -> list[LeaderElector]:
    return [e for e in electors if e.is_leader.is_set()]


def test_exactly_one_leader(pair: tuple[list[LeaderElector], list[Calls]]) -> None:
    electors, calls = pair
    wait_for(lambda: len(leaders(electors)) == 1, message="a leader")
    leader = leaders(electors)[0]
    other = electors[1 - electors.index(leader)]
    # let the other campaign a few times: it must keep losing
    start = other.campaigns
    wait_for(lambda: other.campaigns >= start + 2, message="the other to campaign again")
    assert leaders(electors) == [leader]
    assert leader.leader() == leader.identity == other.leader()
    # is_leader is set just before on_started runs
    wait_for(lambda: calls[electors.index(leader)].log == ["started"], message="on_started")
    assert calls[electors.index(other)].log == []


def test_other_takes_over_when_leader_stops(pair: tuple[list[LeaderElector], list[Calls]]) -> None:
    electors, calls = pair
    wait_for(lambda: len(leaders(electors)) == 1, message="a leader")
    leader = leaders(electors)[0]
    i = electors.index(leader)
    leader.stop()
    assert calls[i].log == ["started", "stopped"]
    other = electors[1 - i]
    wait_for(other.is_leader.is_set, message="the other to take over")
    assert other.leader() == other.identity
    wait_for(lambda: calls[1 - i].log == ["started"], message="on_started of the new leader")


def test_lost_lease_calls_on_stopped_and_leadership_moves(
    store: Store, pair: tuple[list[LeaderElector], list[Calls]]
) -> None:
    electors, calls = pair
    wait_for(lambda: len(leaders(electors)) == 1, message="a leader")
    leader = leaders(electors)[0]
    i = electors.index(leader)
    lease_id = leader.lease_id
    assert lease_id is not None
    store._call(lambda c: c.revoke_lease(lease_id))  # as if the lease expired
    # it may win the next election at once, so look for "stopped" anywhere, not only last
    wait_for(lambda: "stopped" in calls[i].log, message="on_stopped after losing the lease")
    # someone leads again (either of them), and only one
    wait_for(
        lambda: (
            len(leaders(electors)) == 1 and leaders(electors)[0].leader() == leaders(electors)[0].identity
        ),
        message="a new leader",
    )
    assert calls[i].log[:2] == ["started", "stopped"]
    # the one that lost its lease keeps campaigning (its thread did not die in cleanup)
    assert leader._thread is not None
    assert leader._thread.is_alive()
    if not leader.is_leader.is_set():
        n = leader.campaigns
        wait_for(lambda: leader.campaigns > n, message="the old leader to campaign again")


def test_leader_keeps_its_lease_alive_past_the_ttl(store: Store) -> None:
    """The leader refreshes its lease: it stays leader for several TTLs."""
    electors = [LeaderElector(store, "keepalive", f"agent-{i}", ttl=1) for i in range(2)]
    calls = [Calls(), Calls()]
    for e, c in zip(electors, calls, strict=True):
        e.start(c.started, c.stopped)
    try:
        wait_for(lambda: len(leaders(electors)) == 1, message="a leader")
        leader = leaders(electors)[0]
        other = electors[1 - electors.index(leader)]
        # campaigns are at least 1/3 TTL apart: seven of them span two TTLs
        start = other.campaigns
        wait_for(lambda: other.campaigns >= start + 7, timeout=20, message="seven campaigns by the other")
        assert leaders(electors) == [leader]
        wait_for(lambda: calls[electors.index(leader)].log == ["started"], message="on_started only")
    finally:
        for e in electors:
            e.stop()


def test_leader_steps_down_within_its_ttl_when_etcd_is_gone(private_etcd) -> None:
    """With etcd unreachable the lease cannot be refreshed: the leader must stop believing
    it leads within the TTL, not after the store's (longer) retry period."""
    store = Store([private_etcd.endpoint], prefix="/lead/", retry_for=30)
    calls = Calls()
    e = LeaderElector(store, "scheduler", "solo", ttl=2)
    e.start(calls.started, calls.stopped)
    try:
        wait_for(e.is_leader.is_set, message="leadership")
        private_etcd.stop()
        wait_for(
            lambda: calls.log == ["started", "stopped"],
            timeout=6,
            message=lambda: f"on_stopped within the TTL; calls={calls.log}",
        )
        assert not e.is_leader.is_set()
        private_etcd.start()
        wait_for(e.is_leader.is_set, timeout=20, message="leadership again once etcd is back")
    finally:
        e.stop()
        store.close()


def test_a_leader_whose_start_fails_gives_up_and_a_standby_takes_over(store: Store) -> None:
    """on_started raising must not end the election: the lease is given up at once (the TTL
    is far longer than the waits here), a standby takes over, and the failing elector goes
    on campaigning."""
    release = threading.Event()
    failing_calls, standby_calls = Calls(), Calls()

    def failing_start() -> None:
        failing_calls.started()
        release.wait(10)
        raise RuntimeError("controller failed to start")

    failing = LeaderElector(store, "scheduler", "failing", ttl=30)
    standby = LeaderElector(store, "scheduler", "standby", ttl=30)
    failing.start(failing_start, failing_calls.stopped)
    try:
        wait_for(failing.is_leader.is_set, message="the failing elector to lead first")
        standby.start(standby_calls.started, standby_calls.stopped)
        wait_for(lambda: standby.campaigns >= 1, message="the standby to campaign")
        assert not standby.is_leader.is_set()
        release.set()
        wait_for(standby.is_leader.is_set, timeout=10, message="the standby to take over")
        assert failing_calls.log[:2] == ["started", "stopped"]
        assert standby.leader() == "standby"
        raw = store.get_raw(store.keys.leader("scheduler"))
        assert raw is not None
        assert b'"schema":1' in raw.value
        assert b'"identity":"standby"' in raw.value
        n = failing.campaigns
        wait_for(lambda: failing.campaigns > n, timeout=10, message="the failing elector to campaign again")
        assert failing._thread is not None
        assert failing._thread.is_alive()
        assert not failing.is_leader.is_set()
        assert standby.is_leader.is_set()
    finally:
        release.set()
        standby.stop()
        failing.stop()


def test_a_failing_stop_callback_does_not_end_the_election(store: Store) -> None:
    calls = Calls()

    def failing_stop() -> None:
        calls.stopped()
        raise RuntimeError("controller failed to stop")

    e = LeaderElector(store, "scheduler", "solo", ttl=2)
    e.start(calls.started, failing_stop)
    try:
        wait_for(e.is_leader.is_set, message="leadership")
        lease_id = e.lease_id
        assert lease_id is not None
        store._call(lambda c: c.revoke_lease(lease_id))  # as if the lease expired
        wait_for(lambda: calls.log[:3] == ["started", "stopped", "started"], message="leading again")
        assert e.is_leader.is_set()
        assert e.lease_id != lease_id
    finally:
        e.stop()


def test_the_agent_gives_every_cluster_controller_its_leader_ttl(store: Store) -> None:
    from reconciler.agent.wiring import cluster_controllers
    from reconciler.runtime import LeaderElected

    services = cluster_controllers(store, "agent-1", leader_ttl=3)
    assert [s.elector.ttl for s in services if isinstance(s, LeaderElected)] == [
        3,
        3,
        3,
        3,
        3,
    ]  # scheduler, deployments, liveness, gc, periodic
