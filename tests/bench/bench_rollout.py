"""Rolling-update benchmark (run on purpose: `make bench`, or
`PYTHONPATH=$PWD python -m pytest tests/bench/bench_rollout.py -s -o addopts="" -q`).

A real dev agent (embedded etcd, scheduler, deployments, node agent, registrar, router) runs
the zero-downtime job (tests/fixtures/jobs/zero-downtime.nomad: a small Python HTTP app with
an HTTP check, `max_parallel = 1`, `min_healthy_time = 1s`) at count 20. While `wrk`
(keep-alive connections, as a load balancer's clients hold them) sends requests through the
router's `/zd` route as fast as it can, a new release is applied and rolls through all 20
instances. Printed: the requests served, the failed ones (non-2xx, counted by a wrk Lua
script, plus wrk's socket errors: the target is 0), and the update's duration against the
sum of its health waits (20 x min_healthy_time: what the update cannot go below). Fails if a
request failed. Skips when wrk is missing and cannot be installed.
"""

from __future__ import annotations

import os
import platform
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.agent.harness import AgentProcess
from tests.bench.bench_router import ensure_tools
from tests.e2e.test_zero_downtime import APP
from tests.factories import job_file
from tests.waiting import wait_for

COUNT = int(os.environ.get("BENCH_ROLLOUT_COUNT", "20"))
CONNECTIONS = int(os.environ.get("BENCH_ROLLOUT_CONNECTIONS", "8"))
MIN_HEALTHY = 1.0  # the job file's min_healthy_time, seconds

# wrk counts only statuses above 399 as errors; this counts everything that is not 2xx
COUNT_NON_2XX = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("bad") end
  io.write(string.format("non-2xx: %d\\n", n))
end
"""


STEADY = 2_000  # requests served through the router before and after the update


def served_through(agent: AgentProcess) -> float:
    """Responses the router has sent so far, from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{agent.router_admin_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("reconciler_router_responses_total")
    )


def apply(agent: AgentProcess, path: Path) -> str:
    out = agent.cli("apply", "-f", str(path), timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def running(agent: AgentProcess, version: int) -> int:
    allocs = agent.get("/v1/job/zd/allocations")
    return sum(1 for a in allocs if a["ClientStatus"] == "running" and a["JobVersion"] == version)


def passing(agent: AgentProcess) -> int:
    return sum(1 for e in agent.get("/v1/service/zd") if e["Port"])


def parse(out: str) -> tuple[int, int, int, str]:
    """(requests, non-2xx, socket errors, the socket-errors line) from wrk's output."""
    m = re.search(r"(\d+) requests in", out)
    assert m is not None, out
    bad = re.search(r"non-2xx: (\d+)", out)
    assert bad is not None, out
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(int(x) for x in sock.groups()) if sock else 0
    return int(m.group(1)), int(bad.group(1)), errors, sock.group(0) if sock else "no socket errors"


def test_rolling_update_of_twenty_under_wrk(tmp_path: Path) -> None:
    wrk_bin, _ = ensure_tools()
    app = tmp_path / "app.py"
    app.write_text(APP)
    script = tmp_path / "count.lua"
    script.write_text(COUNT_NON_2XX)

    def job(release: str) -> Path:
        return job_file(
            tmp_path,
            "zero-downtime",
            name=f"zd-{release}.nomad",
            python=sys.executable,
            app=app,
            release=release,
            count=COUNT,
            canary="",
        )

    agent = AgentProcess(tmp_path / "agent")
    agent.root.mkdir()
    agent.start()
    try:
        apply(agent, job("1"))
        wait_for(lambda: running(agent, 0) == COUNT, 180, message=f"{COUNT} instances running")
        wait_for(lambda: passing(agent) >= COUNT, 120, message=f"{COUNT} instances in the catalog")
        url = f"http://127.0.0.1:{agent.router_port}/zd"
        load = subprocess.Popen(
            [wrk_bin, "-t1", f"-c{CONNECTIONS}", "-d3600s", "-s", str(script), url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            served = served_through(agent)  # steady traffic before the change, and after it
            wait_for(lambda: served_through(agent) >= served + STEADY, 60, message="steady traffic")
            started = time.monotonic()
            out = apply(agent, job("2"))
            duration = time.monotonic() - started
            assert "successful" in out, out
            served = served_through(agent)
            wait_for(lambda: served_through(agent) >= served + STEADY, 60, message="steady traffic after")
        finally:
            load.send_signal(signal.SIGINT)  # wrk prints its summary (and runs `done`) on SIGINT
            report, _ = load.communicate(timeout=60)
        assert running(agent, 1) == COUNT
    finally:
        agent.cli("job", "stop", "zd", timeout=120)
        agent.stop()
    requests, non_2xx, socket_errors, sock_line = parse(report)
    floor = COUNT * MIN_HEALTHY
    print()
    print(
        f"rollout benchmark: count {COUNT}, max_parallel 1, min_healthy_time {MIN_HEALTHY:g}s, "
        f"wrk -t1 -c{CONNECTIONS} through the router for the whole update (+2 s either side), "
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"requests served: {requests:,}; failed: {non_2xx} non-2xx, "
        f"{socket_errors} socket errors ({sock_line})"
    )
    print(
        f"update duration: {duration:.1f} s; sum of its health waits: {floor:.0f} s "
        f"({duration / floor:.2f}x; the rest is starting instances, checks at 500 ms, the ordered stop)"
    )
    assert non_2xx == 0, report
    assert socket_errors == 0, report
