"""The embedded etcd is stopped, never crashed, when its agent dies (review H11): the signal
PR_SET_PDEATHSIG sends is SIGTERM, which etcd handles with a clean shutdown (3.5.0-3.5.2
can come back inconsistent after a SIGKILL, etcd-io/etcd#13766); and the agent warns about
such a binary and runs another one named by RECONCILER_ETCD_BIN."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import ETCD_BIN_ENV, etcd_binary, version_warning
from tests.waiting import wait_for

# stands in for etcd: says which signal ended it (a SIGKILL leaves no word at all)
FAKE_ETCD = """#!/bin/sh
trap 'echo TERM > "{out}"; exit 0' TERM
echo started > "{out}"
while :; do sleep 0.1; done
"""

# an agent in miniature: starts the stand-in the way the agent starts etcd, then waits
AGENT = """
import sys, time
from pathlib import Path
from reconciler.agent.etcd_process import EmbeddedEtcd
EmbeddedEtcd(Path(sys.argv[1]))._spawn([sys.argv[2]])
print("spawned", flush=True)
time.sleep(600)
"""


def test_an_agent_killed_with_sigkill_stops_its_etcd_with_sigterm(tmp_path: Path) -> None:
    out = tmp_path / "signal"
    fake = tmp_path / "etcd"
    fake.write_text(FAKE_ETCD.format(out=out))
    fake.chmod(0o755)
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(tmp_path), str(fake)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert agent.stdout is not None
        assert agent.stdout.readline().strip() == "spawned"
        wait_for(lambda: out.exists() and out.read_text().strip() == "started", message="stand-in started")
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(30)
        wait_for(lambda: out.read_text().strip() == "TERM", 30, message="the stand-in got SIGTERM")
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()


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
