"""`reconciler router`: a standalone router (load balancer) against an etcd cluster.

This is a process entry point, like `reconciler agent`, not a client command: it runs a
component (the router) and so, like the agent, opens the store itself. Every other command
talks only to the agent's HTTP API (docs/architecture.md). The dev agent runs one router
itself; beyond one machine, routers run where traffic enters, as many as wanted: they only
read the catalog, so they need nothing but etcd.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from reconciler.cli.groups import cli
from reconciler.cli.stop_signal import stop_signal, wait_for_stop
from reconciler.cli.tls_options import etcd_options, router_tls_options


@cli.command()
@click.option("--etcd", "-etcd", "etcd", required=True, help="etcd endpoints (comma-separated).")
@click.option("--prefix", default="/reconciler/", show_default=True, help="etcd key prefix.")
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=9999, show_default=True, help="Proxy port.")
@click.option("--admin-port", type=int, default=9998, show_default=True, help="Port of GET /routes (0: off).")
@click.option(
    "--strategy",
    type=click.Choice(["rr", "rnd"]),
    default="rr",
    show_default=True,
    help="Round robin or random among a route's healthy instances.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes serving the port (SO_REUSEPORT), one core each.",
)
@click.option("--log-level", default="INFO", show_default=True)
@etcd_options
@router_tls_options
def router(
    etcd: str,
    prefix: str,
    bind: str,
    port: int,
    admin_port: int,
    strategy: str,
    workers: int,
    log_level: str,
    etcd_cacert: Path | None,
    etcd_cert: Path | None,
    etcd_key: Path | None,
    etcd_user: str | None,
    etcd_password: str | None,
    router_tls_cert: Path | None,
    router_tls_key: Path | None,
    router_tls_ca: Path | None,
) -> None:
    """Run an HTTP router: routes from `urlprefix-` tags of healthy services."""
    from reconciler.agent.wiring import standalone_router
    from reconciler.model.tls import TlsFiles
    from reconciler.store import EtcdAuth, Store, StoreError

    try:
        auth = EtcdAuth(etcd_cacert, etcd_cert, etcd_key, etcd_user, etcd_password)
        tls = TlsFiles(router_tls_cert, router_tls_key, router_tls_ca, flag="--router-tls")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s [%(levelname)s] %(name)s: %(message)s",
    )
    store = Store([e.strip() for e in etcd.split(",") if e.strip()], prefix=prefix, auth=auth)
    done = stop_signal()  # installed first: a signal that arrives while the router starts counts
    try:
        store.ping()
        r = standalone_router(store, bind, port, admin_port or None, strategy, workers=workers, tls=tls)
        r.start()
    except (StoreError, OSError) as exc:
        click.echo(f"Error starting router: {exc}", err=True)
        store.close()
        sys.exit(1)
    click.echo(
        f"==> router listening on {'https' if tls.enabled else 'http'}://{bind}:{port}"
        + (f" (routes: http://{bind}:{admin_port}/routes)" if admin_port else "")
    )
    wait_for_stop(done)
    r.stop()
    store.close()
