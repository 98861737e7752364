"""`reconciler operator scheduler get-config|set-config`: the scheduler configuration
(preemption) through the API, with Nomad's CLI flags and output.

`reconciler operator snapshot save|restore`: a backup of the whole cluster state, which
is etcd's keyspace, through etcd's own snapshot. A process entry point like `agent` (it
reaches etcd or the agent's data dir, not the API): `save` reads a running etcd, `restore`
writes the data dir of a stopped agent's embedded etcd (reconciler.agent.snapshot)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from reconciler.cli.client import api_errors, client_from
from reconciler.cli.groups import cli
from reconciler.cli.output import kv


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


@operator.group()
def scheduler() -> None:
    """Read or change the scheduler configuration (preemption)."""


def _preemption_lines(cfg: dict[str, Any]) -> list[tuple[str, object]]:
    pre = cfg.get("PreemptionConfig") or {}
    return [
        ("Scheduler Algorithm", cfg.get("SchedulerAlgorithm", "binpack")),
        ("Memory Oversubscription", str(cfg.get("MemoryOversubscriptionEnabled", False)).lower()),
        ("Reject Job Registration", str(cfg.get("RejectJobRegistration", False)).lower()),
        ("Pause Eval Broker", str(cfg.get("PauseEvalBroker", False)).lower()),
        *((f"Preemption {label} Scheduler", str(pre.get(key, False)).lower()) for label, key, _ in _FLAGS),
        ("Modify Index", cfg.get("ModifyIndex", 0)),
    ]


# (label in get-config, PreemptionConfig key, set-config flag), in Nomad's order
_FLAGS = (
    ("System", "SystemSchedulerEnabled", "preempt_system_scheduler"),
    ("Service", "ServiceSchedulerEnabled", "preempt_service_scheduler"),
    ("Batch", "BatchSchedulerEnabled", "preempt_batch_scheduler"),
    ("SysBatch", "SysBatchSchedulerEnabled", "preempt_sysbatch_scheduler"),
)


@scheduler.command("get-config")
@click.option("-json", "--json", "as_json", is_flag=True, help="Output the configuration as JSON.")
@click.pass_context
def get_config(ctx: click.Context, as_json: bool) -> None:
    """Display the current scheduler configuration."""
    with api_errors("Error querying scheduler configuration"):
        resp = client_from(ctx).get("/v1/operator/scheduler/configuration")
    if as_json:
        click.echo(json.dumps(resp, indent=4))
        return
    click.echo(kv(_preemption_lines(resp.get("SchedulerConfig") or {})))


_BOOL = click.Choice(["true", "false"])


@scheduler.command("set-config")
@click.option(
    "-preempt-system-scheduler", "--preempt-system-scheduler", "preempt_system_scheduler", type=_BOOL
)
@click.option(
    "-preempt-service-scheduler", "--preempt-service-scheduler", "preempt_service_scheduler", type=_BOOL
)
@click.option("-preempt-batch-scheduler", "--preempt-batch-scheduler", "preempt_batch_scheduler", type=_BOOL)
@click.option(
    "-preempt-sysbatch-scheduler", "--preempt-sysbatch-scheduler", "preempt_sysbatch_scheduler", type=_BOOL
)
@click.option("-check-index", "--check-index", "check_index", type=int, default=None)
@click.pass_context
def set_config(ctx: click.Context, /, check_index: int | None, **flags: str | None) -> None:
    """Change the scheduler configuration: the flags given, the rest as they are."""
    client = client_from(ctx)
    with api_errors("Error querying for scheduler configuration"):
        cfg = dict(client.get("/v1/operator/scheduler/configuration").get("SchedulerConfig") or {})
    pre = dict(cfg.get("PreemptionConfig") or {})
    for _, key, flag in _FLAGS:
        if flags.get(flag) is not None:
            pre[key] = flags[flag] == "true"
    cfg["PreemptionConfig"] = pre
    params = {"cas": check_index} if check_index is not None else {}
    with api_errors("Error setting scheduler configuration"):
        resp = client.put("/v1/operator/scheduler/configuration", cfg, **params)
    if resp.get("Updated"):
        click.echo("Scheduler configuration updated!")
    else:
        click.echo("Scheduler configuration could not be atomically updated, please try again")
