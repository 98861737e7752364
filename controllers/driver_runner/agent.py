"""The node agent: registers this node, watches the allocations placed on it and runs them.

    agent = NodeAgent(store, data_dir=Path("/var/lib/reconciler"), node_name="n1",
                      raw_exec_enabled=True)
    agent.start()          # fingerprint, register, heartbeat, re-attach, run allocations
    agent.stop()           # leaves tasks running (a new agent re-attaches to them)
    agent.stop(drain=True) # kills every task first and revokes the heartbeat lease

It is a controller on the shared runtime: an informer on `allocs/` indexed by node id
feeds allocation ids to `reconcile`, which asks `runner_action` (pure) whether to create,
update or destroy an AllocRunner, or to leave it, and does that.
Restart requests (`alloc_restarts/<id>`, written by the API) are consumed the same way, and
so are signal requests (`alloc_signals/<id>`).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from controllers.driver_runner import cgroups, fingerprint, handles, procfs
from controllers.driver_runner.alloc_runner import AllocRunner, RunnerDeps
from controllers.driver_runner.catalog import CatalogView
from controllers.driver_runner.drivers import build_drivers
from controllers.driver_runner.node import Heartbeat, check_cluster, load_node_id
from controllers.driver_runner.prev_alloc import PrevAllocs
from controllers.driver_runner.status_writer import StatusWriter
from reconciler.model.alloc_dir import AllocDir
from reconciler.model.ids import AllocId, NodeId, is_valid_name
from reconciler.model.job import SECOND
from reconciler.model.objects import (
    Allocation,
    AllocRestartRequest,
    AllocSignalRequest,
    AllocStatus,
    DesiredStatus,
    HostVolume,
    JobRecord,
    Node,
    NodeResources,
    NodeStatus,
)
from reconciler.model.services import ServiceRegistration
from reconciler.runtime import Controller, JobVersions, Requeue
from reconciler.store import Store, StoreError, Txn

log = logging.getLogger(__name__)


class RunnerAction(StrEnum):
    CREATE = "create"  # start an AllocRunner (or re-attach to the tasks a previous agent left)
    UPDATE = "update"  # hand the runner the allocation's new state (stop, in-place update)
    DESTROY = "destroy"  # the allocation is gone or moved away: kill its tasks, drop its dir
    IGNORE = "ignore"


def cut_off_stops(limits: Mapping[str, float | None], away: float) -> list[str]:
    """The allocations to stop because this client has been cut off for `away` seconds
    (pure): those whose group's `stop_on_client_after` (`limits`, seconds; None: never)
    has passed. Nomad's client heartbeat stop."""
    return sorted(aid for aid, limit in limits.items() if limit is not None and away >= limit)


def runner_action(
    alloc: Allocation | None, *, node_id: str, has_runner: bool, started_here: bool
) -> RunnerAction:
    """What the node agent does for one allocation (pure). `started_here`: a previous
    agent reported it, or its directory exists (so a stop has something to stop)."""
    if alloc is None or alloc.node_id != node_id:
        return RunnerAction.DESTROY if has_runner else RunnerAction.IGNORE
    if has_runner:
        return RunnerAction.UPDATE
    if alloc.desired_status != DesiredStatus.RUN and not started_here:
        return RunnerAction.IGNORE  # never started here: nothing to stop
    return RunnerAction.CREATE


def _stop_after(runner: AllocRunner) -> float | None:
    g = runner.job.group(runner.alloc.task_group)
    limit = g.stop_after() if g is not None else None
    return None if limit is None else limit / SECOND


def reachable_http_addr(http_addr: str, address: str) -> str:
    """The node's HTTPAddr as other agents reach it (they fetch migrating data there): an
    API bound to every interface (0.0.0.0, ::) is advertised at the node's address."""
    host, sep, port = http_addr.rpartition(":")
    if sep and host.strip("[]") in ("0.0.0.0", "::", ""):
        return f"{address}:{port}"
    return http_addr


