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


def test_lost_lease_calls_on_stopped_and_leadership_moves(store: Store,
                                                            pair: tuple[list[LeaderElector], list[Calls]]) -> None:
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
    wait_for(lambda: len(leaders(electors)) == 1 and leaders(electors)[0].leader() == leaders(electors)[0].identity,
             message="a new leader")
    assert calls[i].log[:2] == ["started", "stopped"]
    # the one that lost its lease keeps campaigning (its thread did not die in cleanup)
    assert leader._thread is not None and leader._thread.is_alive()
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
        wait_for(lambda: calls.log == ["started", "stopped"], timeout=6,
                 message=lambda: f"on_stopped within the TTL; calls={calls.log}")
        assert not e.is_leader.is_set()
        private_etcd.start()
        wait_for(e.is_leader.is_set, timeout=20, message="leadership again once etcd is back")
    finally:
        e.stop()
        store.close()
