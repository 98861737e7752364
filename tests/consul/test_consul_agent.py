"""The Consul face of a real dev agent: a job's service, registered by the agent's own
registrar, is found through py-consul's catalog and health calls, and KV works over it."""

from __future__ import annotations

import sys
from pathlib import Path

import consul

from tests.agent.harness import AgentProcess
from tests.waiting import wait_for

JOB = """job "echo" {
  datacenters = ["dc1"]
  group "web" {
    network {
      port "http" {}
    }
    service {
      name = "echo"
      port = "http"
      tags = ["urlprefix-/echo"]
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "%s"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "127.0.0.1"]
      }
    }
  }
}
"""


def test_a_jobs_service_is_in_the_consul_catalog_of_a_dev_agent(agent: AgentProcess, tmp_path: Path) -> None:
    path = tmp_path / "echo.nomad"
    path.write_text(JOB % sys.executable)
    out = agent.cli("apply", "-detach", "-f", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    c = consul.Consul(host="127.0.0.1", port=agent.consul_port)

    rows = wait_for(
        lambda: c.health.service("echo", passing=True)[1] or None, 30, message="echo passing in Consul"
    )
    assert rows[0]["Service"]["Tags"] == ["urlprefix-/echo"]
    assert rows[0]["Node"]["Node"] == agent.node_name
    _, services = c.catalog.services()
    assert "echo" in services
    assert c.kv.put("config/echo/greeting", "hello")
    assert c.kv.get("config/echo/greeting")[1]["Value"] == b"hello"
    assert c.agent.self()["Config"]["NodeName"] == agent.node_name


def test_the_consul_face_refuses_a_foreign_host(agent: AgentProcess) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", agent.consul_port, timeout=10)
    conn.request("PUT", "/v1/kv/evil", body=b"x", headers={"Host": "attacker.example"})
    assert conn.getresponse().status == 403
    conn.close()