class AllocWatcher(Controller):
    name = "driver-runner"
    workers = 4  # measured: 8 workers were slower (GIL contention with the task threads)

    def __init__(self, agent: NodeAgent) -> None:
        super().__init__(agent.store)
        self.agent = agent
        node_id = agent.node.id
        self.allocs = self.informer(self.keys.allocs, Allocation, name=f"driver-runner:{node_id[:8]}:allocs")
        self.allocs.add_index("node", lambda a: [a.node_id])
        self.allocs.add_handler(self._on_alloc)
        self.restarts = self.informer(
            self.keys.alloc_restarts, AllocRestartRequest, name=f"driver-runner:{node_id[:8]}:restarts"
        )
        self.restarts.add_handler(self._on_restart)
        self.signals = self.informer(
            self.keys.alloc_signals, AllocSignalRequest, name=f"driver-runner:{node_id[:8]}:signals"
        )
        self.signals.add_handler(self._on_signal)
        self.catalog = CatalogView(
            self.informer(
                self.keys.services, ServiceRegistration, name=f"driver-runner:{node_id[:8]}:services"
            )
        )

    def _on_alloc(self, key: str, old: Allocation | None, new: Allocation | None) -> None:
        obj = new or old
        if obj is not None and (
            obj.node_id == self.agent.node.id or (old is not None and old.node_id == self.agent.node.id)
        ):
            self.enqueue("alloc/" + obj.id)

    def _on_restart(self, key: str, old: AllocRestartRequest | None, new: AllocRestartRequest | None) -> None:
        if new is not None:
            self.enqueue("restart/" + self.keys.last_segment(key))

    def _on_signal(self, key: str, old: AllocSignalRequest | None, new: AllocSignalRequest | None) -> None:
        if new is not None:
            self.enqueue("signal/" + self.keys.last_segment(key))

    def on_start(self) -> None:
        mine = self.allocs.by_index("node", self.agent.node.id)
        self.agent.collect_orphans({a.id for a in mine})
        for a in mine:
            self.enqueue("alloc/" + a.id)
        for restart in self.restarts.items():
            self.enqueue("restart/" + self.keys.last_segment(restart.key))
        for sig in self.signals.items():
            self.enqueue("signal/" + self.keys.last_segment(sig.key))

    def reconcile(self, key: str) -> Requeue | None:
        kind, _, ident = key.partition("/")
        if kind == "alloc":
            return self.agent.reconcile_alloc(AllocId(ident), self.allocs.get(self.keys.alloc(ident)))
        if kind == "restart":
            self.agent.handle_restart(ident, self.restarts.get(self.keys.alloc_restart(ident)))
        if kind == "signal":
            self.agent.handle_signal(ident, self.signals.get(self.keys.alloc_signal(ident)))
        return None


