"""The operator's commands that reach etcd or a data dir themselves: a snapshot saved from a
running etcd and restored into a stopped agent's data dir, and one cluster controller run
alone (`reconciler controller NAME`)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.agent.lock import DataDirLock
from reconciler.runtime.leader import LeaderRecord
from reconciler.store import Store
from tests.agent.harness import BIN
from tests.ports import free_port
from tests.waiting import wait_for


def reconciler(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "reconciler"), *args], capture_output=True, text=True, timeout=120)


def test_a_snapshot_saved_and_restored_brings_the_state_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    etcd = EmbeddedEtcd(data_dir=data, client_port=free_port(), peer_port=free_port())
    etcd.start()
    store = Store([etcd.endpoint], prefix="/snap/")
    try:
        store.put(store.keys.node("before"), {"v": 1})
        snap = tmp_path / "backup.snap"
        out = reconciler("operator", "snapshot", "save", str(snap), "--etcd", etcd.endpoint)
        assert out.returncode == 0, out.stderr
        assert "State file written" in out.stdout
        store.put(store.keys.node("later"), {"v": 2})
        etcd.stop()

        lock = DataDirLock(data)
        lock.acquire()  # as a running agent holds it
        try:
            refused = reconciler("operator", "snapshot", "restore", str(snap), "--data-dir", str(data))
        finally:
            lock.release()
        assert refused.returncode == 1
        assert "already running" in refused.stderr

        args = ["--data-dir", str(data), "--etcd-peer-port", str(etcd.peer_port)]
        out = reconciler("operator", "snapshot", "restore", str(snap), *args)
        assert out.returncode == 0, out.stderr
        assert "moved to" in out.stdout
        etcd.start()
        assert store.get_raw(store.keys.node("before")) is not None
        assert store.get_raw(store.keys.node("later")) is None, "written after the snapshot"
    finally:
        store.close()
        etcd.stop()


def test_one_controller_runs_alone_and_gives_up_its_lease_when_stopped(
    etcd: EmbeddedEtcd, prefix: str
) -> None:
    store = Store([etcd.endpoint], prefix=prefix)
    proc = subprocess.Popen(
        [str(BIN / "reconciler"), "controller", "liveness", "--etcd", etcd.endpoint, "--prefix", prefix],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def holder() -> str | None:
            got = store.get(store.keys.leader("liveness"), LeaderRecord)
            return got.value.identity if got else None

        wait_for(lambda: (holder() or "").endswith(f"-{proc.pid}"), 30, message="the controller leading")
        assert store.get_raw(store.keys.leader("scheduler")) is None, "only the one controller runs"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert holder() is None, "its lease revoked on the way out"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
        store.close()
