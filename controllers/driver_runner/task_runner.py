"""One task's life on this node: setup, start, watch, restart per policy, kill.

A TaskRunner is a thread driven by one wake-up event: the task's exit (from its handle's
waiter), a kill request, a restart request, or a template poll. Every change of the task's
state goes through `host.update_task(...)`, which the allocation runner turns into an
`alloc_status` write. Decisions come from pure functions (`restarts.decide`), the setup
before the first start from `prestart`, the events' wording from `status`.

Over 400 lines because it is one state machine: start, watch, restart and kill share the
runner's state (its handle, the kill and restart requests, the wake-up event) and its lock,
and splitting the steps apart would hand that state around instead.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from controllers.driver_runner import handles, prestart, procfs, restarts, status, templates
from controllers.driver_runner.drivers import DriverError, TaskContext, TaskDriver
from controllers.driver_runner.handles import ExitResult, ProcessHandle, Recovered
from reconciler.model.alloc_dir import AllocDir
from reconciler.model.job import SECOND, RestartPolicy, Task
from reconciler.model.objects import TaskEvent, TaskRunState, TaskState

log = logging.getLogger(__name__)

TEMPLATE_POLL = 1.0  # seconds between checks of templates with a `source` file


class _Next(Enum):
    """What the runner's loop does when the task did not simply exit."""

    STOP = "stop"  # detached or killed: the runner ends
    AGAIN = "again"  # restarted on request: start it again at once


def _count_restart(ts: TaskState) -> None:
    ts.restarts += 1
    ts.state = TaskRunState.PENDING


class TaskHost(Protocol):
    """What the allocation runner offers its task runners."""

    def update_task(self, task: str, fn: Callable[[TaskState], None]) -> None: ...

    def task_finished(self, task: str) -> None: ...

    def before_kill(self, task: str) -> None:
        """Called on the task's own thread before its kill signal: blocks while the
        allocation leaves the catalog and its shutdown delays pass."""


