"""The composition root: the one module in `reconciler` that imports controllers.

`Agent.run()` brings up, in order: the data-dir lock, etcd (embedded or external), the
store, the cluster controllers (leader-elected), the node agent, the HTTP API, the specs
watcher; and on SIGINT/SIGTERM takes them down in reverse order, etcd last.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket
from typing import Any

from aiohttp import web

from reconciler import __version__
from reconciler.agent.components import Component
from reconciler.agent.config import AgentConfig
from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.agent.lock import DataDirLock
from reconciler.api.acl import AclCache, acl_middleware
from reconciler.api.acl_table import CONSUL_ROUTES
from reconciler.api.app import make_app
from reconciler.api.audit import audit_middleware
from reconciler.api.consul.app import make_consul_app
from reconciler.api.consul.context import ConsulContext
from reconciler.api.consul.dns import watched_catalog
from reconciler.api.consul.dns_server import serve_dns
from reconciler.api.context import ApiContext
from reconciler.api.gate import GateSettings, gate_middleware
from reconciler.api.watched import WatchedState
from reconciler.model.gc_policy import GcThresholds
from reconciler.model.tls import TlsFiles, server_context
from reconciler.store import Store

log = logging.getLogger("reconciler.agent")

# seconds an API request waits for etcd before it answers 503 (docs/operations.md)
API_PATIENCE = 3.0


def cluster_controllers(
    store: Store, identity: str, *, leader_ttl: int, gc: GcThresholds | None = None
) -> list[Component]:
    """The cluster controllers, each leader-elected on its own lease of `leader_ttl` seconds;
    `gc` is the garbage collector's thresholds (Nomad's defaults when None)."""
    from controllers.deployments.controller import DeploymentService
    from controllers.liveness.collector import GarbageCollectorService
    from controllers.liveness.controller import LivenessService
    from controllers.periodic.controller import PeriodicService
    from controllers.scheduler.controller import SchedulerService

    return [
        SchedulerService(store, identity, ttl=leader_ttl, deployments=True),
        DeploymentService(store, identity, ttl=leader_ttl),
        LivenessService(store, identity, ttl=leader_ttl),
        GarbageCollectorService(store, identity, ttl=leader_ttl, thresholds=gc),
        PeriodicService(store, identity, ttl=leader_ttl),
    ]


class _DrainOnStop:
    """A dev agent owns its tasks: stopping it stops them too, leaving no process behind.
    (A -client agent leaves them running so that its next start re-attaches.)"""

    def __init__(self, agent: Any) -> None:
        self.agent = agent

    def start(self) -> None:
        self.agent.start()

    def stop(self) -> None:
        self.agent.stop(drain=True)


def node_agent(store: Store, config: AgentConfig) -> Component:
    from controllers.driver_runner import NodeAgent

    agent = NodeAgent(
        store,
        data_dir=config.data_dir.resolve(),
        node_name=config.node_name,
        datacenter=config.datacenter,
        bind=config.bind,
        raw_exec_enabled=config.raw_exec or config.dev,
        meta=config.meta,
        node_pool=config.node_pool,
        host_volumes=config.host_volumes,
        task_env=tuple(config.task_env),
        exec_chroot_env=tuple(config.exec_chroot_env),
        artifact_file_roots=tuple(config.artifact_file_roots),
        reserved_disk=config.reserved_disk,
        http_addr=f"{config.bind}:{config.http_port}",
        network_interface=config.network_interface,
    )
    return _DrainOnStop(agent) if config.dev else agent


def service_registrar(store: Store, config: AgentConfig, node: Component) -> Component:
    """The node's service registrar (its services and checks), next to its node agent."""
    from controllers.registrar import Registrar

    agent: Any = getattr(node, "agent", node)
    return Registrar(store, agent.node, data_dir=config.data_dir.resolve())


def router(store: Store, config: AgentConfig) -> Component:
    return standalone_router(
        store, config.bind, config.router_port, config.router_admin_port, "rr", tls=config.router_tls
    )


def standalone_router(
    store: Store,
    host: str,
    port: int,
    admin_port: int | None,
    strategy: str,
    *,
    workers: int = 1,
    tls: TlsFiles | None = None,
) -> Component:
    """The router, for the dev agent and for `reconciler router` (which has no agent)."""
    from controllers.router import Router

    return Router(
        store, host=host, port=port, admin_port=admin_port, strategy=strategy, workers=workers, tls=tls
    )


