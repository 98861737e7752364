"""The embedded etcd: starts on free ports and is healthy, refuses ports or a data dir that
are in use with a clear error, does not outlive a SIGKILLed parent (or is stopped by the
next start), survives the thread that started it, keeps its data across a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd, EtcdStartError, port_in_use
from reconciler.store import Store
from tests.ports import free_port
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from reconciler.agent import etcd_process as ep
    if sys.argv[4] == "no-pdeathsig":
        ep._die_with_parent = os.setsid  # as on a platform without PR_SET_PDEATHSIG
    client_port, peer_port = int(sys.argv[2]), int(sys.argv[3])
    e = ep.EmbeddedEtcd(Path(sys.argv[1]), client_port=client_port, peer_port=peer_port, name="child")
    e.start()
    print(e.proc.pid, flush=True)
    sys.stdin.read()  # wait to be killed
""")


def new_etcd(data_dir: Path) -> EmbeddedEtcd:
    return EmbeddedEtcd(data_dir=data_dir, client_port=free_port(), peer_port=free_port(), name="t")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedEtcd]:
    e = new_etcd(tmp_path / "a")
    yield e
    e.stop()


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_starts_healthy_on_free_ports(server: EmbeddedEtcd) -> None:
    server.start()
    assert server.healthy()
    assert port_in_use("127.0.0.1", server.client_port)
    assert port_in_use("127.0.0.1", server.peer_port)
    s = Store([server.endpoint], prefix="/p/")
    try:
        s.put("/p/x", {"a": 1})
        assert s.get("/p/x", dict).value == {"a": 1}  # type: ignore[union-attr]
    finally:
        s.close()
    assert server.pid_file.read_text() == str(server.proc.pid)  # type: ignore[union-attr]
    assert server.owner_file.read_text() == str(os.getpid())
    server.stop()
    assert not server.pid_file.exists()
    assert not server.owner_file.exists()
    wait_for(lambda: not port_in_use("127.0.0.1", server.client_port), message="client port freed")


def test_second_start_on_same_ports_is_refused(server: EmbeddedEtcd, tmp_path: Path) -> None:
    server.start()
    other = EmbeddedEtcd(data_dir=tmp_path / "b", client_port=server.client_port, peer_port=free_port())
    with pytest.raises(EtcdStartError, match=f"port 127.0.0.1:{server.client_port} is already in use"):
        other.start()
    assert other.proc is None
    assert server.healthy()


def test_second_start_on_same_data_dir_is_refused_not_killed(server: EmbeddedEtcd) -> None:
    server.start()
    second = EmbeddedEtcd(data_dir=server.data_dir, client_port=free_port(), peer_port=free_port())
    with pytest.raises(EtcdStartError, match="is in use"):
        second.start()
    assert server.healthy()


def test_failing_etcd_reports_its_log(tmp_path: Path) -> None:
    e = new_etcd(tmp_path / "bad")
    e.name = "bad name with spaces?"  # etcd refuses an --initial-cluster it cannot parse
    e.peer_port = e.client_port  # both listeners on one port: etcd exits
    with pytest.raises(EtcdStartError, match=r"etcd\.log|exited"):
        e.start(timeout=20)
    e.stop()


def start_child(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], int, int, int]:
    client, peer = free_port(), free_port()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "k"), str(client), str(peer), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    etcd_pid = int(child.stdout.readline())
    return child, etcd_pid, client, peer


def test_etcd_dies_with_a_sigkilled_parent(tmp_path: Path) -> None:
    child, etcd_pid, client, peer = start_child(tmp_path, "pdeathsig")
    try:
        assert alive(etcd_pid)
        assert port_in_use("127.0.0.1", client)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        wait_for(lambda: not alive(etcd_pid), timeout=10, message="etcd to die with its parent")
        wait_for(
            lambda: not port_in_use("127.0.0.1", client) and not port_in_use("127.0.0.1", peer),
            timeout=10,
            message="ports to be free",
        )
    finally:
        child.kill()
        if alive(etcd_pid):
            os.kill(etcd_pid, signal.SIGKILL)


def test_leftover_etcd_is_stopped_by_the_next_start(tmp_path: Path) -> None:
    child, etcd_pid, client, peer = start_child(tmp_path, "no-pdeathsig")
    nxt = EmbeddedEtcd(data_dir=tmp_path / "k", client_port=client, peer_port=peer, name="child")
    try:
        s = Store([f"http://127.0.0.1:{client}"], prefix="/p/")
        s.put("/p/kept", "yes")
        s.close()
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert alive(etcd_pid)  # orphaned, still holding the data dir and the ports
        nxt.start()
        assert not alive(etcd_pid)
        assert nxt.proc is not None
        assert nxt.proc.pid != etcd_pid
        s = Store([nxt.endpoint], prefix="/p/")
        assert s.get_raw("/p/kept").value == b"yes"  # type: ignore[union-attr]
        s.close()
    finally:
        nxt.stop()
        child.kill()
        if alive(etcd_pid):
            os.kill(etcd_pid, signal.SIGKILL)


def test_etcd_outlives_the_thread_that_started_it(server: EmbeddedEtcd) -> None:
    """PR_SET_PDEATHSIG fires when the forking *thread* ends: starting etcd from a short-lived
    thread (asyncio.to_thread, a pool) must not get it killed."""
    t = threading.Thread(target=server.start)
    t.start()
    t.join(30)
    assert server.proc is not None
    s = Store([server.endpoint], prefix="/p/", retry_for=2)
    try:
        s.put("/p/x", "1")
        assert server.proc.poll() is None
        assert server.healthy()
    finally:
        s.close()


def test_restart_on_same_data_dir_keeps_the_data(server: EmbeddedEtcd) -> None:
    server.start()
    s = Store([server.endpoint], prefix="/p/")
    try:
        s.put_many((f"/p/k{i}", {"i": i}) for i in range(200))
        server.stop()
        server.start()
        items, _ = s.list("/p/", dict)
        assert len(items) == 200
        assert items[0].value == {"i": 0}
    finally:
        s.close()


def test_kill_then_start_recovers(server: EmbeddedEtcd) -> None:
    server.start()
    s = Store([server.endpoint], prefix="/p/")
    try:
        s.put("/p/x", "before")
        server.kill()  # a crash: no clean shutdown
        server.start()
        assert s.get_raw("/p/x").value == b"before"  # type: ignore[union-attr]
    finally:
        s.close()
