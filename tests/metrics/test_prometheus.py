"""Debian's Prometheus scrapes a real dev agent: its `/v1/metrics?format=prometheus` (a
static target) and its router's admin `/metrics` (a file_sd target) until both are "up" and
their samples can be queried. `make test` installs prometheus when it can
(tests/install_prometheus.sh); without it this test skips and says so."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.agent.harness import AgentProcess
from tests.ports import free_port
from tests.waiting import wait_for

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

pytestmark = pytest.mark.skipif(
    not Path(PROMETHEUS).exists(),
    reason="Debian's prometheus is not installed (make test installs it with apt-get as root: "
    "tests/install_prometheus.sh)",
)


def _get(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        return json.loads(resp.read())


def _health(port: int) -> dict[str, str]:
    try:
        targets = _get(port, "/api/v1/targets")["data"]["activeTargets"]
    except OSError:
        return {}  # not listening yet
    return {t["labels"]["job"]: t["health"] for t in targets}


def _has(port: int, query: str) -> bool:
    try:
        return bool(_get(port, "/api/v1/query?" + urllib.parse.urlencode({"query": query}))["data"]["result"])
    except OSError:
        return False


def test_prometheus_scrapes_the_agent_and_its_router(agent: AgentProcess, tmp_path: Path) -> None:
    sd = tmp_path / "router-targets.json"
    sd.write_text(json.dumps([{"targets": [f"127.0.0.1:{agent.router_admin_port}"]}]))
    config = {  # JSON is YAML
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "reconciler",
                "metrics_path": "/v1/metrics",
                "params": {"format": ["prometheus"]},
                "static_configs": [{"targets": [f"127.0.0.1:{agent.http_port}"]}],
            },
            {"job_name": "router", "file_sd_configs": [{"files": [str(sd)], "refresh_interval": "1s"}]},
        ],
    }
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: _health(port) == {"reconciler": "up", "router": "up"},
            60,
            interval=0.2,
            message=lambda: (
                f"both targets up: {_health(port)}\n{log_path.read_text(errors='replace')[-3000:]}"
            ),
        )
        wait_for(lambda: _has(port, 'reconciler_http_requests_total{route="/v1/metrics"}'), 30, interval=0.2)
        wait_for(lambda: _has(port, "reconciler_router_routes"), 30, interval=0.2)
        wait_for(lambda: _has(port, "reconciler_etcd_request_seconds_count"), 30, interval=0.2)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
