"""`reconciler router` as its own process against a real etcd: it routes to a registered
backend and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from reconciler.model.services import ServiceRegistration
from tests.ports import free_port
from tests.router.backend import Backend
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def fetch(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


@pytest.mark.parametrize("workers", [1, 2])
def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_standalone_router(etcd, store, prefix, tmp_path, workers: int) -> None:
    port, admin = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    log = open(tmp_path / "router.log", "wb")  # noqa: SIM115 - the child writes it
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler.cli.main",
            "router",
            "--etcd",
            etcd.endpoint,
            "--prefix",
            prefix,
            "--port",
            str(port),
            "--admin-port",
            str(admin),
            "--strategy",
            "rnd",
            *(["--workers", str(workers)] if workers > 1 else []),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        with Backend("a") as a:
            store.put(
                store.keys.service("web", "alloc-a", "http"),
                ServiceRegistration(
                    id="x",
                    service_name="web",
                    alloc_id="alloc-a",
                    namespace="default",
                    job_id="j",
                    group="g",
                    task="",
                    node_id="n",
                    address="127.0.0.1",
                    port=a.port,
                    port_label="http",
                    tags=["urlprefix-/web"],
                ),
            )
            wait_for(
                lambda: fetch(port, "/web") == 200,
                timeout=30,
                message=lambda: (tmp_path / "router.log").read_text(),
            )
            assert fetch(admin, "/routes") == 200
            assert fetch(port, "/other") == 404
            assert len(children(proc.pid)) == workers - 1  # the worker processes beside it
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
        log.close()
    assert code == 0, (tmp_path / "router.log").read_text()


def test_router_cmd_reports_a_port_in_use(etcd, prefix) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "reconciler.cli.main",
                "router",
                "--etcd",
                etcd.endpoint,
                "--prefix",
                prefix,
                "--port",
                str(taken),
                "--admin-port",
                "0",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert out.returncode == 1
    assert "router cannot listen on 127.0.0.1" in out.stderr
    assert "--router-port" in out.stderr
