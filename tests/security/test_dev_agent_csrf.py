"""The review's exploit (finding C1) against a real `reconciler agent -dev`: a web page's
cross-site form POST that would make the dev agent run a process gets a 403 and nothing is
stored; the agent's CLI, its own UI origin and an allowed origin keep working."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.harness import AgentProcess
from tests.security.http import send
from tests.waiting import wait_for


def exploit_job(marker: Path) -> dict[str, object]:
    return {
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
                            "Config": {"command": "/bin/sh", "args": ["-c", f"touch {marker}; sleep 60"]},
                        }
                    ],
                }
            ],
        }
    }


def form_body(job: dict[str, object]) -> bytes:
    """What `<form enctype="text/plain">` with one input named `{json..."p":"` and value `"}`
    sends: `name=value` and CRLF, a valid JSON document."""
    name = json.dumps(job)[:-1] + ',"p":"'
    return (name + "=" + '"}' + "\r\n").encode()


@pytest.fixture
def dev_agent(tmp_path: Path) -> Iterator[AgentProcess]:
    a = AgentProcess(tmp_path, extra_args=["--allowed-origins", "https://ui.example"])
    a.start()
    yield a
    a.stop()


def stored_jobs(agent: AgentProcess) -> str:
    return agent.etcdctl("get", "--prefix", "--keys-only", "/reconciler/jobs/")


def test_a_web_pages_form_post_cannot_make_the_dev_agent_run_a_process(
    dev_agent: AgentProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    body = form_body(exploit_job(marker))
    assert json.loads(body)["Job"]["ID"] == "x"  # the trick: the form body is a valid JSON document
    r = send(
        dev_agent.address, "POST", "/v1/jobs", body, content_type="text/plain", origin="https://evil.example"
    )
    assert r.status == 403, r.body
    # without an Origin (an old browser, a redirect) the content type alone refuses it
    r = send(dev_agent.address, "POST", "/v1/jobs", body, content_type="text/plain")
    assert r.status == 415, r.body
    # DNS rebinding: the page's own name as Host, same-origin from the browser's view
    r = send(
        dev_agent.address,
        "POST",
        "/v1/jobs",
        json.dumps(exploit_job(marker)).encode(),
        content_type="application/json",
        host=f"rebind.evil.example:{dev_agent.http_port}",
        origin=f"http://rebind.evil.example:{dev_agent.http_port}",
    )
    assert r.status == 403, r.body
    assert stored_jobs(dev_agent) == ""
    assert not marker.exists()
    # the same job sent the way the CLI sends it does run: the refusals above were the gate
    assert dev_agent.request("POST", "/v1/jobs", exploit_job(marker))["EvalID"]
    wait_for(marker.exists, timeout=30, message="the honest submission to run")


def test_cli_and_allowed_origin_work_against_the_dev_agent(dev_agent: AgentProcess) -> None:
    assert dev_agent.cli("job", "status").returncode == 0
    pre = send(
        dev_agent.address,
        "OPTIONS",
        "/v1/jobs",
        origin="https://ui.example",
        access_control_request_method="POST",
    )
    assert pre.status == 204
    assert pre.headers["access-control-allow-origin"] == "https://ui.example"
    r = send(dev_agent.address, "GET", "/v1/jobs", origin="https://ui.example")
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == "https://ui.example"
