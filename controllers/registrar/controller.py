"""The registrar controller: level-triggered reconcile of one allocation's catalog entries.

It watches the allocations placed on its node and their observed status; `reconcile(alloc)`
computes the registrations that should exist (pure `desired_registrations`), puts the
missing or changed ones bound to the registrar's lease, deletes the rest, and keeps the
check runner's set of checks in step. The entries are bound to one `KeptLease`: when the
node agent dies, every entry of the node disappears with it, and a lost lease (etcd
restarted, a long pause) is replaced and everything re-registered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from controllers.registrar.check_runner import CheckRunner, CheckSpec, Probe
from controllers.registrar.desired import (
    desired_registrations,
    runtime_env,
    same_registration,
    should_register,
)
from controllers.registrar.probes import GrpcProbe, HttpProbe, ScriptProbe, TcpProbe
from reconciler.model import sandbox_exec
from reconciler.model.alloc_dir import AllocDir
from reconciler.model.job import MIN_SCRIPT_INTERVAL, SECOND, Check, Job
from reconciler.model.objects import Allocation, AllocStatus, Deployment, Node
from reconciler.model.services import CheckState, CheckStatus, RegisteredCheck, ServiceRegistration
from reconciler.model.taskenv import interpolate_str, node_values
from reconciler.ops.allocs import restart_alloc
from reconciler.runtime import Controller, JobVersions, Requeue
from reconciler.store import KeptLease, Store


def check_interval(c: Check) -> float:
    """Seconds between runs: a script check no faster than MIN_SCRIPT_INTERVAL whatever the
    stored job says (validation refuses it on submission; review H4), others 50 ms at least."""
    floor = MIN_SCRIPT_INTERVAL / SECOND if c.type == "script" else 0.05
    return max(c.interval / SECOND, floor)


class Registrar(Controller):
    name = "registrar"
    workers = 2

    def __init__(
        self,
        store: Store,
        node: Node,
        *,
        data_dir: Path | None = None,
        lease_ttl: int = 10,
        check_workers: int = 8,
    ) -> None:
        super().__init__(store)
        self.node = node
        self.data_dir = data_dir
        self.lease_ttl = lease_ttl
        self.check_workers = check_workers
        tag = node.id[:8]
        self.allocs = self.informer(self.keys.allocs, Allocation, name=f"registrar:{tag}:allocs")
        self.allocs.add_index("node", lambda a: [a.node_id])
        self.allocs.add_handler(self._on_alloc)
        self.statuses = self.informer(self.keys.alloc_statuses, AllocStatus, name=f"registrar:{tag}:status")
        self.statuses.add_handler(self._on_status)
        self.services = self.informer(
            self.keys.services, ServiceRegistration, name=f"registrar:{tag}:services"
        )
        self.services.add_index("alloc", lambda s: [s.alloc_id])
        self.services.add_handler(self._on_service)
        # a canary's registration changes when its deployment promotes it (canary_tags go)
        self.deployments = self.informer(
            self.keys.deployments, Deployment, name=f"registrar:{tag}:deployments"
        )
        self.deployments.add_handler(self._on_deployment)
        self.runner: CheckRunner | None = None
        self._lease: KeptLease | None = None
        self._lease_lock = threading.Lock()
        self._stopping = threading.Event()  # no new lease once set
        # what this process wrote: key -> (registration, lease id); an entry written under a
        # lost lease (or by an earlier process) is written again
        self._written: dict[str, tuple[ServiceRegistration, int]] = {}
        self._checks_of: dict[str, set[str]] = {}  # alloc id -> check keys running
        self._versions = JobVersions(store)

    # event handlers ----------------------------------------------------------------------
    def _on_alloc(self, key: str, old: Allocation | None, new: Allocation | None) -> None:
        obj = new or old
        if obj is not None and (
            obj.node_id == self.node.id or (old is not None and old.node_id == self.node.id)
        ):
            self.enqueue(obj.id)

    def _on_status(self, key: str, old: AllocStatus | None, new: AllocStatus | None) -> None:
        obj = new or old
        if obj is not None and obj.node_id == self.node.id:
            old_state = old.client_status if old else None
            new_state = new.client_status if new else None
            if old_state != new_state:
                self.enqueue(obj.alloc_id)

    def _on_service(self, key: str, old: ServiceRegistration | None, new: ServiceRegistration | None) -> None:
        if new is None and old is not None and old.node_id == self.node.id and key in self._written:
            self.enqueue(old.alloc_id)  # deleted behind our back (lease lost): look again

    def _on_deployment(self, key: str, old: Deployment | None, new: Deployment | None) -> None:
        dep = new or old
        if dep is None or _promotions(old) == _promotions(new):
            return
        for a in self.allocs.by_index("node", self.node.id):
            if a.canary and a.deployment_id == dep.id:
                self.enqueue(a.id)

    def _promoted(self, alloc: Allocation) -> bool:
        """Whether a canary's deployment has promoted its group; a canary whose deployment is
        gone (garbage-collected after it finished) outlived it, so it was promoted."""
        if not alloc.canary:
            return False
        dep = self.deployments.get(self.keys.deployment(alloc.deployment_id)) if alloc.deployment_id else None
        if dep is None:
            return True
        state = dep.task_groups.get(alloc.task_group)
        return state is not None and state.promoted

    # lifecycle ---------------------------------------------------------------------------
    def on_start(self) -> None:
        self.runner = CheckRunner(workers=self.check_workers, name=f"checks-{self.node.id[:8]}")
        self._stopping.clear()
        self._ensure_lease()
        ours = {a.id for a in self.allocs.by_index("node", self.node.id)}
        ours |= {s.alloc_id for s in self.services.list() if s.node_id == self.node.id and not s.source}
        for alloc_id in ours:
            self.enqueue(alloc_id)

    def on_stop(self) -> None:
        """Deregister everything: a stopped registrar's entries must not outlive it."""
        self._stopping.set()
        if self.runner is not None:
            self.runner.stop()
            self.runner = None
        with self._lease_lock:
            lease, self._lease = self._lease, None
        if lease is not None:
            lease.stop(revoke=True)
        self._written.clear()
        self._checks_of.clear()

    def _ensure_lease(self) -> KeptLease:
        """The lease the entries are bound to; a new one if there is none or it was lost."""
        with self._lease_lock:
            if self._lease is None or self._lease.lost.is_set():
                self._lease = KeptLease.grant(
                    self.store, self.lease_ttl, name=f"registrar:{self.node.id[:8]}"
                )
                self._lease.start(on_lost=self._lease_lost)
            return self._lease

    def _lease_lost(self) -> None:
        """Everything written under the lost lease is gone: write it all again (under a new
        lease, granted on first use)."""
        self.log.warning("node=%s registrar lease lost; re-registering", self.node.id)
        for a in self.allocs.by_index("node", self.node.id):
            self.enqueue(a.id)
        if self.runner is not None:
            self.runner.reannounce()

    # reconcile ---------------------------------------------------------------------------
    def _job(self, alloc: Allocation) -> Job | None:
        rec = self._versions.get(alloc.namespace, alloc.job_id, alloc.job_version)
        return rec.job if rec is not None else None

    def reconcile(self, key: str) -> Requeue | None:
        alloc_id = key
        alloc = self.allocs.get(self.keys.alloc(alloc_id))
        status = self.statuses.get(self.keys.alloc_status(alloc_id))
        if alloc is not None and alloc.node_id != self.node.id:
            alloc = None
        job = None
        if should_register(alloc, status):
            assert alloc is not None
            job = self._job(alloc)
            if job is None:
                self.log.warning(
                    "alloc=%s job %s version %d not found yet", alloc_id, alloc.job_id, alloc.job_version
                )
                return Requeue(1.0)
        promoted = alloc is not None and self._promoted(alloc)
        desired = desired_registrations(alloc, status, job, self.node, now=time.time(), promoted=promoted)
        lease = self._ensure_lease()
        want: dict[str, ServiceRegistration] = {
            self.keys.service(r.service_name, r.alloc_id, r.port_label): r for r in desired
        }
        for k, reg in want.items():
            prev = self._written.get(k)
            if prev is not None and prev[1] == lease.id and same_registration(prev[0], reg):
                continue
            if prev is not None:
                reg.create_time = prev[0].create_time
            self.store.put(k, reg, lease=lease.id)
            self._written[k] = (reg, lease.id)
            self.log.info(
                "alloc=%s service=%s registered %s:%d tags=%s",
                alloc_id,
                reg.service_name,
                reg.address,
                reg.port,
                reg.tags,
            )
        stale = set(self.services.keys_by_index("alloc", alloc_id))
        # a snapshot: the other worker may be adding keys of another allocation meanwhile
        stale |= {k for k, (r, _) in list(self._written.items()) if r.alloc_id == alloc_id}
        for k in stale - set(want):
            self.store.delete(k)
            self._written.pop(k, None)
            self.log.info("alloc=%s deregistered key=%s", alloc_id, k)
        self._sync_checks(alloc_id, alloc, job, desired)
        return None

    def _sync_checks(
        self, alloc_id: str, alloc: Allocation | None, job: Job | None, desired: list[ServiceRegistration]
    ) -> None:
        runner = self.runner
        if runner is None:
            return
        want: dict[str, CheckSpec] = {}
        if alloc is not None and job is not None:
            for reg in desired:
                for rc in reg.checks:
                    ck = self.keys.check(alloc_id, rc.id)
                    want[ck] = self._spec(ck, alloc, job, reg, rc)
        have = self._checks_of.get(alloc_id, set())
        for ck in have - set(want):
            runner.remove(ck)
        for ck, spec in want.items():
            runner.set(ck, spec)
        if want:
            self._checks_of[alloc_id] = set(want)
        else:
            self._checks_of.pop(alloc_id, None)
        if not want:
            self.store.delete_prefix(self.keys.checks + alloc_id + "/")
        else:
            for ck in have - set(want):
                self.store.delete(ck)

    def _spec(
        self, ck: str, alloc: Allocation, job: Job, reg: ServiceRegistration, rc: RegisteredCheck
    ) -> CheckSpec:
        c = rc.check
        timeout = max(c.timeout / SECOND, 0.05)
        probe: Probe
        port = reg.port
        if c.port:
            port = next(
                (p.value for p in alloc.ports if p.label == c.port), int(c.port) if c.port.isdigit() else port
            )
        task = c.task or reg.task
        group = job.group(alloc.task_group)
        ad = AllocDir(self.data_dir, alloc.id) if self.data_dir is not None else None
        env = runtime_env(alloc, job, group, task, self.node, ad) if group is not None else {}
        extra = node_values(self.node)

        def interpolate(text: str, env: dict[str, str]) -> str:
            return interpolate_str(text, env, extra)

        if c.type == "tcp":
            probe = TcpProbe(reg.address, port, timeout)
        elif c.type == "grpc":
            probe = GrpcProbe(reg.address, port, interpolate(c.grpc_service, env), c.grpc_use_tls, timeout)
        elif c.type == "script":
            probe = self._script_probe(c, ad, task, env, interpolate, timeout)
        else:
            headers = {k: [interpolate(v, env) for v in vs] for k, vs in c.header.items()}
            probe = HttpProbe(
                reg.address,
                port,
                interpolate(c.path or "/", env),
                c.method or "GET",
                headers,
                c.protocol or "http",
                timeout,
            )
        names = (reg.service_name, c.name or rc.id, rc.id)

        def write(status: CheckState, output: str) -> None:
            if self._stopping.is_set():
                return
            lease = self._ensure_lease()
            self.store.put(
                ck,
                CheckStatus(
                    alloc_id=alloc.id,
                    check_id=names[2],
                    check_name=names[1],
                    service_name=names[0],
                    status=status,
                    output=output,
                    time=time.time(),
                ),
                lease=lease.id,
            )
            self.log.info("alloc=%s check=%s status=%s", alloc.id, names[2], status)

        def restart() -> None:
            if self._stopping.is_set():
                return
            reason = f'healthcheck: check "{names[1]}" unhealthy'
            self.log.info("alloc=%s task=%s check=%s restarting: %s", alloc.id, task or "*", names[2], reason)
            restart_alloc(self.store, alloc.id, task, failure=reason)

        rule = c.check_restart
        return CheckSpec(
            probe=probe,
            interval=check_interval(c),
            success_before_passing=c.success_before_passing,
            failures_before_critical=c.failures_before_critical,
            failures_before_warning=c.failures_before_warning,
            initial_status=c.initial_status,
            restart=rule if rule is not None and rule.limit > 0 else None,
            on_change=write,
            on_restart=restart,
        )

    def _script_probe(
        self,
        c: Check,
        ad: AllocDir | None,
        task: str,
        env: dict[str, str],
        interpolate: Callable[[str, dict[str, str]], str],
        timeout: float,
    ) -> ScriptProbe:
        """A script check; for a task in a sandbox (exec, java) it runs inside it (review
        H4), so its paths are the task's: `NOMAD_TASK_DIR` is `/local` there, as in Nomad."""
        cwd = ad.task_dir(task) if ad is not None and task else None
        spec = ad.read_launch_spec(task) if ad is not None and task else {}
        if sandbox_exec.sandbox_settings(spec) is not None:
            task_env = spec.get("env") or {}
            env = {**env, **{k: task_env[k] for k in sandbox_exec.TASK_DIR_VARS if k in task_env}}
        return ScriptProbe(
            interpolate(c.command, env),
            tuple(interpolate(a, env) for a in c.args),
            cwd,
            env,
            timeout,
            state=ad.state if ad is not None else None,
            task=task,
        )


def _promotions(dep: Deployment | None) -> dict[str, bool]:
    return {g: s.promoted for g, s in dep.task_groups.items()} if dep is not None else {}
