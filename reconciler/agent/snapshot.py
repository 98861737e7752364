"""Restoring an etcd snapshot into an agent's embedded etcd (`reconciler operator snapshot
restore`), offline: etcd's own `etcdutl snapshot restore` writes a fresh data dir from the
snapshot, which the agent's next start uses. The agent must be stopped (its data-dir lock
is taken for the restore); the etcd data the snapshot replaces is moved aside, not deleted.
An external etcd cluster is restored with etcd's procedure (docs/operations.md).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from reconciler.agent.etcd_process import EmbeddedEtcd, etcd_binary
from reconciler.agent.lock import DataDirLock


class RestoreError(RuntimeError):
    """The snapshot could not be restored; the message says why."""


def restore(snapshot: Path, data_dir: Path, *, peer_port: int = 2380) -> Path | None:
    """Restore `snapshot` as the embedded etcd of the agent at `data_dir`; returns where the
    replaced etcd data was moved (None if there was none)."""
    if not snapshot.is_file():
        raise RestoreError(f"no snapshot at {snapshot}")
    lock = DataDirLock(data_dir)
    lock.acquire()  # DataDirLocked while an agent runs there
    try:
        member = EmbeddedEtcd(data_dir=data_dir.resolve(), peer_port=peer_port)
        target = member.data_dir / "etcd"
        moved = None
        if target.exists():
            moved = target.with_name(f"etcd.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
            target.rename(moved)
        out = subprocess.run(
            [
                etcd_binary("etcdutl"),
                "snapshot",
                "restore",
                str(snapshot),
                "--data-dir",
                str(target),
                "--name",
                member.name,
                "--initial-cluster",
                f"{member.name}={member.peer_endpoint}",
                "--initial-advertise-peer-urls",
                member.peer_endpoint,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode != 0:
            if moved is not None and not target.exists():
                moved.rename(target)
            raise RestoreError(
                f"etcdutl snapshot restore failed: {(out.stderr or out.stdout).strip()[-500:]}"
            )
        return moved
    finally:
        lock.release()