class NodeAgent:
    def __init__(
        self,
        store: Store,
        *,
        data_dir: Path,
        node_name: str,
        datacenter: str = "dc1",
        bind: str = "127.0.0.1",
        advertise: str = "",
        network_interface: str = "",
        raw_exec_enabled: bool = False,
        enabled_drivers: tuple[str, ...] | None = None,
        meta: dict[str, str] | None = None,
        host_volumes: dict[str, HostVolume] | None = None,
        port_range: tuple[int, int] = (20000, 32000),
        heartbeat_ttl: int = 10,
        node_class: str = "",
        node_pool: str = "default",
        http_addr: str = "",
        task_env: tuple[str, ...] = (),
        reserved_disk: int = 0,
        exec_chroot_env: tuple[str, ...] = (),
        artifact_file_roots: tuple[str, ...] = (),
    ) -> None:
        self.store = store
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        address = advertise or (
            fingerprint.interface_address(network_interface) if network_interface else bind
        )
        self.drivers = build_drivers(
            raw_exec_enabled=raw_exec_enabled, enabled=enabled_drivers, exec_chroot_env=exec_chroot_env
        )
        health, driver_attrs = fingerprint.drivers(self.drivers)
        attrs = fingerprint.attributes(address)
        attrs.update(driver_attrs)
        self.node = Node(
            id=NodeId(load_node_id(self.data_dir)),
            name=node_name,
            datacenter=datacenter,
            address=address,
            http_addr=reachable_http_addr(http_addr, address),
            status=NodeStatus.READY,
            resources=fingerprint.resources(self.data_dir),
            reserved=NodeResources(disk_mb=reserved_disk),
            drivers=health,
            attributes=attrs,
            meta=dict(meta or {}),
            host_volumes=dict(host_volumes or {}),
            min_dynamic_port=port_range[0],
            max_dynamic_port=port_range[1],
            node_class=node_class,
            node_pool=node_pool,
        )
        self.heartbeat = Heartbeat(store, self.node, ttl=heartbeat_ttl)
        self.writer = StatusWriter(store)
        self.deps = RunnerDeps(
            data_dir=self.data_dir,
            node=self.node,
            drivers=self.drivers,
            on_change=self.writer.mark,
            task_env=task_env,
            artifact_file_roots=artifact_file_roots,
        )
        self.deps.previous = PrevAllocs(store, self.data_dir, self.runner)
        self.runners: dict[str, AllocRunner] = {}
        self._lock = threading.Lock()
        self.watcher = AllocWatcher(self)
        self.deps.catalog = self.watcher.catalog
        self._versions = JobVersions(store)
        self._destroying: list[threading.Thread] = []
        self._previous: dict[AllocId, AllocStatus] = {}
        self._halt = threading.Event()
        self._cut_off_stopped: set[str] = set()
        self._cut_off_watch: threading.Thread | None = None

    @property
    def node_id(self) -> str:
        return self.node.id

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        # before anything is collected as an orphan: this data dir is this cluster's (H10)
        check_cluster(self.store, self.data_dir)
        # what a previous agent of this node reported: the state to resume (re-attach).
        # Read once here; allocations placed later have no previous state to look up.
        listed, _ = self.store.list(self.store.keys.alloc_statuses, AllocStatus)
        self._previous = {v.value.alloc_id: v.value for v in listed if v.value.node_id == self.node.id}
        self.heartbeat.register()
        self.heartbeat.start()
        self.writer.start()
        self.watcher.start()
        self._cut_off_watch = threading.Thread(target=self._watch_cut_off, name="cut-off-stop", daemon=True)
        self._cut_off_watch.start()
        log.info("node=%s name=%s registered drivers=%s", self.node.id, self.node.name, self.node.drivers)

    def stop(self, *, drain: bool = False, timeout: float = 60.0) -> None:
        self._halt.set()
        if self._cut_off_watch is not None:
            self._cut_off_watch.join(5)
        self.watcher.stop()
        for t in self._destroying:
            t.join(timeout)
        with self._lock:
            runners = list(self.runners.values())
        if drain:
            for r in runners:
                r.stop()
            for r in runners:
                r.wait(timeout)
        self.writer.stop()
        for r in runners:
            r.detach()
        self.heartbeat.stop(revoke=drain)

    def _watch_cut_off(self) -> None:
        """Once a second: while the heartbeat lease has run out (the cluster counts this
        node gone), stop the allocations whose group says `stop_on_client_after` and whose
        time has come, so none runs beside the replacement the server places then."""
        while not self._halt.wait(1.0):
            away = self.heartbeat.cut_off_for()
            if away <= 0:
                self._cut_off_stopped.clear()
                continue
            with self._lock:
                runners = dict(self.runners)
            limits = {aid: _stop_after(r) for aid, r in runners.items() if aid not in self._cut_off_stopped}
            for aid in cut_off_stops(limits, away):
                log.warning("alloc=%s stopped: this client has been cut off for %.0fs", aid, away)
                self._cut_off_stopped.add(aid)
                runners[aid].stop(leave_catalog=False)

    # reconcile ---------------------------------------------------------------------------
    def _job(self, alloc: Allocation) -> JobRecord | None:
        return self._versions.get(alloc.namespace, alloc.job_id, alloc.job_version)

    def reconcile_alloc(self, alloc_id: AllocId, alloc: Allocation | None) -> Requeue | None:
        with self._lock:
            runner = self.runners.get(alloc_id)
            restored = self._previous.get(alloc_id)
        action = runner_action(
            alloc,
            node_id=self.node.id,
            has_runner=runner is not None,
            started_here=restored is not None or AllocDir(self.data_dir, alloc_id).root.exists(),
        )
        if action == RunnerAction.DESTROY and runner is not None:
            with self._lock:
                self.runners.pop(alloc_id, None)
            t = threading.Thread(
                target=self._destroy, args=(runner,), name=f"destroy:{alloc_id[:8]}", daemon=True
            )
            self._destroying.append(t)
            t.start()
            return None
        if action == RunnerAction.UPDATE and runner is not None and alloc is not None:
            runner.update(alloc)
            return None
        if action != RunnerAction.CREATE or alloc is None:
            return None
        rec = self._job(alloc)
        if rec is None:
            log.warning("alloc=%s job %s version %d not found yet", alloc_id, alloc.job_id, alloc.job_version)
            return Requeue(1.0)
        runner = AllocRunner(self.deps, alloc, rec.job, restored=restored)
        with self._lock:
            self.runners[alloc_id] = runner
            self._previous.pop(alloc_id, None)
        try:
            runner.start()
        except Exception:
            with self._lock:
                self.runners.pop(alloc_id, None)
            raise
        return None

    def collect_orphans(self, known: set[str]) -> list[str]:
        """Allocation directories whose allocation is gone (deleted while no agent ran, or
        moved to another node): kill whatever still runs there and delete the directory."""
        root = self.data_dir / "allocs"
        try:
            names = sorted(os.listdir(root))
        except FileNotFoundError:
            return []
        removed = []
        for name in names:
            if name in known or not is_valid_name(name):
                continue
            adir = AllocDir(self.data_dir, name)
            for f in adir.state.glob("*.handle.json"):
                rec = handles.recover(adir.state, f.name[: -len(".handle.json")])
                if rec is not None and rec.handle is not None:
                    log.info("alloc=%s orphan task pid=%d killed", name, rec.handle.pid)
                    rec.handle.kill_everything()
                    procfs.wait_gone(rec.handle.pid, rec.handle.start, 10)
                    cgroups.remove(rec.handle.cgroup_dirs)
            shutil.rmtree(adir.root, ignore_errors=True)
            try:
                self.store.delete(self.store.keys.alloc_status(name))
            except StoreError as exc:
                log.warning("alloc=%s status delete failed: %s", name, exc)
            removed.append(name)
        return removed

    def _destroy(self, runner: AllocRunner) -> None:
        runner.destroy()
        self.writer.forget(runner.id)
        self.writer.flush()
        try:
            self.store.delete(self.store.keys.alloc_status(runner.id))
        except StoreError as exc:
            log.warning("alloc=%s status delete failed: %s", runner.id, exc)

    def handle_restart(self, alloc_id: str, req: AllocRestartRequest | None) -> None:
        if req is None:
            return
        with self._lock:
            runner = self.runners.get(alloc_id)
        if runner is None:
            # not ours (another node's allocation), or gone
            return
        runner.restart(req.task, failure=req.reason if req.failure else "")
        self.store.delete(self.store.keys.alloc_restart(alloc_id))

    def handle_signal(self, alloc_id: str, req: AllocSignalRequest | None) -> None:
        if req is None:
            return
        with self._lock:
            runner = self.runners.get(alloc_id)
        if runner is None:
            return  # not ours (another node's allocation), or gone
        runner.signal(req.task, req.signal)
        key = self.store.keys.alloc_signal(alloc_id)
        cur = self.store.get(key, AllocSignalRequest)
        if cur is not None and cur.value.request_id == req.request_id:  # not a newer request
            self.store.commit(Txn().compare_mod(key, cur.mod_revision).delete(key))

    # introspection (tests, CLI exec) -----------------------------------------------------
    def runner(self, alloc_id: str) -> AllocRunner | None:
        with self._lock:
            return self.runners.get(alloc_id)