def own_services(store: Store, config: AgentConfig, node: Component | None) -> Component:
    """The agent's HTTP API as the service `reconciler` and its router as `router`, with
    HTTP checks (controllers/registrar/own_services.py)."""
    from controllers.registrar.own_services import OwnService, OwnServices

    mode = "dev" if config.dev else "server" if config.runs_server else "client"
    services = [
        OwnService("reconciler", config.bind, config.http_port, "/v1/status/leader", tags=("http", mode))
    ]
    if config.dev and config.router:
        services.append(
            OwnService(
                "router",
                config.bind,
                config.router_port,
                "/health",
                check_port=config.router_admin_port or 0,
                tags=("http",),
            )
        )
    agent: Any = getattr(node, "agent", node)
    node_id = agent.node.id if agent is not None else ""
    return OwnServices(store, services, owner=config.node_name, node_id=node_id, datacenter=config.datacenter)


def specs_watcher(store: Store, config: AgentConfig) -> Component:
    from controllers.specs_watcher import SpecsWatcher

    assert config.specs_dir is not None
    return SpecsWatcher(store, config.specs_dir)


class _Planner:
    """The scheduler's dry run over watched caches (listing every allocation per plan costs
    half a second at 10,000 allocations), handed to the API as `plan_job(store=, job=)`."""

    def __init__(self, store: Store) -> None:
        from controllers.scheduler.plan import PlanCache

        self.cache = PlanCache(store)

    def start(self) -> None:
        self.cache.start()

    def stop(self) -> None:
        self.cache.stop()


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        if not config.node_name:
            config.node_name = socket.gethostname()
        self.identity = f"{config.node_name}-{os.getpid()}"
        self.etcd: EmbeddedEtcd | None = None
        self.store: Store | None = None
        self.components: list[Component] = []
        self.cluster: list[Component] = []  # the leader-elected controllers: stopped first
        self.planner: _Planner | None = None
        self.watched: WatchedState | None = None
        self.acl: AclCache | None = None
        self.lock = DataDirLock(config.data_dir)

    def _start_etcd(self) -> list[str]:
        cfg = self.config
        if cfg.etcd_endpoints:
            return cfg.etcd_endpoints
        self.etcd = EmbeddedEtcd(
            data_dir=cfg.data_dir.resolve(),
            host="127.0.0.1",
            client_port=cfg.etcd_port,
            peer_port=cfg.etcd_peer_port,
        )
        log.info("starting embedded etcd data_dir=%s client=%s", cfg.data_dir, self.etcd.endpoint)
        self.etcd.start()
        return [self.etcd.endpoint]

    def _start_components(self, store: Store) -> None:
        cfg = self.config
        if cfg.runs_server:
            self.planner = _Planner(store)
            self.components.append(self.planner)
            self.cluster = cluster_controllers(store, self.identity, leader_ttl=cfg.leader_ttl, gc=cfg.gc)
            self.components.extend(self.cluster)
        node = None
        if cfg.runs_client:
            node = node_agent(store, cfg)
            self.components.extend([node, service_registrar(store, cfg, node)])
        if cfg.dev and cfg.router:
            self.components.append(router(store, cfg))
        if cfg.specs_dir is not None:
            self.components.append(specs_watcher(store, cfg))
        # last: stopped first, so the agent leaves the catalog before its API and router go
        self.components.append(own_services(store, cfg, node))
        for c in self.components:
            c.start()

    @property
    def scheme(self) -> str:
        return "https" if self.config.tls.enabled else "http"

    def banner(self) -> str:
        cfg = self.config
        mode = (
            "dev"
            if cfg.dev
            else ("server+client" if cfg.server and cfg.client else "server" if cfg.server else "client")
        )
        lines = [
            "==> reconciler agent configuration:",
            "",
            f"       Advertise Addrs: {self.scheme.upper()}: {cfg.bind}:{cfg.http_port}",
            f"            Datacenter: {cfg.datacenter}",
            f"                  Mode: {mode}",
            f"             Node Name: {cfg.node_name}",
            f"                  Etcd: {', '.join(self.store.endpoints) if self.store else '-'}"
            + (" (embedded)" if self.etcd else ""),
            f"              Data Dir: {cfg.data_dir.resolve()}",
            f"                 Specs: {cfg.specs_dir or '(not watched)'}",
            "                  ACLs: on (reconciler acl bootstrap makes the first token)"
            if cfg.acl
            else "                  ACLs: off (anyone who reaches the API may use it; --acl turns them on)",
            f"                   TLS: {'on, client certificates required' if cfg.tls.ca else 'on'}"
            if cfg.tls.enabled
            else "                   TLS: off",
            f"                    UI: {self.scheme}://{cfg.bind}:{cfg.http_port}/ui",
            f"                Router: {'https' if cfg.router_tls.enabled else 'http'}://{cfg.bind}:{cfg.router_port}"
            f" (routes: http://{cfg.bind}:{cfg.router_admin_port}/routes)"
            if cfg.dev and cfg.router
            else "                Router: (off)",
            f"                Consul: {self.scheme}://{cfg.bind}:{cfg.consul_port} (catalog, health, KV)"
            if cfg.consul_port
            else "                Consul: (off)",
            f"                   DNS: {cfg.bind}:{cfg.dns_port}/udp (<service>.service.consul)"
            if cfg.dns_port
            else "                   DNS: (off)",
            "",
            "==> reconciler agent started! Log data will stream in below:",
        ]
        return "\n".join(lines)

    async def _serve(self, store: Store) -> None:
        cfg = self.config
        # one set of caches for both faces (`reconciler.api.watched`)
        self.watched = WatchedState(store)
        await asyncio.to_thread(self.watched.start)
        ctx = ApiContext(
            store=store.retrying_for(API_PATIENCE),
            data_dir=cfg.data_dir.resolve(),
            region=cfg.region,
            datacenter=cfg.datacenter,
            node_name=cfg.node_name,
            planner=self.planner.cache.plan_job if self.planner else None,
            watched=self.watched,
        )
        gate = GateSettings(
            bind=cfg.bind, allowed_hosts=tuple(cfg.allowed_hosts), allowed_origins=tuple(cfg.allowed_origins)
        )
        if cfg.acl:
            self.acl = AclCache(store)
            await asyncio.to_thread(self.acl.start)
        # the Consul face first: once the API answers, everything the agent serves does
        consul = await self._serve_consul(store, gate) if cfg.consul_port else None
        dns = await self._serve_dns(store) if cfg.dns_port else None
        runner = web.AppRunner(make_app(ctx, gate, acl=self.acl), access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, cfg.bind, cfg.http_port, ssl_context=server_context(cfg.tls))
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(self.banner(), flush=True)
        try:
            await stop.wait()
        finally:
            log.info("shutting down")
            if dns is not None:
                dns.close()
            if consul is not None:
                await consul.cleanup()
            await runner.cleanup()
            if self.watched is not None:
                self.watched.stop()
            if self.acl is not None:
                self.acl.stop()

    async def _serve_consul(self, store: Store, gate: GateSettings) -> web.AppRunner:
        """The Consul face on its own listener, over the watched caches of the catalog and KV."""
        cfg = self.config
        assert self.watched is not None
        ctx = ConsulContext(
            store=store,
            watched=await self._watched(store),
            node_name=cfg.node_name,
            datacenter=cfg.datacenter,
            advertise=f"{cfg.bind}:8300",
            version=__version__,
        )
        consul_gate = dataclasses.replace(gate, json_methods=frozenset({"POST", "PATCH"}))
        middlewares = [gate_middleware(consul_gate), audit_middleware]
        if self.acl is not None:
            middlewares.append(acl_middleware(self.acl, CONSUL_ROUTES))
        runner = web.AppRunner(
            make_consul_app(ctx, middlewares=middlewares),
            access_log=None,
            shutdown_timeout=5.0,
        )
        await runner.setup()
        await web.TCPSite(runner, cfg.bind, cfg.consul_port, ssl_context=server_context(cfg.tls)).start()
        return runner

    async def _watched(self, store: Store) -> WatchedState:
        """The catalog and KV caches the Consul face and the DNS interface share."""
        if self.watched is None:
            self.watched = WatchedState(store, name="consul")
            await asyncio.to_thread(self.watched.start)
        return self.watched

    async def _serve_dns(self, store: Store) -> asyncio.DatagramTransport | None:
        cfg = self.config
        catalog = watched_catalog(await self._watched(store), cfg.datacenter)
        return await serve_dns(catalog, cfg.bind, cfg.dns_port)

    def run(self) -> int:
        self.lock.acquire()
        try:
            endpoints = self._start_etcd()
            self.store = Store(endpoints, prefix=self.config.prefix, auth=self.config.etcd_auth)
            self.store.ping()
            self._start_components(self.store)
            asyncio.run(self._serve(self.store))
            return 0
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop the cluster controllers first (their leases are given up for a standby), then
        the rest in the reverse of their start. A dev agent's node agent kills its tasks as it
        stops (as Nomad's dev agent destroys its allocations): a scheduler still running would
        place replacements for them on a node that is going away."""
        rest = [c for c in self.components if c not in self.cluster]
        for c in [*self.cluster, *reversed(rest)]:
            try:
                c.stop()
            except Exception:  # keep shutting the rest down
                log.exception("component=%s stop failed", type(c).__name__)
        self.components.clear()
        self.cluster = []
        if self.store is not None:
            self.store.close()
        if self.etcd is not None:
            self.etcd.stop()
        self.lock.release()
