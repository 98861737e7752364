"""One task's life on this node: setup, start, watch, restart per policy, kill.

A TaskRunner is a thread driven by one wake-up event: the task's exit (from its handle's
waiter), a kill request, a restart request, or a template poll. Every change of the task's
state goes through `host.update_task(...)`, which the allocation runner turns into an
`alloc_status` write. Decisions come from pure functions (`restarts.decide`).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from controllers.driver_runner import artifacts, handles, procfs, restarts, status, templates
from controllers.driver_runner.drivers import DriverError, TaskContext, TaskDriver
from controllers.driver_runner.handles import ExitResult, ProcessHandle, Recovered
from reconciler.model.alloc_dir import AllocDir, PathEscapeError
from reconciler.model.job import SECOND, RestartPolicy, Task
from reconciler.model.objects import TaskEvent, TaskRunState, TaskState

log = logging.getLogger(__name__)

TEMPLATE_POLL = 1.0  # seconds between checks of templates with a `source` file


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
    ) -> None:
        self.host = host
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

    def restart(self) -> None:
        with self._lock:
            self._restart = True
        self._wake.set()

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
        result: ExitResult | None = None
        if self.recovered is not None and self.recovered.handle is not None:
            self.handle = self.recovered.handle
            self.handle.watch(self._wake.set)
            pid = self.handle.pid
            log.info("alloc=%s task=%s re-attached pid=%d", self.alloc_id, self.name, pid)

            def adopt(ts: TaskState) -> None:
                ts.state, ts.pid = TaskRunState.RUNNING, pid

            self._set(adopt)
        elif self.recovered is not None and self.recovered.missed_exit is not None:
            result = self.recovered.missed_exit
        elif self._kill:
            self._finish_killed(None)
            return
        elif not self._prestart():
            return
        while True:
            if self.handle is None and result is None:
                if self._kill:
                    self._finish_killed(None)
                    return
                with self._lock:
                    self._restart = False  # a restart asked while not running is served by this start
                self.handle, result = self._launch()
            if self.handle is not None:
                outcome = self._watch(self.handle)
                if outcome == "detach":
                    return
                if outcome == "kill":
                    self.host.before_kill(self.name)
                    self._kill_handle(self.handle)
                    self._finish_killed(self.handle)
                    return
                if outcome == "restart":
                    self._emit(status.event(status.RESTART_SIGNALED, "User requested restart"))
                    self._kill_handle(self.handle)
                    res = self.handle.result() or ExitResult(-1)
                    self._terminated(res)
                    self._cleanup_handle(self.handle)
                    self.handle = None
                    self._emit(status.event(status.RESTARTING, "Task restarting in 0s"), _count_restart)
                    continue
                result = self.handle.result() or ExitResult(-1)
                self._cleanup_handle(self.handle)
                self.handle = None
            assert result is not None
            if self._kill:
                self._terminated(result)
                self._finish_killed(None)
                return
            self._terminated(result)
            decision = restarts.decide(
                self.policy,
                self.tracker,
                now=time.time(),
                job_type=self.job_type,
                exit_ok=result.successful,
                lifecycle=self.task.lifecycle,
            )
            self.tracker = decision.tracker
            self._save_tracker()
            handles.forget(self.alloc_dir.state, self.name)
            result = None
            if decision.action == restarts.Action.COMPLETE:
                self._dead(failed=False)
                return
            if decision.action == restarts.Action.FAIL:
                self._emit(
                    status.event(status.NOT_RESTARTING, decision.reason, details={"fails_task": "true"})
                )
                self._dead(failed=True)
                return
            self._emit(status.event(status.RESTARTING, decision.reason), _count_restart)
            if self._sleep(decision.delay):
                if not self._detached:
                    self._finish_killed(None)
                return

    # steps -------------------------------------------------------------------------------
    def _prestart(self) -> bool:
        self._emit(status.event(status.SETUP, "Building Task Directory"))
        if self.driver is None:
            self._emit(
                status.event(
                    status.DRIVER_FAILURE, f"driver {self.driver_name!r} is not available on this node"
                )
            )
            self._dead(failed=True)
            return False
        fp = self.driver.fingerprint()
        if not (fp.detected and fp.healthy):
            self._emit(
                status.event(
                    status.DRIVER_FAILURE,
                    f"driver {self.driver_name!r} is not usable on this node: {fp.description}",
                )
            )
            self._dead(failed=True)
            return False
        errors = self.driver.validate(self.config)
        if errors:
            self._emit(status.event(status.VALIDATION_FAILED, "; ".join(errors)))
            self._dead(failed=True)
            return False
        if not self._write_payload():
            return False
        task_dir = self.alloc_dir.task_dir(self.name)
        if self.task.artifacts:
            self._emit(status.event(status.DOWNLOADING, "Client is downloading artifacts"))
            for art in self.task.artifacts:
                try:
                    artifacts.fetch(art, task_dir=task_dir, alloc_root=self.alloc_dir.root)
                except artifacts.ArtifactError as exc:
                    self._emit(status.event(status.ARTIFACT_FAILED, str(exc)))
                    self._dead(failed=True)
                    return False
        if self.task.templates:
            try:
                templates.render_all(
                    self.task.templates, self.env, task_dir=task_dir, alloc_root=self.alloc_dir.root
                )
            except (templates.TemplateError, OSError) as exc:
                self._emit(status.event(status.TEMPLATE_FAILED, str(exc)))
                self._dead(failed=True)
                return False
        return True

    def _write_payload(self) -> bool:
        """The dispatch payload into `local/<file>` before artifacts and templates, as Nomad's
        dispatch_payload hook; False (the task failed) if it cannot be written."""
        if self.task.dispatch_payload is None:
            return True
        try:
            self.alloc_dir.write_payload(self.name, self.task.dispatch_payload.file, self.payload)
        except (PathEscapeError, OSError) as exc:
            self._emit(status.event(status.SETUP_FAILURE, f"failed to write the dispatch payload: {exc}"))
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
        msg = f"Exit Code: {res.exit_code}" + (f", Signal: {res.signal}" if res.signal else "")
        if res.oom_killed:
            msg += ", OOM Killed"
        if res.message:
            msg += f" ({res.message})"
        details = {"exit_code": str(res.exit_code), "signal": str(res.signal)}
        if res.oom_killed:
            details["oom_killed"] = "true"

        def fn(ts: TaskState) -> None:
            ts.pid = 0
            ts.finished_at = time.time()

        self._emit(
            status.event(
                status.TERMINATED, msg, exit_code=res.exit_code, sig=res.signal or None, details=details
            ),
            fn,
        )

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
