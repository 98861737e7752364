"""The embedded etcd is stopped, never crashed, when its agent dies (review H11): the signal
PR_SET_PDEATHSIG sends is SIGTERM, which etcd handles with a clean shutdown (3.5.0-3.5.2
can come back inconsistent after a SIGKILL, etcd-io/etcd#13766); and the agent warns about
such a binary and runs another one named by RECONCILER_ETCD_BIN."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import ETCD_BIN_ENV, etcd_binary, version_warning
from tests.ports import free_port

# an agent in miniature: starts the embedded etcd as the agent does, says its pid, then waits
AGENT = """
import sys, time
from pathlib import Path
from reconciler.agent.etcd_process import EmbeddedEtcd
etcd = EmbeddedEtcd(Path(sys.argv[1]), client_port=int(sys.argv[2]), peer_port=int(sys.argv[3]))
etcd.start()
print(etcd.proc.pid, flush=True)
time.sleep(600)
"""

# the agent's parent, made a child subreaper (PR_SET_CHILD_SUBREAPER) so that the etcd its
# dead agent leaves behind becomes its child: it says the agent's pid and etcd's, then how
# etcd ended (the signal that ended it, or its exit code)
REAPER = """
import ctypes, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
agent = subprocess.Popen([sys.executable, "-c", *sys.argv[1:]], stdout=subprocess.PIPE, text=True)
etcd = int(agent.stdout.readline())
print(agent.pid, etcd, flush=True)
while True:
    pid, status = os.wait()
    if pid == etcd:
        print(f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}")
        break
"""


def test_an_agent_killed_with_sigkill_stops_its_etcd_with_sigterm(tmp_path: Path) -> None:
    """A real etcd: it ends by the SIGTERM it was sent (clean shutdown), not by a SIGKILL."""
    reaper = subprocess.Popen(
        [sys.executable, "-c", REAPER, AGENT, str(tmp_path), str(free_port()), str(free_port())],
        stdout=subprocess.PIPE,
        text=True,
    )
    pids: list[int] = []
    try:
        assert reaper.stdout is not None
        pids = [int(x) for x in reaper.stdout.readline().split()]
        os.kill(pids[0], signal.SIGKILL)
        out, _ = reaper.communicate(timeout=30)
        assert out.strip() in (f"signal {int(signal.SIGTERM)}", "exit 0"), out
    finally:
        if reaper.poll() is None:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            reaper.kill()
            reaper.wait()


@pytest.mark.parametrize(
    ("version", "warns"),
    [
        ("etcd Version: 3.5.1\nGit SHA: e8732fb5f\nGo Version: go1.16.3\n", True),
        ("etcd Version: 3.5.2\n", True),
        ("etcd Version: 3.5.4\n", False),
        ("etcd Version: 3.5.17\n", False),
        ("etcd Version: 3.6.0\n", False),
        ("etcd Version: 3.4.30\n", False),  # not the 3.5 bug
        ("", False),
        ("etcd Version: weird\n", False),
    ],
)
def test_a_binary_with_the_crash_bug_is_warned_about(version: str, warns: bool) -> None:
    warning = version_warning(version)
    assert (warning is not None) is warns
    if warning:
        assert ETCD_BIN_ENV in warning
        assert "13766" in warning


def test_the_etcd_binary_can_be_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ETCD_BIN_ENV, str(tmp_path / "etcd-3.5.17"))
    assert etcd_binary() == str(tmp_path / "etcd-3.5.17")
    assert etcd_binary("etcdutl") != str(tmp_path / "etcd-3.5.17")
