"""Issue 9's browser test: a page served from another origin tries the review's form POST
and a `fetch` against a real dev agent in a real Chromium, and gets nothing done; its reads
are not readable either. The agent's own UI keeps working (test_ui.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.harness import AgentProcess
from tests.fileserver import serve_directory

JOB = {
    "Job": {
        "ID": "x",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "g",
                "Tasks": [
                    {
                        "Name": "t",
                        "Driver": "raw_exec",
                        "Config": {"command": "/bin/sh", "args": ["-c", "touch {marker}; sleep 60"]},
                    }
                ],
            }
        ],
    }
}

PAGE = """<!doctype html><html><body>
<form id="f" method="POST" action="{agent}/v1/jobs" enctype="text/plain">
<input name='{name}' value='"}}'>
</form>
<script>
window.attempts = Promise.allSettled([
  fetch("{agent}/v1/jobs",
        {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}}, body: {body}}}),
  fetch("{agent}/v1/jobs", {{method: "POST", headers: {{"Content-Type": "application/json"}}, body: {body}}}),
  fetch("{agent}/v1/jobs").then(r => r.text()),
]).then(rs => rs.map(r => r.status));
</script></body></html>"""


@pytest.fixture
def evil_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "evil"
    root.mkdir()
    with serve_directory(root) as url:
        yield url, root  # another port: another origin


def test_a_foreign_page_can_neither_post_nor_fetch(
    agent: AgentProcess, page: Any, evil_site: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = evil_site
    marker = tmp_path / "pwned"
    job = json.loads(json.dumps(JOB).replace("{marker}", str(marker)))
    body = json.dumps(job)
    (root / "index.html").write_text(
        PAGE.format(agent=agent.address, name=body[:-1] + ',"p":"', body=json.dumps(body))
    )
    page.goto(url + "/index.html")
    statuses = page.evaluate("window.attempts")
    # no-cors answers are opaque (fulfilled); the CORS POST is blocked by its failed preflight
    # and the CORS GET by the missing Access-Control-Allow-Origin: nothing readable
    assert statuses == ["fulfilled", "rejected", "rejected"], statuses
    with page.expect_navigation():
        page.evaluate("document.getElementById('f').submit()")
    assert "is not allowed to call this agent" in page.content()
    assert agent.etcdctl("get", "--prefix", "--keys-only", "/reconciler/jobs/") == ""
    assert not marker.exists()
