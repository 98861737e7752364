"""Consul's DNS interface: the answers, table-driven over a fixed catalog (dnslib builds the
queries), and a real DNS query with dnspython to a dev agent whose job's service runs."""

from __future__ import annotations

import sys
from pathlib import Path

import dns.rdatatype
import dns.resolver
import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from reconciler.api.consul.dns import Catalog, Instance, answer
from tests.agent.harness import AgentProcess
from tests.consul.test_consul_agent import JOB
from tests.waiting import wait_for

WEB = [
    Instance("node-1", "127.0.0.1", 8081, ("v1", "urlprefix-/web")),
    Instance("node-2", "127.0.0.2", 8082, ("v2",)),
]
CATALOG = Catalog(
    instances=lambda name: list(WEB) if name == "web" else [],
    node_address=lambda name: {"node-1": "127.0.0.1"}.get(name),
    datacenter="dc1",
)


def ask(name: str, qtype: str) -> DNSRecord:
    out = answer(CATALOG, bytes(DNSRecord.question(name, qtype).pack()))
    assert out is not None
    return DNSRecord.parse(out)


def _rdata(reply: DNSRecord, qtype: str) -> set[str]:
    return {str(rr.rdata) for rr in reply.rr if rr.rtype == getattr(QTYPE, qtype)}


@pytest.mark.parametrize(
    ("name", "qtype", "rcode", "expected"),
    [
        pytest.param("web.service.consul", "A", RCODE.NOERROR, {"127.0.0.1", "127.0.0.2"}, id="a"),
        pytest.param("WEB.Service.Consul.", "A", RCODE.NOERROR, {"127.0.0.1", "127.0.0.2"}, id="case"),
        pytest.param("web.service.dc1.consul", "A", RCODE.NOERROR, {"127.0.0.1", "127.0.0.2"}, id="with-dc"),
        pytest.param("v2.web.service.consul", "A", RCODE.NOERROR, {"127.0.0.2"}, id="tag"),
        pytest.param(
            "web.service.consul",
            "SRV",
            RCODE.NOERROR,
            {"1 1 8081 node-1.node.dc1.consul.", "1 1 8082 node-2.node.dc1.consul."},
            id="srv",
        ),
        pytest.param("node-1.node.consul", "A", RCODE.NOERROR, {"127.0.0.1"}, id="node"),
        pytest.param("nothing.service.consul", "A", RCODE.NXDOMAIN, set(), id="unknown-service"),
        pytest.param("v9.web.service.consul", "A", RCODE.NXDOMAIN, set(), id="unknown-tag"),
        pytest.param("web.service.dc2.consul", "A", RCODE.NXDOMAIN, set(), id="other-dc"),
        pytest.param("example.com", "A", RCODE.REFUSED, set(), id="not-our-zone"),
    ],
)
def test_answers(name: str, qtype: str, rcode: int, expected: set[str]) -> None:
    reply = ask(name, qtype)
    assert reply.header.rcode == rcode
    assert _rdata(reply, qtype) == expected


def test_srv_answers_carry_the_targets_addresses() -> None:
    reply = ask("web.service.consul", "SRV")
    assert {(str(rr.rname), str(rr.rdata)) for rr in reply.ar} == {
        ("node-1.node.dc1.consul.", "127.0.0.1"),
        ("node-2.node.dc1.consul.", "127.0.0.2"),
    }


def test_nxdomain_carries_the_zones_soa() -> None:
    reply = ask("nothing.service.consul", "A")
    assert [QTYPE[rr.rtype] for rr in reply.auth] == ["SOA"]


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x01garbage", bytes(DNSRecord.question("x.consul").reply().pack())],
    ids=["empty", "garbage", "a reply"],  # a reply's id is random: not part of the test's name
)
def test_what_is_not_a_query_is_dropped(data: bytes) -> None:
    assert answer(CATALOG, data) is None


def test_a_real_dns_query_finds_a_dev_agents_service(agent: AgentProcess, tmp_path: Path) -> None:
    path = tmp_path / "echo.nomad"
    path.write_text(JOB % sys.executable)
    out = agent.cli("apply", "-detach", "-f", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = agent.dns_port
    resolver.lifetime = 2.0

    def srv() -> dns.resolver.Answer | None:
        try:
            return resolver.resolve("echo.service.consul", "SRV")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.LifetimeTimeout):
            return None

    answer_ = wait_for(srv, 30, interval=0.2, message=lambda: f"echo in DNS\n{agent.log()}")
    (record,) = list(answer_)
    assert record.rdtype == dns.rdatatype.SRV
    assert str(record.target) == f"{agent.node_name}.node.dc1.consul."
    port = record.port
    alloc_port = wait_for(lambda: agent.get("/v1/service/echo"), 10)[0]["Port"]
    assert port == alloc_port
    (a,) = list(resolver.resolve("echo.service.consul", "A"))
    assert a.address == "127.0.0.1"
