"""TLS on a real agent: HTTPS for the API (and the Consul face), mutual TLS with
`--tls-ca`, and the CLI and python-nomad with Nomad's certificate flags. Certificates are
made for each test by `tests/security/certs.py`."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.harness import AgentProcess
from tests.security.certs import Authority, Pair


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    d = tmp_path / "pki"
    d.mkdir()
    return Authority(d)


def client_context(ca: Authority, pair: Pair | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca.path))
    if pair is not None:
        ctx.load_cert_chain(pair.cert, pair.key)
    return ctx


def tls_agent(root: Path, ca: Authority, *, mutual: bool) -> AgentProcess:
    server = ca.issue("agent")
    args = ["--tls-cert", str(server.cert), "--tls-key", str(server.key)]
    if mutual:
        args += ["--tls-ca", str(ca.path)]
    client = ca.issue("cli")
    a = AgentProcess(
        root,
        extra_args=args,
        ssl_context=client_context(ca, client if mutual else None),
        cli_env={
            "NOMAD_CACERT": str(ca.path),
            "NOMAD_CLIENT_CERT": str(client.cert),
            "NOMAD_CLIENT_KEY": str(client.key),
        },
    )
    a.start()
    return a


@pytest.fixture
def https_agent(tmp_path: Path, ca: Authority) -> Iterator[AgentProcess]:
    a = tls_agent(tmp_path, ca, mutual=False)
    yield a
    a.stop()


@pytest.fixture
def mtls_agent(tmp_path: Path, ca: Authority) -> Iterator[AgentProcess]:
    a = tls_agent(tmp_path, ca, mutual=True)
    yield a
    a.stop()


def fetch(url: str, context: ssl.SSLContext | None) -> int:
    with urllib.request.urlopen(url, timeout=10, context=context) as resp:
        return int(resp.status)


def test_https_api_and_consul_face(https_agent: AgentProcess, ca: Authority) -> None:
    assert https_agent.address.startswith("https://")
    assert "TLS: on" in https_agent.log()
    assert https_agent.get("/v1/jobs") == []
    consul = f"https://127.0.0.1:{https_agent.consul_port}/v1/status/leader"
    assert fetch(consul, client_context(ca)) == 200
    with pytest.raises(urllib.error.URLError):  # a client that does not trust the CA
        fetch(https_agent.address + "/v1/jobs", ssl.create_default_context())
    with pytest.raises((urllib.error.URLError, ConnectionError)):  # plain HTTP is not served
        fetch(f"http://127.0.0.1:{https_agent.http_port}/v1/jobs", None)
    out = https_agent.cli("job", "status")  # NOMAD_CACERT
    assert out.returncode == 0, out.stderr


def test_mutual_tls_refuses_a_client_without_a_certificate(mtls_agent: AgentProcess, ca: Authority) -> None:
    assert "TLS: on, client certificates required" in mtls_agent.log()
    assert mtls_agent.get("/v1/jobs") == []  # the harness presents its certificate
    with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError)):
        fetch(mtls_agent.address + "/v1/jobs", client_context(ca))
    stranger = Authority(ca.dir, name="other-ca").issue("stranger")
    with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError)):
        fetch(mtls_agent.address + "/v1/jobs", client_context(ca, stranger))
    out = mtls_agent.cli("job", "status")
    assert out.returncode == 0, out.stderr
    no_cert = mtls_agent.cli("-client-cert", "", "job", "status")
    assert no_cert.returncode == 1


def test_python_nomad_over_mutual_tls(mtls_agent: AgentProcess, ca: Authority) -> None:
    nomad = pytest.importorskip("nomad")
    pair = ca.issue("python-nomad")
    client = nomad.Nomad(
        host="127.0.0.1",
        port=mtls_agent.http_port,
        secure=True,
        verify=str(ca.path),
        cert=(str(pair.cert), str(pair.key)),
        timeout=10,
    )
    assert client.jobs.get_jobs() == []


def test_the_agents_router_serves_https(tmp_path: Path, ca: Authority) -> None:
    """`--router-tls-cert`/`--router-tls-key` on the agent: its embedded router's port speaks
    HTTPS only (the API stays plain HTTP here); the admin port is unchanged."""
    pair = ca.issue("router")
    a = AgentProcess(
        tmp_path, extra_args=["--router-tls-cert", str(pair.cert), "--router-tls-key", str(pair.key)]
    )
    a.start()
    try:
        assert f"Router: https://127.0.0.1:{a.router_port}" in a.log()
        with pytest.raises(urllib.error.HTTPError) as missing:  # the handshake passed: the router answers
            fetch(f"https://127.0.0.1:{a.router_port}/nothing", client_context(ca))
        assert missing.value.code == 404
        assert b"no route for" in missing.value.read()
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # plain HTTP is not served
            fetch(f"http://127.0.0.1:{a.router_port}/nothing", None)
        assert fetch(f"http://127.0.0.1:{a.router_admin_port}/health", None) == 200
    finally:
        a.stop()
