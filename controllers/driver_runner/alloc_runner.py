"""One allocation on this node: its directory, one TaskRunner per task, its AllocStatus.

The runner owns the allocation's observed state (task states and events) and hands a copy
to the status writer whenever it changes. Group rules, as in Nomad: when a task fails, its
siblings are killed; when the `leader` task ends, the others are killed. Tasks start in
their `lifecycle` order (`lifecycle.py`: prestart, main, poststart, poststop; sidecars end
with the main tasks). A stop (desired status stop/evict) kills every task, then runs the
poststop tasks; a removed allocation is killed and its directory deleted. Restored state
and re-attach come in through `restored` / `handles.recover`. A replacement with a sticky
or migrating `ephemeral_disk` first waits for its previous allocation and takes over its
data, on a thread of its own (`prev_alloc.py`), before its tasks are set up.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from controllers.driver_runner import handles, lifecycle, status, volumes
from controllers.driver_runner.catalog import CATALOG_GRACE, CatalogView
from controllers.driver_runner.drivers import TaskDriver
from controllers.driver_runner.prev_alloc import Decision, Handover, PrevAllocs
from controllers.driver_runner.task_runner import TaskRunner
from reconciler.model import taskenv
from reconciler.model.alloc_dir import AllocDir
from reconciler.model.children import payload_bytes
from reconciler.model.job import SECOND, Job, LifecycleHook, TaskGroup
from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, DesiredStatus, Node, TaskState

log = logging.getLogger(__name__)


@dataclass
class RunnerDeps:
    """What every allocation runner shares, handed in by the agent."""

    data_dir: Path
    node: Node
    drivers: dict[str, TaskDriver]
    on_change: Callable[[AllocRunner], None]
    catalog: CatalogView | None = None  # None: no catalog to leave first (tests of the driver alone)
    task_env: tuple[str, ...] = ()  # agent variables the operator lets tasks inherit (--task-env)
    previous: PrevAllocs | None = None  # None: no hand-over of a previous allocation's data
    # host directories `file` artifacts may be read from beyond the allocation's (review M6)
    artifact_file_roots: tuple[str, ...] = ()


class AllocRunner:
    def __init__(
        self, deps: RunnerDeps, alloc: Allocation, job: Job, *, restored: AllocStatus | None = None
    ) -> None:
        self.deps = deps
        self.alloc = alloc
        self.job = job
        self.id = alloc.id
        self.dir = AllocDir(deps.data_dir, alloc.id)
        self._lock = threading.RLock()
        self.status = AllocStatus(alloc_id=alloc.id, node_id=deps.node.id)
        if restored is not None:
            self.status = copy.deepcopy(restored)
            self.status.node_id = deps.node.id
        self.tasks: dict[str, TaskRunner] = {}
        self._stopping = False
        self._left_catalog = threading.Event()
        self._catalog_lock = threading.Lock()
        self._aborted = threading.Event()
        self.all_done = threading.Event()
        self._leader = ""
        self._launched: set[str] = set()  # tasks whose runner was started (lifecycle order)
        self._handover_cancel = threading.Event()  # set to stop waiting for a previous allocation

    # wiring ------------------------------------------------------------------------------
    def start(self) -> None:
        group = self.job.group(self.alloc.task_group)
        if group is None:
            self._fail(f"task group {self.alloc.task_group!r} not in job version {self.alloc.job_version}")
            return
        names = [t.name for t in group.tasks]
        self.dir.build(names)
        d = self._handover(group)
        if d.kind == Handover.NONE:
            self._set_up(group, names)
            return
        threading.Thread(
            target=self._after_previous, args=(group, names, d), name=f"handover:{self.id[:8]}", daemon=True
        ).start()

    def _handover(self, group: TaskGroup) -> Decision:
        prev = self.deps.previous
        if prev is None or self.status.task_states:  # restored: its tasks were set up already
            return Decision(Handover.NONE)
        return prev.decide(self.alloc, group, self.deps.node.id)

    def _after_previous(self, group: TaskGroup, names: list[str], d: Decision) -> None:
        """Wait for the previous allocation and take its data, then set the tasks up."""
        assert self.deps.previous is not None
        cancel = self._handover_cancel
        try:
            note = self.deps.previous.hand_over(self.alloc, names, d, cancel)
        except Exception as exc:  # the replacement runs without the data rather than not at all
            log.exception("alloc=%s hand-over failed", self.id)
            note = f"data of previous allocation not migrated: {exc}"
        if self._stopping:  # stopped (or removed) while it waited: nothing of it ever ran
            with self._lock:
                self.status.client_status = ClientStatus.COMPLETE
                self.status.client_description = "stopped while waiting for its previous allocation"
            self.all_done.set()
            self.deps.on_change(self)
            return
        if cancel.is_set():
            return  # the agent is shutting down: the next one does it again
        self._set_up(group, names, note=note)

    def _set_up(self, group: TaskGroup, names: list[str], *, note: str = "") -> None:
        try:
            volumes.link_mounts(group, self.deps.node.host_volumes, self.dir)
        except (volumes.VolumeError, OSError) as exc:
            self._fail(f"failed to set up host volumes: {exc}")
            return
        fresh = not self.status.task_states
        runners: dict[str, TaskRunner] = {}  # published at once: this may run on the hand-over's thread
        for task in group.tasks:
            if task.leader:
                self._leader = task.name
            ts = self.status.task_states.get(task.name)
            restored = copy.deepcopy(ts) if ts is not None else None
            if ts is None:
                ts = TaskState(events=[status.event(status.RECEIVED, "Task received by client")])
                if note:
                    ts.events.append(status.event(status.SETUP, note))
                self.status.task_states[task.name] = ts
            recovered = handles.recover(self.dir.state, task.name)
            driver = self.deps.drivers.get(task.driver)
            inputs = taskenv.EnvInputs(self.alloc, self.job, group, task, self.deps.node, self.dir)
            env = taskenv.build_env(inputs, base=taskenv.inherited_env(os.environ, self.deps.task_env))
            config = taskenv.interpolate(task.config, env, taskenv.node_values(self.deps.node))
            runners[task.name] = TaskRunner(
                host=self,
                alloc_id=self.id,
                alloc_dir=self.dir,
                task=task,
                config=config,
                env=env,
                driver=driver,
                driver_name=task.driver,
                policy=self.job.restart_for(group, task),
                job_type=self.job.type,
                restored=restored,
                recovered=recovered,
                payload=payload_bytes(self.job),
                volumes=volumes.host_paths(group, self.deps.node.host_volumes, task),
                artifact_file_roots=self.deps.artifact_file_roots,
            )
        with self._lock:
            self.tasks = runners
        log.info("alloc=%s starting tasks=%s fresh=%s", self.id, ",".join(names), fresh)
        self._refresh()
        if self.alloc.desired_status != DesiredStatus.RUN:
            self.stop()
        else:
            self._coordinate()
        if not self.tasks:
            self.all_done.set()

    def _fail(self, description: str) -> None:
        """The allocation fails before any task starts (nothing to run or to set up)."""
        log.warning("alloc=%s failed: %s", self.id, description)
        with self._lock:
            self.status.client_status = ClientStatus.FAILED
            self.status.client_description = description
        self.all_done.set()
        self.deps.on_change(self)

    # TaskHost ----------------------------------------------------------------------------
    def update_task(self, task: str, fn: Callable[[TaskState], None]) -> None:
        with self._lock:
            fn(self.status.task_states.setdefault(task, TaskState()))
            self._refresh()
            self._coordinate()

    def _waits_for_the_end(self, task: str) -> bool:
        """A poststop task not started yet: no kill reaches it, it runs after the others."""
        tr = self.tasks.get(task)
        lc = tr.task.lifecycle if tr is not None else None
        return task not in self._launched and lc is not None and lc.hook == LifecycleHook.POSTSTOP

    def _coordinate(self) -> None:
        """Start the tasks whose turn has come and end the sidecars whose main tasks ended."""
        with self._lock:
            group = self.job.group(self.alloc.task_group)
            if group is None or self._aborted.is_set() or len(self.tasks) < len(group.tasks):
                return  # not wired yet, or the agent is leaving the tasks to its successor
            view = lifecycle.members(group.tasks, self.status.task_states, self._launched)
            if not self._stopping:
                for name in lifecycle.to_end(view):
                    self.tasks[name].kill(status.event(status.MAIN_DEAD, "Main tasks in the group died"))
            for name in lifecycle.to_launch(view, stopping=self._stopping):
                self._launched.add(name)
                self.tasks[name].start()

    def task_finished(self, task: str) -> None:
        with self._lock:
            ts = self.status.task_states.get(task)
            failed = bool(ts and ts.failed)
            others = [
                tr
                for n, tr in self.tasks.items()
                if n != task and not tr.done.is_set() and not self._waits_for_the_end(n)
            ]
            if others and not self._stopping:
                if failed:
                    for tr in others:
                        tr.kill(status.event(status.SIBLING_FAILED, f"Task's sibling {task!r} failed"))
                elif task == self._leader:
                    for tr in others:
                        tr.kill(status.event(status.LEADER_DEAD, "Leader Task in Group dead"))
            self._coordinate()
            if all(tr.done.is_set() for tr in self.tasks.values()):
                self.all_done.set()

    def before_kill(self, task: str) -> None:
        """Nomad's stop order for a stopping allocation: its services leave the catalog (the
        registrar deletes them; this waits until the agent's cache shows it), then the
        group's `shutdown_delay`, then the task's; only then does the kill signal go out.
        Kills that are not a stop (a sibling failed, the leader ended) go ahead at once."""
        with self._lock:
            stopping = self._stopping
            group = self.job.group(self.alloc.task_group)
        if not stopping or group is None:
            return
        self._leave_catalog()
        spec = next((t for t in group.tasks if t.name == task), None)
        delay = (group.shutdown_delay + (spec.shutdown_delay if spec is not None else 0)) / SECOND
        if delay > 0:
            self.update_task(
                task,
                lambda ts: ts.events.append(
                    status.event(
                        status.WAITING_SHUTDOWN_DELAY,
                        f"Waiting for shutdown_delay of {delay:g}s before killing the task",
                    )
                ),
            )
            self._aborted.wait(delay)

    def _leave_catalog(self) -> None:
        """Wait once per allocation (every task's thread calls this; the first one waits)."""
        catalog = self.deps.catalog
        with self._catalog_lock:
            if self._left_catalog.is_set() or catalog is None:
                return
            if catalog.registered(self.id):
                if catalog.wait_deregistered(self.id):
                    log.info(
                        "alloc=%s left the service catalog; killing tasks after %.2fs", self.id, CATALOG_GRACE
                    )
                    self._aborted.wait(CATALOG_GRACE)
                else:
                    log.warning(
                        "alloc=%s still in the service catalog after the wait; killing anyway", self.id
                    )
            self._left_catalog.set()

    def _refresh(self) -> None:
        with self._lock:
            cs = status.client_status(self.status.task_states)
            self.status.client_status = cs
            self.status.client_description = status.describe(cs, self.status.task_states)
            self.status.modify_time = time.time()
        self.deps.on_change(self)

    # control -----------------------------------------------------------------------------
    def snapshot(self) -> AllocStatus:
        with self._lock:
            return copy.deepcopy(self.status)

    def update(self, alloc: Allocation) -> None:
        self.alloc = alloc
        if alloc.desired_status != DesiredStatus.RUN:
            self.stop()

    def stop(self, *, leave_catalog: bool = True) -> None:
        """Stop every task (Nomad's order, see `before_kill`). `leave_catalog=False`: do not
        wait for the services to leave the catalog first (a client cut off from etcd cannot
        see that happen, and its entries expire with its lease anyway)."""
        if not leave_catalog:
            self._left_catalog.set()
        self._handover_cancel.set()
        with self._lock:
            self._stopping = True
            runners = [tr for n, tr in self.tasks.items() if not self._waits_for_the_end(n)]
        for tr in runners:
            tr.kill()
        self._coordinate()

    def detach(self) -> None:
        """Leave every task running and stop supervising them (agent shutdown)."""
        self._aborted.set()
        self._handover_cancel.set()
        for tr in self.tasks.values():
            tr.detach()

    def restart(self, task: str = "", *, failure: str = "") -> bool:
        """Restart the tasks (all, or `task`); a `failure` reason counts against the restart policy."""
        found = False
        for name, tr in self.tasks.items():
            if (not task or task == name) and not tr.done.is_set():
                tr.restart(failure)
                found = True
        return found

    def signal(self, task: str, name: str) -> bool:
        """Send signal `name` to the running tasks (all, or `task`); whether one got it."""
        sent = False
        for tname, tr in self.tasks.items():
            if not task or task == tname:
                try:
                    sent = tr.signal(name) or sent
                except ValueError as exc:  # refused by the API already; a stored request may be older
                    log.warning("alloc=%s task=%s signal %r: %s", self.id, tname, name, exc)
        return sent

    def wait(self, timeout: float | None = None) -> bool:
        return self.all_done.wait(timeout)

    def destroy(self, timeout: float = 60.0) -> None:
        """Kill everything and delete the allocation directory."""
        self.stop()
        self.wait(timeout)
        shutil.rmtree(self.dir.root, ignore_errors=True)

    def running_pids(self) -> dict[str, int]:
        return {n: tr.handle.pid for n, tr in self.tasks.items() if tr.handle is not None}
