"""`reconciler operator snapshot save|restore`: a backup of the whole cluster state, which
is etcd's keyspace, through etcd's own snapshot. A process entry point like `agent` (it
reaches etcd or the agent's data dir, not the API): `save` reads a running etcd, `restore`
writes the data dir of a stopped agent's embedded etcd (reconciler.agent.snapshot)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.cli.groups import cli


@cli.group()
def operator() -> None:
    """Cluster operations."""


@operator.group()
def snapshot() -> None:
    """Save or restore the cluster state (an etcd snapshot)."""


@snapshot.command("save")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--etcd", "-etcd", "etcd", default="http://127.0.0.1:2379", show_default=True)
def snapshot_save(file: Path, etcd: str) -> None:
    """Write a snapshot of etcd (every key, every prefix) to FILE."""
    from reconciler.store import Store, StoreError

    store = Store([e.strip() for e in etcd.split(",") if e.strip()], retry_for=5)
    try:
        size = store.snapshot(file)
    except (StoreError, OSError) as exc:
        click.echo(f"Error saving snapshot: {exc}", err=True)
        sys.exit(1)
    finally:
        store.close()
    click.echo(f"State file written to {file} ({size} bytes)")


@snapshot.command("restore")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--data-dir", "-data-dir", type=click.Path(path_type=Path), default=Path(".reconciler"), show_default=True
)
@click.option(
    "--etcd-peer-port", type=int, default=2380, show_default=True, help="As the agent runs with it."
)
def snapshot_restore(file: Path, data_dir: Path, etcd_peer_port: int) -> None:
    """Restore FILE as the embedded etcd of the (stopped) agent at --data-dir."""
    from reconciler.agent.lock import DataDirLocked
    from reconciler.agent.snapshot import RestoreError, restore

    try:
        moved = restore(file, data_dir, peer_port=etcd_peer_port)
    except (DataDirLocked, RestoreError, OSError) as exc:
        click.echo(f"Error restoring snapshot: {exc}", err=True)
        sys.exit(1)
    if moved is not None:
        click.echo(f"The etcd data it replaces was moved to {moved}")
    click.echo(f"Snapshot restored into {data_dir}; start the agent to use it")
