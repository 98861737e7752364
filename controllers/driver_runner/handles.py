"""Starting a task through the executor, and finding it again after an agent restart.

Files kept in the allocation's private `.state/` directory, per task:
- `<task>.spec`        what the executor runs (argv, env, cwd, log settings): the launch
                       spec, a contract with the API kept in reconciler/model/alloc_dir.py
- `<task>.handle.json` `{pid, start, executor_pid, executor_start}` written at launch
- `<task>.exit.json`   `{exit_code, signal, time}` written by the executor when the task ends

A pid is trusted only together with its start time from /proc (a recycled pid never
matches), so re-attach adopts exactly the process it started, or nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from controllers.driver_runner import executor_pool, procfs
from reconciler.model.alloc_dir import launch_spec_file, read_launch_spec, write_launch_spec

log = logging.getLogger(__name__)


class LaunchError(Exception):
    """The task could not be started (bad command, missing binary ...)."""


@dataclass
class ExitResult:
    exit_code: int
    signal: int = 0
    oom_killed: bool = False
    message: str = ""

    @property
    def successful(self) -> bool:
        return self.exit_code == 0 and self.signal == 0


@dataclass
class LaunchSpec:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    logs_dir: str
    task: str
    max_files: int = 10
    max_file_size: int = 10 * 1024 * 1024
    logs_disabled: bool = False
    cgroup_procs: list[str] = field(default_factory=list)
    cgroup_dirs: list[str] = field(default_factory=list)


def _paths(state_dir: Path, task: str) -> tuple[Path, Path, Path]:
    return (
        launch_spec_file(state_dir, task),
        state_dir / f"{task}.handle.json",
        state_dir / f"{task}.exit.json",
    )


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        with open(path) as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


class ProcessHandle:
    """A running (or finished) task: signal its process group, wait for its exit."""

    def __init__(
        self,
        *,
        state_dir: Path,
        task: str,
        pid: int,
        start: int,
        executor_pid: int,
        executor_start: int,
        popen: subprocess.Popen[bytes] | None = None,
        cgroup_dirs: list[str] | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.task = task
        self.pid = pid
        self.start = start
        self.executor_pid = executor_pid
        self.executor_start = executor_start
        self.cgroup_dirs = cgroup_dirs or []
        self._popen = popen
        self._result: ExitResult | None = None
        self._done = threading.Event()
        self._waiter: threading.Thread | None = None

    # waiting -------------------------------------------------------------------------------
    def watch(self, on_exit: Callable[[], None]) -> None:
        """Start a thread that waits for the executor and calls `on_exit` once it is gone."""

        def run() -> None:
            if self._popen is not None:
                self._popen.wait()
            else:
                procfs.wait_gone(self.executor_pid, self.executor_start)
            self._result = self._collect()
            self._done.set()
            on_exit()

        self._waiter = threading.Thread(target=run, name=f"wait:{self.task}:{self.pid}", daemon=True)
        self._waiter.start()

    def result(self) -> ExitResult | None:
        return self._result if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> ExitResult | None:
        self._done.wait(timeout)
        return self.result()

    def _collect(self) -> ExitResult:
        from controllers.driver_runner import cgroups

        _, _, exit_path = _paths(self.state_dir, self.task)
        data = _read_json(exit_path)
        oom = cgroups.oom_killed(self.cgroup_dirs)
        if data is not None:
            return ExitResult(int(data.get("exit_code", -1)), int(data.get("signal", 0)), oom)  # type: ignore[call-overload]
        # the executor died without recording: never leave its task behind
        if procfs.is_same_process(self.pid, self.start):
            procfs.kill_group(self.pid, signal.SIGKILL)
            procfs.wait_gone(self.pid, self.start, 5)
        return ExitResult(-1, 0, oom, "executor exited without recording the task's exit status")

    # signalling ----------------------------------------------------------------------------
    def alive(self) -> bool:
        return not self._done.is_set() and procfs.is_same_process(self.pid, self.start)

    def signal(self, sig: int) -> bool:
        """Signal the task's whole process group (only if the pid is still our task)."""
        if not procfs.is_same_process(self.pid, self.start):
            return (
                procfs.kill_group(self.pid, sig)
                if self._popen is not None and not self._done.is_set()
                else False
            )
        return procfs.kill_group(self.pid, sig)

    def kill_everything(self) -> None:
        from controllers.driver_runner import cgroups

        # the group outlives its leader while members remain, and Linux never hands out a
        # pid that is still some group's id: killing the group id is safe
        procfs.kill_group(self.pid, signal.SIGKILL)
        cgroups.kill_all(self.cgroup_dirs, signal.SIGKILL)


