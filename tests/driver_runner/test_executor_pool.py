"""Warm executors: a launch through the pool works, and idle standbys exit when the pool
closes (or when their agent dies: EOF on stdin)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controllers.driver_runner import procfs
from controllers.driver_runner.executor_pool import ExecutorPool, spawn
from controllers.driver_runner.handles import LaunchError, LaunchSpec, launch
from tests.waiting import wait_for


def test_standby_exits_on_eof() -> None:
    sb = spawn()
    assert sb.popen.poll() is None
    assert sb.popen.stdin is not None
    sb.popen.stdin.close()
    assert sb.popen.wait(10) == 0


def test_pool_refills_and_closes() -> None:
    pool = ExecutorPool(size=2)
    first = pool.take()  # cold: the pool was empty
    wait_for(lambda: len(pool._idle) == 2, 10, message="pool refilled")
    idle = [sb.popen for sb in pool._idle]
    pool.close()
    assert all(p.poll() is not None for p in idle)
    assert first.popen.stdin is not None
    first.popen.stdin.close()
    first.popen.wait(10)


def test_launch_reports_exec_errors(tmp_path: Path) -> None:
    spec = LaunchSpec(
        argv=["/nonexistent/binary"], env={}, cwd=str(tmp_path), logs_dir=str(tmp_path), task="t"
    )
    with pytest.raises(LaunchError, match="No such file"):
        launch(tmp_path, spec)


def test_launch_runs_and_collects_exit(tmp_path: Path) -> None:
    spec = LaunchSpec(
        argv=["/bin/sh", "-c", "echo out; echo err >&2; exit 7"],
        env={"PATH": "/bin"},
        cwd=str(tmp_path),
        logs_dir=str(tmp_path),
        task="t",
    )
    h = launch(tmp_path, spec)
    h.watch(lambda: None)
    res = h.wait(10)
    assert res is not None
    assert res.exit_code == 7
    assert res.signal == 0
    assert (tmp_path / "t.stdout.0").read_text() == "out\n"
    assert (tmp_path / "t.stderr.0").read_text() == "err\n"
    assert not procfs.is_same_process(h.pid, h.start)
