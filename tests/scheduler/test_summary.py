"""Job summary and status from allocations (pure)."""

from __future__ import annotations

from reconciler.model.objects import Evaluation
from reconciler.model.summary import summarize
from tests.scheduler.factories import mock_alloc, mock_job, mock_status


def test_counts_per_group_and_running_status() -> None:
    job = mock_job(4)
    a = [mock_alloc(job, i, id=f"a{i}") for i in range(4)]
    st = {
        "a1": mock_status(a[1], "running"),
        "a2": mock_status(a[2], "failed"),
        "a3": mock_status(a[3], "complete"),
    }
    s = summarize(
        job,
        a,
        st,
        [
            Evaluation(
                id="e",
                namespace="default",
                job_id="web",
                triggered_by="x",
                status="blocked",
                queued_allocations={"web": 2},
            )
        ],
    )
    g = s.groups["web"]
    assert (g.queued, g.starting, g.running, g.failed, g.complete, g.lost) == (2, 1, 1, 1, 1, 0)
    assert s.status == "running"


def test_lost_comes_from_the_allocation_and_dead_when_all_stopped() -> None:
    job = mock_job(1)
    a = mock_alloc(job, 0, desired_status="stop", client_status="lost")
    s = summarize(job, [a], {})
    assert s.groups["web"].lost == 1
    assert s.status == "dead"


def test_pending_before_anything_is_placed() -> None:
    ev = Evaluation(id="e", namespace="default", job_id="web", triggered_by="job-register")
    assert summarize(mock_job(1), [], {}, [ev]).status == "pending"


def test_unknown_comes_from_the_allocation_while_its_node_is_away() -> None:
    job = mock_job(1)
    a = mock_alloc(job, 0, client_status="unknown", disconnected_at=1.0)
    s = summarize(job, [a], {a.id: mock_status(a, "running")})
    assert (s.groups["web"].unknown, s.groups["web"].running) == (1, 0)
    assert s.groups["web"].to_nomad()["Unknown"] == 1