def clear(state_dir: Path, task: str) -> None:
    for p in _paths(state_dir, task):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def forget(state_dir: Path, task: str) -> None:
    """The exit has been handled: drop the handle and exit files (keep the spec, which
    `alloc exec` reads), so a re-attach does not handle the same exit twice."""
    _, handle_path, exit_path = _paths(state_dir, task)
    for p in (handle_path, exit_path):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def launch(state_dir: Path, spec: LaunchSpec, *, ready_timeout: float = 30.0) -> ProcessHandle:
    """Start the executor for `spec` and return once the task has been forked."""
    spec_path, handle_path, exit_path = _paths(state_dir, spec.task)
    clear(state_dir, spec.task)
    standby = executor_pool.default_pool().take()
    r = standby.ready_r
    body = {
        "argv": spec.argv,
        "env": spec.env,
        "cwd": spec.cwd,
        "logs_dir": spec.logs_dir,
        "task": spec.task,
        "max_files": spec.max_files,
        "max_file_size": spec.max_file_size,
        "logs_disabled": spec.logs_disabled,
        "cgroup_procs": spec.cgroup_procs,
        "cgroup_dirs": spec.cgroup_dirs,
        "handle_path": str(handle_path),
        "exit_path": str(exit_path),
        "ready_fd": standby.ready_w,
    }
    popen = standby.popen
    try:
        write_launch_spec(spec_path, body)
        standby.give(str(spec_path))
        raw = b""
        deadline = time.monotonic() + ready_timeout
        poller = select.poll()
        poller.register(r, select.POLLIN | select.POLLHUP)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                popen.kill()
                raise LaunchError("executor did not report the task's start in time")
            if not poller.poll(int(left * 1000) + 1):
                continue
            chunk = os.read(r, 65536)
            if not chunk:
                break
            raw += chunk
    except OSError as exc:
        popen.kill()
        raise LaunchError(f"executor failed: {exc}") from None
    finally:
        os.close(r)
    try:
        info = json.loads(raw) if raw else {"error": "executor exited before starting the task"}
    except ValueError:
        info = {"error": f"executor said {raw[:200]!r}"}
    if "error" in info:
        popen.wait(5)
        clear(state_dir, spec.task)
        raise LaunchError(str(info["error"]))
    return ProcessHandle(
        state_dir=state_dir,
        task=spec.task,
        pid=int(info["pid"]),
        start=int(info["start"]),
        executor_pid=popen.pid,
        executor_start=int(info["executor_start"]),
        popen=popen,
        cgroup_dirs=spec.cgroup_dirs,
    )


@dataclass
class Recovered:
    """What re-attach found for one task: a live handle, or the exit it missed."""

    handle: ProcessHandle | None = None
    missed_exit: ExitResult | None = None


def recover(state_dir: Path, task: str) -> Recovered | None:
    """Find a task started by a previous agent. None: nothing was started (or it was cleared)."""
    spec_path, handle_path, exit_path = _paths(state_dir, task)
    info = _read_json(handle_path)
    if info is None:
        return None
    spec = read_launch_spec(spec_path)
    raw_dirs = spec.get("cgroup_dirs") or []
    cg_dirs = [str(d) for d in raw_dirs] if isinstance(raw_dirs, list) else []
    pid, start = int(info["pid"]), int(info["start"])  # type: ignore[call-overload]
    ex_pid, ex_start = int(info["executor_pid"]), int(info["executor_start"])  # type: ignore[call-overload]
    handle = ProcessHandle(
        state_dir=state_dir,
        task=task,
        pid=pid,
        start=start,
        executor_pid=ex_pid,
        executor_start=ex_start,
        cgroup_dirs=cg_dirs,
    )
    done = _read_json(exit_path)
    if done is not None:
        return Recovered(missed_exit=ExitResult(int(done.get("exit_code", -1)), int(done.get("signal", 0))))  # type: ignore[call-overload]
    if procfs.is_same_process(ex_pid, ex_start):
        return Recovered(handle=handle)
    if procfs.is_same_process(pid, start):
        # the executor is gone but the task runs: it has lost its logs and exit status
        procfs.kill_group(pid, signal.SIGKILL)
        procfs.wait_gone(pid, start, 5)
    return Recovered(
        missed_exit=ExitResult(-1, 0, False, "task's executor was gone when the agent restarted")
    )
