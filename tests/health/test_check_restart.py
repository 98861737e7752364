"""check_restart: the pure decision (table-driven), the merge of a service's and a check's
blocks, and a real agent restarting a task whose check keeps failing, through its restart
policy until the policy gives up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controllers.registrar.check_restart import RestartWatch, apply, watch_start
from reconciler.model.job import SECOND, Check, CheckRestart, Service, check_restart_of
from reconciler.model.services import CheckState
from tests.agent.harness import AgentProcess
from tests.waiting import wait_for

P, W, C = CheckState.PASSING, CheckState.WARNING, CheckState.CRITICAL
INTERVAL = 1.0


def run(rule: CheckRestart, results: list[tuple[float, CheckState]]) -> list[float]:
    """The times at which `results` (time, status) restart the task, the watch starting at 0."""
    watch = watch_start(rule, 0.0)
    restarts = []
    for now, status in results:
        watch, restart = apply(rule, INTERVAL, watch, status, now)
        if restart:
            restarts.append(now)
    return restarts


def rule(limit: int, grace: float = 0.0, ignore_warnings: bool = False) -> CheckRestart:
    return CheckRestart(limit=limit, grace=int(grace * SECOND), ignore_warnings=ignore_warnings)


@pytest.mark.parametrize(
    ("check_restart", "results", "restarts"),
    [
        pytest.param(rule(0), [(t, C) for t in range(1, 10)], [], id="limit-0-never"),
        pytest.param(rule(1), [(1, C)], [1], id="limit-1-first-failure"),
        pytest.param(rule(3), [(1, C), (2, C), (3, C)], [3], id="limit-3-third-failure"),
        pytest.param(rule(3), [(1, C), (2, C), (3, P), (4, C), (5, C)], [], id="a-pass-resets"),
        pytest.param(rule(2), [(1, W), (2, W)], [2], id="warnings-count"),
        pytest.param(rule(2, ignore_warnings=True), [(1, W), (2, W), (3, W)], [], id="warnings-ignored"),
        pytest.param(
            rule(2, ignore_warnings=True), [(1, C), (2, W), (3, C)], [], id="ignored-warning-resets"
        ),
        pytest.param(rule(1, grace=5), [(1, C), (4, C), (6, C)], [6], id="grace-after-start"),
        pytest.param(
            rule(2, grace=3),
            [(4, C), (5, C), (6, C), (7, C), (8, C), (9, C)],
            [5, 9],
            id="grace-after-restart",
        ),
    ],
)
def test_restart_decision(
    check_restart: CheckRestart, results: list[tuple[float, CheckState]], restarts: list[float]
) -> None:
    assert run(check_restart, results) == restarts


def test_a_restart_starts_a_new_grace() -> None:
    r = rule(1, grace=2)
    watch, restart = apply(r, INTERVAL, RestartWatch(), C, 10.0)
    assert restart
    assert watch.grace_until == 12.0


@pytest.mark.parametrize(
    ("on_service", "on_check", "merged"),
    [
        pytest.param(None, None, None, id="neither"),
        pytest.param(rule(3, 1), None, rule(3, 1), id="service-only"),
        pytest.param(None, rule(2, 5), rule(2, 5), id="check-only"),
        pytest.param(rule(3, 10), rule(2), CheckRestart(limit=2, grace=0), id="check-wins"),
        pytest.param(
            rule(3, 10),
            CheckRestart(ignore_warnings=True),
            rule(3, 10, True),
            id="check-adds-ignore-warnings",
        ),
    ],
)
def test_service_and_check_blocks_merge(
    on_service: CheckRestart | None, on_check: CheckRestart | None, merged: CheckRestart | None
) -> None:
    check = Check(check_restart=on_check)
    assert check_restart_of(Service(check_restart=on_service, checks=[check]), check) == merged


JOB = """
job "flaky" {
  group "g" {
    network {
      port "http" {}
    }
    restart {
      attempts = 1
      delay    = "100ms"
      interval = "10m"
      mode     = "fail"
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      service {
        name = "flaky"
        port = "http"
        check {
          type     = "tcp"
          interval = "200ms"
          timeout  = "200ms"
          check_restart {
            limit = 2
            grace = "500ms"
          }
        }
      }
    }
  }
}
"""


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    a = AgentProcess(tmp_path)
    a.start()
    yield a
    a.stop()


def test_a_task_whose_check_keeps_failing_is_restarted_then_failed(
    agent: AgentProcess, tmp_path: Path
) -> None:
    job = tmp_path / "flaky.nomad"
    job.write_text(JOB)
    run_ = agent.cli("job", "run", "-detach", str(job))
    assert run_.returncode == 0, run_.stderr

    def task() -> dict[str, object] | None:
        allocs = agent.get("/v1/job/flaky/allocations")
        if not allocs:
            return None
        state = agent.get(f"/v1/allocation/{allocs[0]['ID']}")["TaskStates"].get("t")
        return state if isinstance(state, dict) else None

    # nothing listens on the port: the check stays critical, the task restarts once
    # (attempts = 1), then the restart policy gives up and the task fails
    wait_for(lambda: (t := task()) is not None and t["State"] == "dead", 60, message="the task failed")
    t = task()
    assert t is not None
    assert t["Failed"] is True
    assert t["Restarts"] == 1
    events = t["Events"]
    assert isinstance(events, list)
    signaled = [e for e in events if e["Type"] == "Restart Signaled"]
    assert len(signaled) == 2, events
    assert all('healthcheck: check "' in e["DisplayMessage"] for e in signaled), signaled
    assert any(e["Type"] == "Not Restarting" for e in events), events
