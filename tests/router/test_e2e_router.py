"""The user story's load balancing, end to end: a real dev agent runs a job of two
`python3 -m http.server` instances with a service tagged `urlprefix-/hello` and an http
check; the agent's router reaches both in turn, and answers 404 (no route, as Fabio) or 503
once the job stops."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.harness import AgentProcess
from tests.waiting import wait_for

# serves hello/index.html holding the allocation's id, on its NOMAD_PORT_http
SERVE_ALLOC_ID = (
    "import http.server as h, os; os.makedirs('hello', exist_ok=True); "
    "open('hello/index.html', 'w').write(os.environ['NOMAD_ALLOC_ID']); "
    "h.test(h.SimpleHTTPRequestHandler, port=int(os.environ['NOMAD_PORT_http']), bind='127.0.0.1')"
)
HELLO = """job "hello" {
  datacenters = ["dc1"]

  group "web" {
    count = 2

    network {
      port "http" {}
    }

    service {
      name = "hello"
      port = "http"
      tags = ["urlprefix-/hello"]

      check {
        type     = "http"
        path     = "/"
        interval = "300ms"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "raw_exec"

      config {
        command = "python3"
        args    = ["-c", "@script"]
      }

      resources {
        memory = 64
      }
    }
  }
}
"""


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    a = AgentProcess(tmp_path)  # the harness gives the router free ports
    a.start()
    yield a
    a.stop()


def fetch(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return 0, str(exc)


def test_router_balances_healthy_instances_and_502_after_stop(agent: AgentProcess, tmp_path: Path) -> None:
    port = agent.router_port
    job = tmp_path / "hello.nomad"
    job.write_text(HELLO.replace("@script", SERVE_ALLOC_ID))
    run = agent.cli("apply", "-f", str(job), "-detach")
    assert run.returncode == 0, run.stdout + run.stderr

    def healthy_instances() -> list[str]:
        regs = agent.get("/v1/service/hello")
        ok = []
        for r in regs:
            checks = agent.get(f"/v1/client/allocation/{r['AllocID']}/checks")
            if checks and all(c["Status"] == "success" for c in checks.values()):
                ok.append(r["AllocID"])
        return ok

    allocs = wait_for(
        lambda: h if len(h := healthy_instances()) == 2 else None,
        timeout=60,
        message=lambda: f"two healthy instances; agent log:\n{agent.log()}",
    )
    # the router may see the last check a moment after the API does
    wait_for(
        lambda: len({fetch(port, "/hello/")[1] for _ in range(4)}) == 2,
        timeout=10,
        message="both instances behind the router",
    )
    answers = [fetch(port, "/hello/") for _ in range(4)]
    assert all(status == 200 for status, _ in answers), answers
    bodies = [body for _, body in answers]
    assert set(bodies) == set(allocs)
    assert bodies[0] != bodies[1]
    assert bodies[0] == bodies[2]
    assert bodies[1] == bodies[3]

    lst = agent.cli("service", "list")
    assert "hello" in lst.stdout, lst.stdout + lst.stderr
    assert "urlprefix-/hello" in lst.stdout, lst.stdout + lst.stderr

    stop = agent.cli("job", "stop", "-detach", "hello")
    assert stop.returncode == 0, stop.stdout + stop.stderr
    # between the task's exit and its deregistration the router may answer 502 "cannot reach
    # backend"; wait for the route itself to be gone
    _status, body = wait_for(
        lambda: r if (r := fetch(port, "/hello/"))[0] in (404, 503) else None,
        timeout=30,
        message="404 (no route) or 503 (no healthy instance) after stop",
    )
    assert "no route" in body or "no healthy instance" in body
