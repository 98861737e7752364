"""Zero failed requests through the router while a job changes (issue 10's promise).

A real dev agent (embedded etcd, controllers, node agent, registrar, router), a job of five
instances of a small HTTP app with an HTTP check, and a steady request loop of 100
requests/s through the router's `urlprefix-/zd` route, each on a fresh connection. Every
change a user makes to a running service is covered: a rolling update, a canary with
promotion, a scale-down, a node drain (a second agent joins as a client), an instance whose
check starts failing, and a task killed by hand. Each asserts that no request failed.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.agent.harness import AgentProcess
from tests.e2e.traffic import Traffic, assert_no_failures, steady
from tests.factories import job_file
from tests.waiting import wait_for

# The app: GET /health answers 500 once `unhealthy` exists in its task dir; every other
# path answers 200 with the release. SIGINT ends it at once, in-flight requests and all, as
# the user story's `python3 -m http.server` does: only the stop order can save them.
APP = r"""
import http.server, os, sys
release = os.environ.get("RELEASE", "?")
flag = os.path.join(os.environ.get("NOMAD_TASK_DIR", "."), "unhealthy")

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        bad = self.path == "/health" and os.path.exists(flag)
        body = b"unhealthy" if bad else f"release={release}".encode()
        self.send_response(500 if bad else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.serve_forever()
"""

RATE = 100.0


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "app.py"
    path.write_text(APP)
    return path


def zd_file(tmp_path: Path, app: Path, *, release: str, count: int = 5, canary: int = 0) -> Path:
    return job_file(
        tmp_path,
        "zero-downtime",
        name=f"zd-{release}-{count}-{canary}.nomad",
        python=sys.executable,
        app=app,
        release=release,
        count=count,
        canary=f"canary = {canary}" if canary else "",
    )


def apply(agent: AgentProcess, path: Path, *extra: str) -> str:
    out = agent.cli("apply", *extra, "-f", str(path), timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def live(agent: AgentProcess) -> list[dict[str, Any]]:
    return [a for a in agent.get("/v1/job/zd/allocations") if a["DesiredStatus"] == "run"]


def passing(agent: AgentProcess) -> set[str]:
    """Allocations of zd in the catalog whose every check passes (what the router routes to)."""
    out = set()
    for entry in agent.get("/v1/service/zd"):
        checks = agent.get(f"/v1/client/allocation/{entry['AllocID']}/checks")
        if checks and all(c["Status"] == "success" for c in checks.values()):
            out.add(entry["AllocID"])
    return out


def routed(agent: AgentProcess, n: int) -> None:
    """Wait until the catalog has `n` instances of zd with passing checks."""
    wait_for(lambda: len(passing(agent)) >= n, 60, message=f"{n} passing instances of zd in the catalog")


@pytest.fixture
def serving(agent: AgentProcess, tmp_path: Path, app: Path) -> AgentProcess:
    apply(agent, zd_file(tmp_path, app, release="1"))
    routed(agent, 5)
    return agent


def test_rolling_update_of_five_fails_no_request(serving: AgentProcess, tmp_path: Path, app: Path) -> None:
    started = time.monotonic()
    with Traffic(serving.router_port, "/zd", rate=RATE) as traffic:
        steady(traffic)
        out = apply(serving, zd_file(tmp_path, app, release="2"))
        assert "successful" in out, out
        steady(traffic)
    assert_no_failures(traffic.tally, time.monotonic() - started)
    assert traffic.tally.bodies["release=2"] > 0
    assert sorted(a["JobVersion"] for a in live(serving)) == [1] * 5


def test_canary_with_promotion_fails_no_request(serving: AgentProcess, tmp_path: Path, app: Path) -> None:
    started = time.monotonic()
    with Traffic(serving.router_port, "/zd", rate=RATE) as traffic:
        steady(traffic)
        out = apply(serving, zd_file(tmp_path, app, release="2", canary=1))
        assert "requires manual promotion" in out, out
        routed(serving, 6)
        steady(traffic)
        promoted = serving.cli("job", "promote", "zd", timeout=180)
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        steady(traffic)
    assert_no_failures(traffic.tally, time.monotonic() - started)
    assert sorted(a["JobVersion"] for a in live(serving)) == [1] * 5


def test_scale_down_from_five_to_two_fails_no_request(serving: AgentProcess) -> None:
    started = time.monotonic()
    with Traffic(serving.router_port, "/zd", rate=RATE) as traffic:
        steady(traffic)
        out = serving.cli("job", "scale", "zd", "web", "2", timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        wait_for(
            lambda: (
                len([a for a in serving.get("/v1/job/zd/allocations") if a["ClientStatus"] == "running"]) == 2
            ),
            60,
            message="three instances stopped",
        )
        steady(traffic)
    assert_no_failures(traffic.tally, time.monotonic() - started)


def test_an_instance_whose_check_fails_leaves_the_route_and_no_request_fails(serving: AgentProcess) -> None:
    victim = live(serving)[0]
    task_dir = serving.data_dir / "allocs" / victim["ID"] / "app" / "local"
    assert task_dir.is_dir(), f"task dir {task_dir} (NOMAD_TASK_DIR) not where the agent puts it"
    started = time.monotonic()
    with Traffic(serving.router_port, "/zd", rate=RATE) as traffic:
        steady(traffic)
        (task_dir / "unhealthy").touch()
        wait_for(
            lambda: victim["ID"] not in passing(serving),
            30,
            message="the failing instance out of the passing set",
        )
        steady(traffic)
    assert_no_failures(traffic.tally, time.monotonic() - started)


def pid_of(app: Path, port: int) -> int:
    """The app process serving `port`, found as a user would (by its command line)."""
    want = [str(app), str(port)]
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if args[1:3] == want:
            return int(proc.name)
    raise AssertionError(f"no process serves {app} on port {port}")


def test_a_task_killed_by_hand_fails_no_request(serving: AgentProcess, app: Path) -> None:
    victim = live(serving)[0]
    full = serving.get(f"/v1/allocation/{victim['ID']}")
    pid = pid_of(app, full["AllocatedResources"]["Shared"]["Ports"][0]["Value"])
    started = time.monotonic()
    with Traffic(serving.router_port, "/zd", rate=RATE) as traffic:
        steady(traffic)
        os.kill(int(pid), signal.SIGKILL)
        wait_for(
            lambda: serving.get(f"/v1/allocation/{victim['ID']}")["TaskStates"]["app"]["Restarts"] >= 1,
            60,
            message="the killed task restarted",
        )
        routed(serving, 5)
        steady(traffic)
    assert_no_failures(traffic.tally, time.monotonic() - started)


def test_node_drain_fails_no_request(serving: AgentProcess, tmp_path: Path) -> None:
    other = AgentProcess(
        tmp_path / "client2", mode=["-client", "--raw-exec"], etcd=serving.etcd_endpoint, node_name="client2"
    )
    other.root.mkdir()
    other.start()
    try:
        wait_for(lambda: len(serving.get("/v1/nodes")) == 2, 30, message="the second node registered")
        node = next(n for n in serving.get("/v1/nodes") if n["Name"] == serving.node_name)
        started = time.monotonic()
        with Traffic(serving.router_port, "/zd", rate=RATE) as traffic:
            steady(traffic)
            out = serving.cli("node", "drain", "-enable", "-yes", node["ID"])
            assert out.returncode == 0, out.stdout + out.stderr

            def moved() -> bool:
                running = [a for a in serving.get("/v1/job/zd/allocations") if a["ClientStatus"] == "running"]
                return len(running) == 5 and all(a["NodeID"] != node["ID"] for a in running)

            wait_for(moved, 120, message="all five instances running on the other node")
            routed(serving, 5)
            steady(traffic)
        assert_no_failures(traffic.tally, time.monotonic() - started)
    finally:
        # a -client agent leaves its tasks running when it stops (its next start re-attaches):
        # stop the job first, so no instance outlives the test and holds its port
        serving.cli("job", "stop", "zd")
        wait_for(
            lambda: not [a for a in serving.get("/v1/job/zd/allocations") if a["ClientStatus"] == "running"],
            60,
            message="every instance stopped before the second agent goes",
        )
        other.stop()
