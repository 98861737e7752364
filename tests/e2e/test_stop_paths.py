"""The two stop paths issue 10 names that tests/e2e/test_zero_downtime.py does not drive:
`alloc stop` (one instance stopped by hand and replaced: no request fails) and `job stop`
(every instance goes: requests succeed until the last instance has left the route, then the
router answers for itself, 503 or 404; never a 502 or a broken connection, which is what a
task killed while still routed would give)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.agent.harness import AgentProcess
from tests.e2e.test_zero_downtime import APP, RATE, apply, assert_no_failures, live, routed, steady, zd_file
from tests.e2e.traffic import Traffic
from tests.waiting import wait_for


@pytest.fixture
def serving(agent: AgentProcess, tmp_path: Path) -> AgentProcess:
    """The zero-downtime job's five instances, all routed."""
    app = tmp_path / "app.py"
    app.write_text(APP)
    apply(agent, zd_file(tmp_path, app, release="1"))
    routed(agent, 5)
    return agent


def test_alloc_stop_fails_no_request(serving: AgentProcess) -> None:
    victim = live(serving)[0]["ID"]
    started = time.monotonic()
    with Traffic(serving.router_port, "/zd", rate=RATE) as traffic:
        steady(traffic)
        out = serving.cli("alloc", "stop", victim, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        wait_for(lambda: victim not in {a["ID"] for a in live(serving)}, 60, message="the allocation stopped")
        routed(serving, 5)
        steady(traffic)
    assert_no_failures(traffic.tally, time.monotonic() - started)


def test_job_stop_ends_with_the_routers_own_answer_not_a_broken_request(serving: AgentProcess) -> None:
    with Traffic(serving.router_port, "/zd", rate=RATE) as traffic:
        steady(traffic)
        out = serving.cli("job", "stop", "zd", timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        wait_for(
            lambda: not [a for a in serving.get("/v1/job/zd/allocations") if a["ClientStatus"] == "running"],
            60,
            message="every instance stopped",
        )
        wait_for(lambda: traffic.snapshot()[1] >= 20, 30, message="20 answers after the last instance went")
    tally = traffic.tally
    assert tally.ok > 0
    broken = [f for f in tally.failed if "HTTP 503" not in f and "HTTP 404" not in f]
    assert broken == [], f"{len(broken)} requests broken during the stop: {broken[:10]}"
    assert any("no healthy instance" in f or "no route" in f for f in tally.failed), tally.failed[:5]
