"""`reconciler agent`: run the agent (dev mode: everything in one process)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.gc_options import gc_options, thresholds
from reconciler.cli.groups import cli
from reconciler.cli.tls_options import etcd_options, router_tls_options, tls_options
from reconciler.model.ids import is_valid_name
from reconciler.model.objects import HostVolume

if TYPE_CHECKING:
    from reconciler.model.tls import TlsFiles
    from reconciler.store import EtcdAuth


def _read_config_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Eager: the file's values become the defaults of every other option, so flags given on
    the command line override the file (reconciler.agent.config_file)."""
    if value is not None:
        from reconciler.agent.config_file import ConfigError, load_config

        try:
            ctx.default_map = {**(ctx.default_map or {}), **load_config(value)}
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="-config") from None
    return value


def _host_volumes(items: tuple[str, ...]) -> dict[str, HostVolume]:
    """`--host-volume name=/path[,read_only]` values as the node's host volumes. The path
    must be an existing directory (Nomad refuses to start otherwise); it is stored absolute."""
    out: dict[str, HostVolume] = {}
    for item in items:
        name, _, rest = item.partition("=")
        path, _, flag = rest.partition(",")
        if not is_valid_name(name) or not path or flag not in ("", "read_only"):
            raise click.BadParameter(f"{item!r}: expected name=/path[,read_only]", param_hint="--host-volume")
        if not Path(path).is_dir():
            raise click.BadParameter(f"{item!r}: {path} is not a directory", param_hint="--host-volume")
        out[name] = HostVolume(path=str(Path(path).resolve()), read_only=flag == "read_only")
    return out


