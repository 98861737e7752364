"""Commands a job asks the agent to run (script checks, `alloc exec`) are bounded (review
H4, H5, M12): output past the cap is dropped while the command runs, a timeout kills the
whole process group, nothing started in the background outlives the command, and script
checks run no more than once a second."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from controllers.registrar.controller import check_interval
from controllers.registrar.probes import MAX_OUTPUT, ScriptProbe
from reconciler.api.alloc_exec import MAX_EXEC_OUTPUT, ExecSessions, run_exec
from reconciler.api.errors import ApiError
from reconciler.model.alloc_dir import AllocDir, launch_spec_file, write_launch_spec
from reconciler.model.ids import new_id
from reconciler.model.job import SECOND, Check
from reconciler.model.services import CheckState
from reconciler.runtime.commands import run_command
from reconciler.spec import SpecError, parse_job
from tests.agent.harness import AgentProcess
from tests.waiting import wait_for

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): it is gone for our purpose once it is not running
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_output_past_the_cap_is_dropped_while_the_command_runs() -> None:
    res = run_command(
        ["/bin/sh", "-c", "head -c 50000000 /dev/zero; echo err >&2"],
        cwd=None,
        env=ENV,
        timeout=60,
        max_output=1000,
    )
    assert (res.exit_code, len(res.stdout), res.stderr, res.truncated) == (0, 1000, b"err\n", True)


def test_a_background_child_does_not_outlive_the_command(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    res = run_command(
        ["/bin/sh", "-c", f"sleep 300 & echo $! > {pidfile}; exit 0"],
        cwd=None,
        env=ENV,
        timeout=60,
        max_output=1000,
    )
    assert (res.exit_code, res.timed_out) == (0, False)
    pid = int(pidfile.read_text())
    wait_for(lambda: not alive(pid), message=f"background sleep {pid} killed")


def test_a_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    res = run_command(
        ["/bin/sh", "-c", f"sleep 300 & echo $! > {pidfile}; sleep 300"],
        cwd=None,
        env=ENV,
        timeout=0.5,
        max_output=1000,
    )
    assert res.timed_out
    pid = int(pidfile.read_text())
    wait_for(lambda: not alive(pid), message=f"background sleep {pid} killed")


def test_a_script_check_is_bounded_like_any_command(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    probe = ScriptProbe(
        "/bin/sh", ("-c", f"sleep 300 & echo $! > {pidfile}; head -c 1000000 /dev/zero; exit 0"), tmp_path
    )
    state, output = probe.run()
    assert (state, len(output)) == (CheckState.PASSING, MAX_OUTPUT)
    pid = int(pidfile.read_text())
    wait_for(lambda: not alive(pid), message="the check's background child killed")


def test_alloc_exec_output_is_capped_and_its_children_killed(tmp_path: Path) -> None:
    alloc_id = new_id()
    adir = AllocDir(tmp_path, alloc_id)
    adir.task_dir("web").mkdir(parents=True)
    adir.state.mkdir(parents=True)
    write_launch_spec(launch_spec_file(adir.state, "web"), {"env": ENV, "cwd": str(adir.task_dir("web"))})
    pidfile = tmp_path / "pid"
    cmd = ["/bin/sh", "-c", f"sleep 300 & echo $! > {pidfile}; head -c 5000000 /dev/zero"]
    out = run_exec(tmp_path, alloc_id, "web", cmd, 60)
    assert (out["ExitCode"], len(out["Stdout"]), out["Truncated"]) == (0, MAX_EXEC_OUTPUT, True)
    wait_for(lambda: not alive(int(pidfile.read_text())), message="exec's background child killed")


def test_exec_sessions_past_the_limit_get_429(tmp_path: Path) -> None:
    sessions = ExecSessions(limit=1)
    sessions.active = 1  # one command running already
    with pytest.raises(ApiError) as err:
        asyncio.run(sessions.run(tmp_path, new_id(), "web", ["true"], 1.0))
    assert err.value.status == 429
    sessions.pool.shutdown()


SCRIPT_JOB = """job "j" {
  datacenters = ["dc1"]
  group "g" {
    service {
      name = "s"
      check {
        type     = "script"
        command  = "/bin/true"
        interval = "%s"
        timeout  = "1s"
      }
    }
    task "t" {
      driver = "raw_exec"
      config { command = "true" }
    }
  }
}
"""


def test_a_script_check_faster_than_a_second_is_refused() -> None:
    with pytest.raises(SpecError) as err:
        parse_job(SCRIPT_JOB % "10ms", filename="j.nomad")
    assert "interval (10ms) cannot be lower than 1s" in str(err.value)
    parse_job(SCRIPT_JOB % "1s", filename="j.nomad")


@pytest.mark.parametrize(
    ("type_", "interval_ns", "seconds"),
    [("script", SECOND // 100, 1.0), ("script", 5 * SECOND, 5.0), ("http", SECOND // 100, 0.05)],
)
def test_a_stored_script_check_runs_at_most_once_a_second(
    type_: str, interval_ns: int, seconds: float
) -> None:
    assert check_interval(Check(type=type_, interval=interval_ns)) == seconds


EXEC_JOB = """job "sleeper" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        memory = 32
      }
    }
  }
}
"""


def test_alloc_exec_on_a_real_agent_is_capped(agent: AgentProcess, tmp_path: Path) -> None:
    path = tmp_path / "sleeper.nomad"
    path.write_text(EXEC_JOB)
    assert agent.cli("job", "run", "-detach", str(path)).returncode == 0
    allocs = wait_for(
        lambda: [a for a in agent.get("/v1/job/sleeper/allocations") if a["ClientStatus"] == "running"], 60
    )
    out = agent.request(
        "POST",
        f"/v1/client/allocation/{allocs[0]['ID']}/exec",
        {"Task": "t", "Cmd": ["/bin/sh", "-c", "head -c 5000000 /dev/zero"], "Timeout": 60},
    )
    assert (out["ExitCode"], len(out["Stdout"]), out["Truncated"]) == (0, MAX_EXEC_OUTPUT, True)
