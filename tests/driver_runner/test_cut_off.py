"""A client cut off from the cluster stops the allocations whose group says
`stop_on_client_after` once that long has passed since its heartbeat lease ran out
(Nomad's client heartbeat stop): the decision as a table, and the heartbeat's measure of
"cut off" from a real lease."""

from __future__ import annotations

import time

import pytest

from controllers.driver_runner.agent import cut_off_stops
from controllers.driver_runner.node import Heartbeat
from reconciler.store import KeptLease, Store
from tests.scheduler.factories import mock_node


@pytest.mark.parametrize(
    ("limits", "away", "stopped"),
    [
        ({"a": 30.0, "b": None}, 0.0, []),
        ({"a": 30.0, "b": None}, 29.9, []),
        ({"a": 30.0, "b": None}, 30.0, ["a"]),  # b's group keeps running for as long as it takes
        ({"a": 30.0, "b": 10.0}, 12.0, ["b"]),
        ({"a": 0.0}, 0.5, ["a"]),  # stop_on_client_after = "0s": at once
        ({}, 100.0, []),
    ],
)
def test_cut_off_stops(limits: dict[str, float | None], away: float, stopped: list[str]) -> None:
    assert cut_off_stops(limits, away) == stopped


def test_cut_off_counts_from_the_lease_running_out(store: Store) -> None:
    hb = Heartbeat(store, mock_node("n1"), ttl=10)
    assert hb.cut_off_for() == 0.0  # not registered yet: nothing to have lost
    lease_id = store.lease(10).id
    hb.lease = KeptLease(store, lease_id, 10, name="t", valid_until=time.monotonic() + 5)
    assert hb.cut_off_for() == 0.0  # still good for 5 s
    hb.lease = KeptLease(store, lease_id, 10, name="t", valid_until=time.monotonic() - 7)
    assert 7.0 <= hb.cut_off_for() < 60.0