@cli.command()
@click.option(
    "-config",
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=_read_config_file,
    help="An agent configuration file (HCL, Nomad's agent keys; docs/operations.md). Flags override it.",
)
@click.option(
    "-dev",
    "--dev",
    "dev",
    is_flag=True,
    help="Everything in one process: embedded etcd, controllers, one node, API, specs watcher.",
)
@click.option(
    "-server", "--server", "server", is_flag=True, help="Run the cluster controllers (leader-elected)."
)
@click.option("-client", "--client", "client", is_flag=True, help="Run a node agent that runs tasks.")
@click.option(
    "--data-dir", "-data-dir", type=click.Path(path_type=Path), default=Path(".reconciler"), show_default=True
)
@click.option(
    "--bind", "-bind", default="127.0.0.1", show_default=True, help="Address the HTTP API binds to."
)
@click.option("--http-port", "-http-port", type=int, default=4646, show_default=True)
@click.option(
    "--etcd",
    "-etcd",
    "etcd",
    default="",
    help="Existing etcd endpoints (comma-separated); none: embedded etcd.",
)
@click.option(
    "--etcd-port", type=int, default=2379, show_default=True, help="Client port of the embedded etcd."
)
@click.option(
    "--etcd-peer-port", type=int, default=2380, show_default=True, help="Peer port of the embedded etcd."
)
@click.option("--prefix", default="/reconciler/", show_default=True, help="etcd key prefix.")
@click.option(
    "--specs",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory of job files to watch (dev default: ./specs).",
)
@click.option("--no-specs", is_flag=True, help="Do not watch a specs directory.")
@click.option("--node-name", "-node", default="", help="Node name (default: hostname).")
@click.option("--dc", "-dc", "datacenter", default="dc1", show_default=True)
@click.option("--region", default="global", show_default=True)
@click.option("--raw-exec", is_flag=True, help="Enable the raw_exec driver (always on in dev mode).")
@click.option("--meta", multiple=True, help="Node metadata key=value (repeatable).")
@click.option(
    "--node-pool",
    "-node-pool",
    "node_pool",
    default="default",
    show_default=True,
    help='The node pool this node registers in (jobs with that node_pool, or "all", run on it).',
)
@click.option(
    "--host-volume",
    "-host-volume",
    "host_volume",
    multiple=True,
    help="A host volume tasks may mount: name=/path[,read_only] (repeatable).",
)
@click.option(
    "--reserved-disk",
    "-reserved-disk",
    "reserved_disk",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="MB of the data dir's free disk kept from allocations (Nomad's client.reserved.disk).",
)
@click.option("--log-level", default="INFO", show_default=True)
@click.option(
    "--router-port", type=int, default=9999, show_default=True, help="Port of the HTTP router (dev mode)."
)
@click.option(
    "--router-admin-port",
    type=int,
    default=9998,
    show_default=True,
    help="Port of the router's /routes page.",
)
@click.option("--no-router", is_flag=True, help="Do not run the HTTP router in dev mode.")
@click.option(
    "--consul-port",
    type=click.IntRange(min=0, max=65535),
    default=None,
    help="Port of the Consul-compatible API (catalog, health, agent, KV); default 8500 in dev mode, "
    "off otherwise; 0 turns it off.",
)
@click.option(
    "--dns-port",
    type=click.IntRange(min=0, max=65535),
    default=None,
    help="UDP port of the Consul DNS interface (<service>.service.consul A and SRV); default 8600 in "
    "dev mode, off otherwise; 0 turns it off.",
)
@click.option(
    "--leader-ttl",
    type=click.IntRange(min=2),
    default=5,
    show_default=True,
    help="Seconds a cluster controller's leader lease lives unrefreshed (a standby takes over within it).",
)
@gc_options
@click.option(
    "--allowed-hosts",
    default="",
    help="More names (name or name:port, comma-separated) the API answers to as Host; "
    "default: its own addresses.",
)
@click.option(
    "--allowed-origins",
    default="",
    help="Browser origins (http[s]://host[:port], comma-separated) allowed to call the API besides its own.",
)
@click.option(
    "--acl/--no-acl",
    "-acl",
    "acl",
    default=None,
    help="Require ACL tokens on the API (docs/security.md); default on, off in -dev mode.",
)
@etcd_options
@tls_options
@router_tls_options
@click.option(
    "--task-env",
    default="",
    help="Names of the agent's environment variables tasks may inherit (comma-separated); "
    "default only PATH, LANG, LC_ALL, TZ.",
)
@click.option(
    "--exec-chroot-env",
    default="",
    help="Host directories an exec task sees read-only in its chroot (comma-separated, absolute); "
    "default Nomad's chroot_env: /bin,/etc,/lib,/lib32,/lib64,/run/resolvconf,/sbin,/usr.",
)
@click.option(
    "--artifact-file-roots",
    default="",
    help="Host directories a `file://` artifact may be copied from (comma-separated, absolute); "
    "default none: only files inside the allocation directory.",
)
@click.option(
    "--network-interface",
    "-network-interface",
    default="",
    help="Interface whose IPv4 address the node advertises for its tasks (Nomad's "
    "-network-interface); default the --bind address. Lets the API stay on 127.0.0.1.",
)
def agent(
    dev: bool,
    server: bool,
    client: bool,
    data_dir: Path,
    bind: str,
    http_port: int,
    etcd: str,
    etcd_port: int,
    etcd_peer_port: int,
    prefix: str,
    specs: Path | None,
    no_specs: bool,
    node_name: str,
    datacenter: str,
    region: str,
    raw_exec: bool,
    meta: tuple[str, ...],
    node_pool: str,
    host_volume: tuple[str, ...],
    reserved_disk: int,
    log_level: str,
    router_port: int,
    router_admin_port: int,
    no_router: bool,
    consul_port: int | None,
    dns_port: int | None,
    leader_ttl: int,
    eval_gc_threshold: float,
    deployment_gc_threshold: float,
    job_gc_threshold: float,
    node_gc_threshold: float,
    allowed_hosts: str,
    allowed_origins: str,
    acl: bool | None,
    etcd_cacert: Path | None,
    etcd_cert: Path | None,
    etcd_key: Path | None,
    etcd_user: str | None,
    etcd_password: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_ca: Path | None,
    router_tls_cert: Path | None,
    router_tls_key: Path | None,
    router_tls_ca: Path | None,
    task_env: str,
    exec_chroot_env: str,
    artifact_file_roots: str,
    network_interface: str,
) -> None:
    """Run the reconciler agent."""
    from reconciler.agent.config import AgentConfig
    from reconciler.agent.etcd_process import EtcdStartError
    from reconciler.agent.lock import DataDirLocked
    from reconciler.agent.wiring import Agent
    from reconciler.api.gate import normalize_origin, split_host
    from reconciler.store import StoreError

    if not (dev or server or client):
        raise click.UsageError("choose a mode: -dev, -server, -client (or -server -client)")
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s [%(levelname)s] %(name)s: %(message)s",
    )
    meta_map: dict[str, str] = {}
    for item in meta:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: expected key=value", param_hint="--meta")
        k, v = item.split("=", 1)
        meta_map[k] = v
    specs_dir = None if no_specs else (specs if specs is not None else (Path("specs") if dev else None))
    if specs_dir is not None and not specs_dir.is_dir():
        if specs is not None:
            raise click.BadParameter(f"{specs_dir} is not a directory", param_hint="--specs")
        specs_dir = None
    hosts = [h.strip() for h in allowed_hosts.split(",") if h.strip()]
    origins = [o.strip() for o in allowed_origins.split(",") if o.strip()]
    try:
        for h in hosts:
            split_host(h)
        origins = [normalize_origin(o) for o in origins]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allowed-hosts/--allowed-origins") from None
    etcd_auth, tls = _credentials(
        etcd, etcd_cacert, etcd_cert, etcd_key, etcd_user, etcd_password, tls_cert, tls_key, tls_ca
    )
    config = AgentConfig(
        dev=dev,
        server=server,
        client=client,
        data_dir=data_dir,
        bind=bind,
        http_port=http_port,
        etcd_endpoints=[e.strip() for e in etcd.split(",") if e.strip()],
        etcd_port=etcd_port,
        etcd_peer_port=etcd_peer_port,
        prefix=prefix,
        specs_dir=specs_dir,
        node_name=node_name,
        datacenter=datacenter,
        region=region,
        raw_exec=raw_exec,
        meta=meta_map,
        node_pool=_node_pool(node_pool),
        host_volumes=_host_volumes(host_volume),
        reserved_disk=reserved_disk,
        log_level=log_level,
        router=not no_router,
        router_port=router_port,
        router_admin_port=router_admin_port,
        leader_ttl=leader_ttl,
        gc=thresholds(eval_gc_threshold, deployment_gc_threshold, job_gc_threshold, node_gc_threshold),
        consul_port=consul_port if consul_port is not None else (8500 if dev else 0),
        dns_port=dns_port if dns_port is not None else (8600 if dev else 0),
        allowed_hosts=hosts,
        allowed_origins=origins,
        acl=acl if acl is not None else not dev,
        etcd_auth=etcd_auth,
        tls=tls,
        router_tls=_router_tls(router_tls_cert, router_tls_key, router_tls_ca),
        task_env=[n.strip() for n in task_env.split(",") if n.strip()],
        exec_chroot_env=_chroot_env(exec_chroot_env),
        artifact_file_roots=_chroot_env(artifact_file_roots, "--artifact-file-roots"),
        network_interface=network_interface,
    )
    try:
        sys.exit(Agent(config).run())
    except (DataDirLocked, EtcdStartError, StoreError) as exc:
        click.echo(f"Error starting agent: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"Error starting agent: {exc}", err=True)
        sys.exit(1)


def _chroot_env(value: str, flag: str = "--exec-chroot-env") -> list[str]:
    """--exec-chroot-env (or --artifact-file-roots): absolute host directories ([] keeps the
    default)."""
    dirs = [d.strip().rstrip("/") or "/" for d in value.split(",") if d.strip()]
    for d in dirs:
        if not d.startswith("/") or d == "/" or ".." in d.split("/"):
            raise click.BadParameter(f"{d!r}: an absolute directory other than /", param_hint=flag)
    return dirs


def _node_pool(pool: str) -> str:
    """A node registers in a pool of a valid name, never the built-in "all" (as Nomad's agent)."""
    from reconciler.model import node_pools

    why = node_pools.name_error(pool)
    if why is None and pool == node_pools.ALL:
        why = f'a node is not allowed to register in node pool "{node_pools.ALL}"'
    if why is not None:
        raise click.BadParameter(why, param_hint="--node-pool")
    return pool


def _router_tls(cert: Path | None, key: Path | None, ca: Path | None) -> TlsFiles:
    """The router's listener files (--router-tls-cert, --router-tls-key, --router-tls-ca)."""
    from reconciler.model.tls import TlsFiles

    try:
        return TlsFiles(cert, key, ca, flag="--router-tls")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _credentials(
    etcd: str,
    etcd_cacert: Path | None,
    etcd_cert: Path | None,
    etcd_key: Path | None,
    etcd_user: str | None,
    etcd_password: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_ca: Path | None,
) -> tuple[EtcdAuth, TlsFiles]:
    """The store's etcd credentials and the API's TLS files, checked together."""
    from reconciler.model.tls import TlsFiles
    from reconciler.store import EtcdAuth

    try:
        etcd_auth = EtcdAuth(etcd_cacert, etcd_cert, etcd_key, etcd_user, etcd_password)
        tls = TlsFiles(tls_cert, tls_key, tls_ca)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if (etcd_auth.tls or etcd_auth.user) and not etcd:
        raise click.UsageError("--etcd-cacert/--etcd-user are for an external etcd: give --etcd too")
    return etcd_auth, tls
