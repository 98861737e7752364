"""Which `alloc exec` enters a sandbox (model/sandbox_exec.py), from the launch spec the
agent left: plain functions, no root needed (the real entry is tested in
test_exec_sandbox.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from controllers.driver_runner.drivers.exec import setpriv_argv
from reconciler.model.sandbox_exec import enter_argv, sandbox_settings
from tests.waiting import wait_for

SETTINGS = {"root": "/d/t", "setpriv": setpriv_argv(65534, 65534, [])}
SANDBOXED = {
    "argv": ["unshare", "--pid", "--", "python", "/x/driver_runner/sandbox.py", json.dumps(SETTINGS), "sh"]
}


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ({"argv": ["/bin/sh", "-c", "true"]}, None),  # raw_exec, java
        ({}, None),
        ({"argv": ["python", "/x/driver_runner/sandbox.py", "not json", "sh"]}, None),
        (SANDBOXED, SETTINGS),
    ],
)
def test_sandbox_settings_come_from_the_launch_spec(spec: dict[str, object], want: object) -> None:
    assert sandbox_settings(spec) == want


def test_a_task_without_a_sandbox_runs_on_the_host(tmp_path: Path) -> None:
    assert enter_argv({"argv": ["/bin/true"]}, tmp_path, "t", ["id"]) is None


def test_a_sandboxed_task_that_does_not_run_cannot_be_entered(tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="is not running"):
        enter_argv(SANDBOXED, tmp_path, "t", ["id"])


def test_a_sandbox_not_yet_chrooted_cannot_be_entered(tmp_path: Path) -> None:
    """Between `unshare`'s fork and sandbox.py's chroot the task's pid 1 still has the host's
    root: a script check or `alloc exec` entering then would run on the host (it waits)."""
    proc = subprocess.Popen(["/bin/sh", "-c", "sleep 60 & wait"])  # a parent and its one child
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        wait_for(lambda: children.read_text().split(), 10, message="the child started")
        (tmp_path / "t.handle.json").write_text(json.dumps({"pid": proc.pid, "start": 0}))
        with pytest.raises(LookupError, match="still starting"):
            enter_argv(SANDBOXED, tmp_path, "t", ["id"])
    finally:
        subprocess.run(["pkill", "-P", str(proc.pid)], check=False)
        proc.kill()
        proc.wait()


def test_the_user_switch_drops_every_capability() -> None:
    assert setpriv_argv(1000, 100, [100, 27]) == [
        "/usr/bin/setpriv",
        "--reuid=1000",
        "--regid=100",
        "--groups=100,27",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]
    assert "--clear-groups" in setpriv_argv(5, 5, [])
