"""Which nodes the liveness controller marks down (pure)."""

from __future__ import annotations

import pytest

from controllers.liveness.controller import affected_jobs, decide_down
from tests.scheduler.factories import mock_alloc, mock_job, mock_node

NOW = 1000.0


@pytest.mark.parametrize(
    ("node", "alive", "down"),
    [
        (mock_node("n1", modify_time=NOW - 10), set(), True),
        (mock_node("n1", modify_time=NOW - 10), {"n1"}, False),
        (mock_node("n1", modify_time=NOW - 0.5), set(), False),
        (mock_node("n1", modify_time=NOW - 10, status="down"), set(), False),
        (mock_node("n1", modify_time=NOW - 10, status="initializing"), set(), False),
    ],
    ids=[
        "a ready node without a heartbeat is down",
        "a node with a heartbeat is alive",
        "a node that just changed gets a grace period",
        "a node already down is left alone",
        "a node still initializing is left alone",
    ],
)
def test_decide_down(node, alive, down) -> None:
    assert (decide_down([node], alive, now=NOW, grace=2.0) == [node]) is down


def test_affected_jobs_skip_stopped_allocations() -> None:
    job = mock_job(2)
    allocs = [mock_alloc(job, 0), mock_alloc(mock_job(1, id="other"), 0, desired_status="stop")]
    assert affected_jobs(allocs) == {("default", "web")}
