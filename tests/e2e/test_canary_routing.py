"""Canaries the router knows, end to end: a real dev agent, a job of three instances, and a
new version with one canary whose `canary_tags` give it 10 % of the route and every request
that carries `X-Canary: 1`. Before promotion the header reaches only the canary and plain
traffic mostly the old release; after promotion the canary is registered like any instance
(its canary tags gone) and no request failed along the way."""

from __future__ import annotations

import http.client
import sys
import time
from collections import Counter
from pathlib import Path

from tests.agent.harness import AgentProcess
from tests.e2e.test_zero_downtime import APP, RATE, apply, routed, steady
from tests.e2e.traffic import Traffic
from tests.factories import job_text
from tests.waiting import wait_for

CANARY_TAGS = 'canary_tags = ["urlprefix-/zd weight=0.1 canary-header=X-Canary:1"]'


def job(tmp_path: Path, app: Path, release: str, canary: int) -> Path:
    text = job_text(
        "zero-downtime",
        python=sys.executable,
        app=app,
        release=release,
        count=3,
        canary=f"canary = {canary}" if canary else "",
    )
    tags = 'tags = ["urlprefix-/zd"]'
    assert tags in text
    path = tmp_path / f"zd-canary-{release}.nomad"
    path.write_text(text.replace(tags, f"{tags}\n      {CANARY_TAGS}"), encoding="utf-8")
    return path


def releases(port: int, n: int, headers: dict[str, str] | None = None) -> Counter[str]:
    """`n` requests through the router, counted by the release that answered."""
    seen: Counter[str] = Counter()
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/zd", headers=headers or {})
            resp = conn.getresponse()
            seen[resp.read().decode() if resp.status == 200 else f"HTTP {resp.status}"] += 1
        finally:
            conn.close()
    return seen


def why(agent: AgentProcess, plain: Counter[str]) -> str:
    """What a wrong share is to be explained by: the router's table, its log lines about
    instances passed over, and its counters of failed upstreams."""
    conn = http.client.HTTPConnection("127.0.0.1", agent.router_admin_port, timeout=10)
    try:
        conn.request("GET", "/routes")
        table = conn.getresponse().read().decode()
        conn.request("GET", "/metrics")
        metrics = [ln for ln in conn.getresponse().read().decode().splitlines() if "fail" in ln]
    finally:
        conn.close()
    router_log = [ln for ln in agent.log().splitlines() if "router" in ln]
    return f"{plain}\nroutes: {table}\nmetrics: {metrics}\nrouter log: {router_log[-20:]}"


def zd_tags(agent: AgentProcess) -> dict[str, list[str]]:
    return {e["AllocID"]: e["Tags"] for e in agent.get("/v1/service/zd")}


def test_canary_gets_its_share_and_the_header_until_promoted(agent: AgentProcess, tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    apply(agent, job(tmp_path, app, "1", 0))
    routed(agent, 3)
    started = time.monotonic()
    with Traffic(agent.router_port, "/zd", rate=RATE) as traffic:
        steady(traffic)
        out = apply(agent, job(tmp_path, app, "2", 1))
        assert "requires manual promotion" in out, out
        routed(agent, 4)
        wait_for(
            lambda: releases(agent.router_port, 1, {"X-Canary": "1"}) == Counter({"release=2": 1}),
            30,
            message="the router sends X-Canary requests to the canary",
        )
        assert releases(agent.router_port, 40, {"X-Canary": "1"}) == Counter({"release=2": 40})
        plain = releases(agent.router_port, 300)
        share = plain["release=2"] / 300
        assert set(plain) == {"release=1", "release=2"}, why(agent, plain)
        assert 0.02 <= share <= 0.25, why(agent, plain)  # 10 % of the route, loosely
        promoted = agent.cli("job", "promote", "zd", timeout=180)
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        wait_for(
            lambda: (tags := zd_tags(agent)) and all(t == ["urlprefix-/zd"] for t in tags.values()),
            120,
            message="every instance registered with the job's tags only (canary tags gone after promotion)",
        )
        routed(agent, 3)
        wait_for(
            lambda: releases(agent.router_port, 20) == Counter({"release=2": 20}),
            60,
            message="the new release answers all traffic",
        )
        steady(traffic)
    tally, seconds = traffic.tally, time.monotonic() - started
    assert tally.failed == [], f"{len(tally.failed)} of {tally.total} requests failed: {tally.failed[:10]}"
    # the checks above send their own requests from this process: the loop's pace is looser here
    assert tally.total >= 0.3 * RATE * seconds, f"the loop ran at {tally.total / seconds:.0f}/s"