class TaskRunner:
    def __init__(
        self,
        *,
        host: TaskHost,
        alloc_id: str,
        alloc_dir: AllocDir,
        task: Task,
        config: dict[str, Any],
        env: dict[str, str],
        driver: TaskDriver | None,
        driver_name: str,
        policy: RestartPolicy,
        job_type: str,
        restored: TaskState | None = None,
        recovered: Recovered | None = None,
        payload: bytes = b"",
        volumes: list[tuple[str, bool]] | None = None,
        artifact_file_roots: tuple[str, ...] = (),
    ) -> None:
        self.host = host
        self.artifact_file_roots = artifact_file_roots
        self.volumes = volumes or []
        self.alloc_id = alloc_id
        self.alloc_dir = alloc_dir
        self.task = task
        self.name = task.name
        self.config = config
        self.env = env
        self.driver = driver
        self.driver_name = driver_name
        self.policy = policy
        self.job_type = job_type
        self.restored = restored
        self.recovered = recovered
        self.payload = payload  # a dispatched job's, for the task's dispatch_payload file
        self.handle: ProcessHandle | None = None
        self._wake = threading.Event()
        self._kill_event: TaskEvent | None = None
        self._kill = False
        self._restart = False
        self._restart_failure = ""  # why an unhealthy check asked for the restart
        self._exit_failed = False  # the last exit was that restart: a failure, whatever its code
        self._detached = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.done = threading.Event()
        self.tracker = self._load_tracker()

    # control (any thread) ----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._main, name=f"task:{self.alloc_id[:8]}:{self.name}", daemon=True
        )
        self._thread.start()

    def kill(self, reason: TaskEvent | None = None) -> None:
        with self._lock:
            self._kill = True
            if reason is not None and self._kill_event is None:
                self._kill_event = reason
        self._wake.set()

    def restart(self, failure: str = "") -> None:
        """Restart the task; with a `failure` reason (an unhealthy check) the restart goes
        through the restart policy as a failed exit would, as Nomad's check watcher does."""
        with self._lock:
            self._restart = True
            self._restart_failure = failure
        self._wake.set()

    def signal(self, name: str) -> bool:
        """Send signal `name` (SIGHUP ...) to the running task's process group, after a
        Signaling event (Nomad's, "Signal requested by user"); False when it does not run."""
        handle = self.handle
        if handle is None or self.done.is_set() or handle.result() is not None:
            return False
        sig = procfs.parse_signal(name)
        self._emit(
            status.event(status.SIGNALING, "Task being sent a signal", sig=sig, details={"signal": name})
        )
        return handle.signal(sig)

    def detach(self) -> None:
        """Stop supervising without touching the task (the agent is stopping; a new agent
        re-attaches to it through the handle files)."""
        self._detached = True
        self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    @property
    def killing(self) -> bool:
        return self._kill

    # state helpers -----------------------------------------------------------------------
    def _emit(self, ev: TaskEvent, fn: Callable[[TaskState], None] | None = None) -> None:
        def apply(ts: TaskState) -> None:
            ts.events.append(ev)
            del ts.events[: -status.MAX_EVENTS * 2]
            if fn is not None:
                fn(ts)

        log.info("alloc=%s task=%s event=%r %s", self.alloc_id, self.name, ev.type, ev.message)
        self.host.update_task(self.name, apply)

    def _set(self, fn: Callable[[TaskState], None]) -> None:
        self.host.update_task(self.name, fn)

    def _dead(self, *, failed: bool) -> None:
        def fn(ts: TaskState) -> None:
            ts.state = TaskRunState.DEAD
            ts.failed = ts.failed or failed
            ts.finished_at = time.time()
            ts.pid = 0

        self._set(fn)

    def _tracker_path(self) -> Path:
        return self.alloc_dir.state / f"{self.name}.tracker.json"

    def _load_tracker(self) -> restarts.Tracker:
        try:
            data = json.loads(self._tracker_path().read_text())
            return restarts.Tracker(float(data["interval_start"]), int(data["count"]))
        except (OSError, ValueError, KeyError, TypeError):
            return restarts.Tracker()

    def _save_tracker(self) -> None:
        try:
            self._tracker_path().write_text(json.dumps(asdict(self.tracker)))
        except OSError:
            log.warning("alloc=%s task=%s cannot save restart tracker", self.alloc_id, self.name)

    # the thread --------------------------------------------------------------------------
    def _main(self) -> None:
        try:
            self._run()
        except Exception as exc:  # a task runner must always end in a state
            log.exception("alloc=%s task=%s runner crashed", self.alloc_id, self.name)
            if self.handle is not None:
                self.handle.kill_everything()
            self._emit(status.event(status.SETUP_FAILURE, f"task runner error: {exc}"))
            self._dead(failed=True)
        finally:
            self.done.set()
            if not self._detached:
                self.host.task_finished(self.name)

    def _run(self) -> None:
        if self.restored is not None and self.restored.state == TaskRunState.DEAD:
            return
        go, result = self._begin()
        while go:
            if self.handle is None and result is None:
                if self._kill:
                    self._finish_killed(None)
                    return
                with self._lock:
                    self._restart = False  # a restart asked while not running is served by this start
                self.handle, result = self._launch()
            if self.handle is not None:
                followed = self._follow(self.handle)
                if followed is _Next.STOP:
                    return
                if followed is _Next.AGAIN:
                    continue
                result = followed
            assert result is not None
            go = self._after_exit(result)
            result = None

    def _begin(self) -> tuple[bool, ExitResult | None]:
        """Re-attach to the process a restarted agent recovered, take the exit it missed, or
        set the task up: whether to go on, and an exit to handle first."""
        rec = self.recovered
        if rec is not None and rec.handle is not None:
            self.handle = rec.handle
            self.handle.watch(self._wake.set)
            pid = self.handle.pid
            log.info("alloc=%s task=%s re-attached pid=%d", self.alloc_id, self.name, pid)

            def adopt(ts: TaskState) -> None:
                ts.state, ts.pid = TaskRunState.RUNNING, pid

            self._set(adopt)
            return True, None
        if rec is not None and rec.missed_exit is not None:
            return True, rec.missed_exit
        if self._kill:
            self._finish_killed(None)
            return False, None
        return self._prestart(), None

    def _follow(self, handle: ProcessHandle) -> ExitResult | _Next:
        """Watch the running task: its exit result, or what the loop does next when it was
        detached or killed (STOP) or restarted on request (AGAIN)."""
        outcome = self._watch(handle)
        if outcome == "detach":
            return _Next.STOP
        if outcome == "kill":
            self.host.before_kill(self.name)
            self._kill_handle(handle)
            self._finish_killed(handle)
            return _Next.STOP
        with self._lock:
            unhealthy, self._restart_failure = self._restart_failure, ""
        if outcome == "restart" and unhealthy:
            self._emit(status.event(status.RESTART_SIGNALED, unhealthy))
            self._kill_handle(handle)
            self._exit_failed = True
        elif outcome == "restart":
            self._emit(status.event(status.RESTART_SIGNALED, "User requested restart"))
            self._kill_handle(handle)
            self._terminated(handle.result() or ExitResult(-1))
            self._cleanup_handle(handle)
            self.handle = None
            self._emit(status.event(status.RESTARTING, "Task restarting in 0s"), _count_restart)
            return _Next.AGAIN
        result = handle.result() or ExitResult(-1)
        self._cleanup_handle(handle)
        self.handle = None
        return result

    def _after_exit(self, result: ExitResult) -> bool:
        """The task exited: record it and follow the restart policy. Whether to start again."""
        self._terminated(result)
        if self._kill:
            self._finish_killed(None)
            return False
        exit_ok, self._exit_failed = result.successful and not self._exit_failed, False
        decision = restarts.decide(
            self.policy,
            self.tracker,
            now=time.time(),
            job_type=self.job_type,
            exit_ok=exit_ok,
            lifecycle=self.task.lifecycle,
        )
        self.tracker = decision.tracker
        self._save_tracker()
        handles.forget(self.alloc_dir.state, self.name)
        if decision.action == restarts.Action.COMPLETE:
            self._dead(failed=False)
            return False
        if decision.action == restarts.Action.FAIL:
            self._emit(status.event(status.NOT_RESTARTING, decision.reason, details={"fails_task": "true"}))
            self._dead(failed=True)
            return False
        self._emit(status.event(status.RESTARTING, decision.reason), _count_restart)
        if self._sleep(decision.delay):
            if not self._detached:
                self._finish_killed(None)
            return False
        return True

    # steps -------------------------------------------------------------------------------
    def _prestart(self) -> bool:
        failure = prestart.set_up(
            self.task,
            self.config,
            self.driver,
            self.driver_name,
            self.alloc_dir,
            self.env,
            emit=self._emit,
            payload=self.payload,
            file_roots=self.artifact_file_roots,
        )
        if failure is not None:
            self._emit(failure)
            self._dead(failed=True)
            return False
        return True

    def _launch(self) -> tuple[ProcessHandle | None, ExitResult | None]:
        assert self.driver is not None
        ctx = TaskContext(
            alloc_id=self.alloc_id,
            task=self.task,
            config=self.config,
            env=self.env,
            task_dir=self.alloc_dir.task_dir(self.name),
            logs_dir=self.alloc_dir.logs,
            cgroup_name=f"{self.alloc_id}.{self.name}",
            volumes=self.volumes,
        )
        try:
            spec = self.driver.prepare(ctx)
            for kind, msg in ctx.events:
                self._emit(status.event(kind, msg))
            handle = handles.launch(self.alloc_dir.state, spec)
        except (DriverError, handles.LaunchError, OSError) as exc:
            self._emit(status.event(status.DRIVER_FAILURE, f"failed to launch command: {exc}"))
            return None, ExitResult(-1, 0, False, str(exc))
        handle.watch(self._wake.set)
        pid = handle.pid

        def started(ts: TaskState) -> None:
            ts.state, ts.pid, ts.started_at, ts.finished_at = TaskRunState.RUNNING, pid, time.time(), 0.0

        self._emit(status.event(status.STARTED, "Task started by client", details={"pid": str(pid)}), started)
        return handle, None

    def _watch(self, handle: ProcessHandle) -> str:
        """Block until the task exits ('exit'), or a kill/restart is asked."""
        poll = TEMPLATE_POLL if any(t.source for t in self.task.templates) else None
        while True:
            if self._kill:
                return "kill"
            if self._detached:
                return "detach"
            if handle.result() is not None:
                return "exit"
            with self._lock:
                if self._restart:
                    self._restart = False
                    return "restart"
            if not self._wake.wait(poll):
                self._check_templates(handle)
            self._wake.clear()

    def _check_templates(self, handle: ProcessHandle) -> None:
        try:
            changed = templates.render_all(
                self.task.templates,
                self.env,
                task_dir=self.alloc_dir.task_dir(self.name),
                alloc_root=self.alloc_dir.root,
            )
        except (templates.TemplateError, OSError) as exc:
            log.warning("alloc=%s task=%s template: %s", self.alloc_id, self.name, exc)
            return
        modes = {t.change_mode for t in changed}
        if not changed:
            return
        self._emit(
            status.event(
                status.TEMPLATE_RERENDER, f"Template with change_mode {', '.join(sorted(modes))} re-rendered"
            )
        )
        if "restart" in modes:
            self.restart()
        for t in changed:
            if t.change_mode == "signal" and t.change_signal:
                handle.signal(procfs.parse_signal(t.change_signal))

    def _kill_handle(self, handle: ProcessHandle) -> None:
        try:
            sig = procfs.parse_signal(self.task.kill_signal or "SIGINT")
        except ValueError:
            sig = int(signal.SIGINT)
        timeout = self.task.kill_timeout / SECOND
        if handle.result() is None:
            self._emit(
                status.event(
                    status.KILLING,
                    f"Sent interrupt. Waiting {restarts.fmt_duration(timeout)} before force killing",
                    details={
                        "kill_timeout": restarts.fmt_duration(timeout),
                        "signal": signal.Signals(sig).name,
                    },
                )
            )
            handle.signal(sig)
            if handle.wait(timeout) is None:
                handle.kill_everything()
                handle.wait(10)
        handle.kill_everything()

    def _finish_killed(self, handle: ProcessHandle | None) -> None:
        if handle is not None:
            self._terminated(handle.result() or ExitResult(-1))
            self._cleanup_handle(handle)
        self.handle = None
        reason = self._kill_event
        if reason is not None:
            self._emit(reason)
        self._emit(status.event(status.KILLED, "Task successfully killed"))
        self._dead(failed=False)

    def _terminated(self, res: ExitResult) -> None:
        def fn(ts: TaskState) -> None:
            ts.pid = 0
            ts.finished_at = time.time()

        self._emit(status.terminated(res), fn)

    def _cleanup_handle(self, handle: ProcessHandle) -> None:
        """Nothing of the task may outlive it: kill what is left of its group and cgroups."""
        from controllers.driver_runner import cgroups

        handle.kill_everything()
        cgroups.remove(handle.cgroup_dirs)

    def _sleep(self, seconds: float) -> bool:
        """Wait out a restart delay; True if a kill came meanwhile."""
        deadline = time.monotonic() + seconds
        while not self._kill:
            if self._detached:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._wake.wait(left)
            self._wake.clear()
        return True
