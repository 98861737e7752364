"""The agent in its own catalog: its HTTP API as the service `reconciler` and its router as
`router`, each with a passing HTTP check, in the Nomad API's `/v1/services` and the Consul
face (as Nomad and Fabio show up in Consul beside the services they run)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.agent.harness import AgentProcess
from tests.waiting import wait_for


def consul(agent: AgentProcess, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{agent.consul_port}{path}", timeout=10) as resp:
        return json.loads(resp.read())


def names(agent: AgentProcess) -> set[str]:
    return {s["ServiceName"] for ns in agent.get("/v1/services") for s in ns["Services"]}


def test_the_agent_registers_its_api_and_its_router(agent: AgentProcess) -> None:
    wait_for(
        lambda: {"reconciler", "router"} <= names(agent), 30, message="reconciler and router in /v1/services"
    )
    for name, port in (("reconciler", agent.http_port), ("router", agent.router_port)):
        wait_for(
            lambda name=name: len(consul(agent, f"/v1/health/service/{name}?passing")) == 1,
            30,
            message=f"{name} passing in the Consul face",
        )
        [entry] = consul(agent, f"/v1/health/service/{name}?passing")
        assert entry["Service"]["Port"] == port
        assert [c["Name"] for c in entry["Checks"] if c["CheckID"] != "serfHealth"] == [f"{name} HTTP"]
    assert "router" in consul(agent, "/v1/catalog/services")


def test_bad_route_options_show_in_the_consul_faces_check_output(agent: AgentProcess) -> None:
    body = json.dumps({"Name": "legacy", "Port": 8080, "Tags": ["urlprefix-/legacy colour=blue"]}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{agent.consul_port}/v1/agent/service/register",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10):
        pass

    def router_checks() -> list[dict[str, Any]]:
        return [c for c in consul(agent, "/v1/health/checks/legacy") if c["Name"] == "router: route options"]

    wait_for(router_checks, 30, message="the router's route-options check in the Consul face")
    [check] = router_checks()
    assert (
        check["Output"]
        == "route options ignored: 'urlprefix-/legacy colour=blue': unknown option 'colour=blue'"
    )
    assert check["Status"] == "passing"
    assert check["ServiceName"] == "legacy"
