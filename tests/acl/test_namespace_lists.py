"""Lists that span namespaces, on a real `reconciler agent -dev --acl` running two jobs, one
in namespace `b` and one in `a`, each with a service: a token that may read `a` sees `a`'s
objects only (Nomad filters such lists, it does not refuse them), in every list of the
Nomad face, in search, in the Consul face's catalog, and in the event stream."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.acl.test_agent import secret_of
from tests.agent.harness import AgentProcess
from tests.waiting import wait_for

JOB = """job "web-%(ns)s" {
  namespace   = "%(ns)s"
  datacenters = ["dc1"]
  group "g" {
    network {
      port "http" {}
    }
    service {
      name = "svc-%(ns)s"
      port = "http"
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        memory = 32
      }
    }
  }
}
"""
READ_A = 'namespace "a" {\n  policy = "read"\n}\n'


@pytest.fixture(scope="module")
def two_namespaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AgentProcess, str]]:
    """The agent (its `token` the management secret), with web-b then web-a running and their
    services registered; and the secret of a token holding `read` on namespace `a` only."""
    root = tmp_path_factory.mktemp("ns-lists")
    a = AgentProcess(root, acl=True)
    a.start()
    try:
        a.token = secret_of(a.cli("acl", "bootstrap").stdout)
        for ns in ("b", "a"):  # b first: its events come before a's in the stream's history
            made = a.cli("namespace", "apply", ns)  # a job goes only into a namespace that exists
            assert made.returncode == 0, made.stdout + made.stderr
            path = root / f"web-{ns}.nomad"
            path.write_text(JOB % {"ns": ns})
            out = a.cli("job", "run", "-detach", str(path))
            assert out.returncode == 0, out.stdout + out.stderr
        wait_for(lambda: {r["Namespace"] for r in a.get("/v1/services?namespace=*")} >= {"a", "b"}, 60)
        policy = root / "read-a.hcl"
        policy.write_text(READ_A)
        assert a.cli("acl", "policy", "apply", "read-a", str(policy)).returncode == 0
        reader = secret_of(a.cli("acl", "token", "create", "-name", "a-reader", "-policy", "read-a").stdout)
        yield a, reader
    finally:
        a.stop()


def call(agent: AgentProcess, path: str, token: str, *, port: int = 0, method: str = "GET") -> Any:
    """(status, decoded JSON or text) of a request with `token` (X-Nomad-Token)."""
    url = f"http://127.0.0.1:{port or agent.http_port}{path}"
    headers = {"X-Nomad-Token": token, "Content-Type": "application/json"}
    data = json.dumps({"Prefix": "", "Context": "all"}).encode() if method == "POST" else None  # search
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def namespaces(rows: list[dict[str, Any]]) -> set[str]:
    return {r["Namespace"] for r in rows}


LISTS = ["/v1/jobs?namespace=*", "/v1/allocations", "/v1/evaluations", "/v1/deployments?namespace=*"]


@pytest.mark.parametrize("path", LISTS)
def test_a_list_of_every_namespace_shows_only_what_the_token_may_read(
    two_namespaces: tuple[AgentProcess, str], path: str
) -> None:
    agent, reader = two_namespaces
    wait_for(lambda: namespaces(call(agent, path, agent.token)[1]) >= {"a", "b"}, 30, message=path)
    # the management answer was just rendered for this state: the reader's is not that one
    status, rows = call(agent, path, reader)
    assert status == 200, rows
    assert namespaces(rows) == {"a"}, path


def test_services_and_search_are_filtered_and_other_namespaces_refused(
    two_namespaces: tuple[AgentProcess, str],
) -> None:
    agent, reader = two_namespaces
    assert namespaces(call(agent, "/v1/services?namespace=*", reader)[1]) == {"a"}
    assert call(agent, "/v1/service/svc-b?namespace=*", reader) == (200, [])
    assert [r["Namespace"] for r in call(agent, "/v1/service/svc-a?namespace=*", reader)[1]] == ["a"]
    status, found = call(agent, "/v1/search", reader, method="POST")
    assert status == 200, found
    assert found["Matches"]["jobs"] == ["web-a"]
    assert found["Matches"]["nodes"] == []  # no node rule
    assert found["Matches"]["namespaces"] == ["a"]
    assert [n["Name"] for n in call(agent, "/v1/namespaces", reader)[1]] == ["a"]
    assert call(agent, "/v1/namespace/b", reader)[0] == 403
    assert call(agent, "/v1/jobs?namespace=b", reader)[0] == 403  # one namespace: refused
    assert call(agent, "/v1/job/web-b?namespace=b", reader)[0] == 403
    full = call(agent, "/v1/search", agent.token, method="POST")[1]
    assert full["Matches"]["jobs"] == ["web-a", "web-b"]


def test_the_consul_catalog_shows_only_services_of_readable_namespaces(
    two_namespaces: tuple[AgentProcess, str],
) -> None:
    agent, reader = two_namespaces
    port = agent.consul_port
    assert set(call(agent, "/v1/catalog/services", agent.token, port=port)[1]) >= {"svc-a", "svc-b"}
    status, services = call(agent, "/v1/catalog/services", reader, port=port)
    assert status == 200, services
    assert "svc-a" in services
    assert "svc-b" not in services
    assert call(agent, "/v1/catalog/service/svc-b", reader, port=port) == (200, [])
    assert call(agent, "/v1/health/service/svc-b", reader, port=port) == (200, [])
    assert len(call(agent, "/v1/health/service/svc-a", reader, port=port)[1]) == 1


def stream_events(agent: AgentProcess, token: str, until: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The events of `/v1/event/stream?namespace=*` from the start of etcd's history, read
    until a Job event of job `until` arrives (or `timeout`)."""
    url = f"http://127.0.0.1:{agent.http_port}/v1/event/stream?namespace=*&index=1"
    req = urllib.request.Request(url, headers={"X-Nomad-Token": token})
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        while time.monotonic() < deadline:
            line = resp.readline()
            if not line:
                break
            seen.extend(json.loads(line).get("Events", []))
            if any(e["Topic"] == "Job" and e["Key"] == until for e in seen):
                return seen
    raise AssertionError(f"no Job event of {until} within {timeout}s; saw {len(seen)} events")


def test_the_event_stream_carries_nothing_of_an_unreadable_namespace(
    two_namespaces: tuple[AgentProcess, str],
) -> None:
    agent, reader = two_namespaces
    everything = stream_events(agent, agent.token, until="web-a")
    assert {"a", "b"} <= {e["Namespace"] for e in everything}  # b's events come before a's
    mine = stream_events(agent, reader, until="web-a")
    assert {e["Namespace"] for e in mine} == {"a"}
    assert not [e for e in mine if e["Topic"] == "Node"]  # no node rule
