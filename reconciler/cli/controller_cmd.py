"""`reconciler controller NAME`: one cluster controller alone, leader-elected against an
etcd cluster, for running controllers on hosts of their own or scaling one apart from the
rest. A process entry point like `agent` and `router` (it opens the store)."""

from __future__ import annotations

import logging
import os
import socket
import sys

import click

from reconciler.cli.gc_options import gc_options, thresholds
from reconciler.cli.groups import cli
from reconciler.cli.stop_signal import stop_signal, wait_for_stop

NAMES = ("scheduler", "deployments", "liveness", "gc")


@cli.command()
@click.argument("name", type=click.Choice(NAMES))
@click.option("--etcd", "-etcd", "etcd", required=True, help="etcd endpoints (comma-separated).")
@click.option("--prefix", default="/reconciler/", show_default=True, help="etcd key prefix.")
@click.option("--leader-ttl", type=click.IntRange(min=2), default=5, show_default=True)
@click.option("--log-level", default="INFO", show_default=True)
@gc_options
def controller(name: str, etcd: str, prefix: str, leader_ttl: int, log_level: str, **gc_flags: float) -> None:
    """Run the cluster controller NAME alone (leader-elected, like in a server agent)."""
    from reconciler.agent.wiring import cluster_controllers
    from reconciler.runtime import LeaderElected
    from reconciler.store import Store, StoreError

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s [%(levelname)s] %(name)s: %(message)s",
    )
    store = Store([e.strip() for e in etcd.split(",") if e.strip()], prefix=prefix)
    identity = f"{socket.gethostname()}-{os.getpid()}"
    try:
        store.ping()
    except StoreError as exc:
        click.echo(f"Error starting controller: {exc}", err=True)
        store.close()
        sys.exit(1)
    services = cluster_controllers(store, identity, leader_ttl=leader_ttl, gc=thresholds(**gc_flags))
    service = next(s for s in services if isinstance(s, LeaderElected) and s.elector.name == name)
    service.start()
    click.echo(f"==> controller {name} running as {identity} (leader-elected, TTL {leader_ttl}s)")
    wait_for_stop(stop_signal())
    service.stop()
    store.close()
