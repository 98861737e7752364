"""Consul's DNS interface over the watched catalog: `<service>.service.consul` (and
`<tag>.<service>.service.consul`, with or without the datacenter label) answered with A
records of the instances' addresses and SRV records of their ports, and
`<node>.node.consul` with the node's address. As in Consul, an instance with a critical
check is left out (a warning still answers), answers are shuffled so clients spread their
load, a name that does not exist is NXDOMAIN with the zone's SOA, and answers carry TTL 0.

`answer` is the decision (a query's bytes in, the response's bytes out, over a `Catalog`
snapshot of the caches); `dns_server.py` serves it on UDP. Wire format by dnslib.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dnslib import QTYPE, RCODE, RR, SOA, SRV, A, DNSError, DNSRecord

from reconciler.api.acl import everything
from reconciler.api.consul.catalog_routes import health_entries
from reconciler.api.watched import WatchedState

DOMAIN = "consul"
MAX_UDP_ANSWERS = 16  # without EDNS a UDP answer must fit 512 bytes; 16 A or SRV records do


@dataclass(frozen=True)
class Instance:
    node: str  # the node's name: SRV targets are `<node>.node.<dc>.consul`
    address: str
    port: int
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Catalog:
    """What a query reads: the instances of a service that are not critical, a node's address."""

    instances: Callable[[str], Sequence[Instance]]
    node_address: Callable[[str], str | None]
    datacenter: str


def watched_catalog(w: WatchedState, datacenter: str) -> Catalog:
    def instances(service: str) -> list[Instance]:
        out = []
        for e in health_entries(w, service, everything):  # DNS has no token (see docs/security.md)
            if any(c["Status"] == "critical" for c in e["Checks"]):
                continue
            s = e["Service"]
            out.append(
                Instance(e["Node"]["Node"], s["Address"] or e["Node"]["Address"], s["Port"], tuple(s["Tags"]))
            )
        return out

    def node_address(name: str) -> str | None:
        nodes = w.nodes.by_index("name", name)
        return nodes[0].address if nodes else None

    return Catalog(instances, node_address, datacenter)


def _labels(qname: str, datacenter: str) -> list[str] | None:
    """The labels before `[.<dc>].consul`; None outside the zone, [] for another datacenter."""
    labels = [label.lower() for label in qname.rstrip(".").split(".") if label]
    if not labels or labels[-1] != DOMAIN:
        return None
    labels = labels[:-1]
    if len(labels) >= 2 and labels[-1] not in ("service", "node"):
        # `<name>.service.<dc>.consul`: another datacenter's names do not exist here
        return labels[:-1] if labels[-1] == datacenter.lower() else []
    return labels


def _soa(zone: str) -> RR:
    return RR(
        zone,
        QTYPE.SOA,
        ttl=0,
        rdata=SOA(f"ns.{zone}", f"hostmaster.{zone}", (1, 3600, 600, 86400, 0)),
    )


def _service(reply: DNSRecord, qname: str, qtype: int, found: list[Instance], dc: str) -> None:
    random.shuffle(found)
    for inst in found[:MAX_UDP_ANSWERS]:
        target = f"{inst.node}.node.{dc}.{DOMAIN}."
        if qtype in (QTYPE.A, QTYPE.ANY):
            reply.add_answer(RR(qname, QTYPE.A, ttl=0, rdata=A(inst.address)))
        if qtype in (QTYPE.SRV, QTYPE.ANY):
            reply.add_answer(RR(qname, QTYPE.SRV, ttl=0, rdata=SRV(1, 1, inst.port, target)))
            reply.add_ar(RR(target, QTYPE.A, ttl=0, rdata=A(inst.address)))


def resolve(catalog: Catalog, reply: DNSRecord) -> None:
    """Fill `reply` for its question."""
    q = reply.q
    qname, qtype = str(q.qname), q.qtype
    labels = _labels(qname, catalog.datacenter)
    zone = f"{DOMAIN}."
    if labels is None:
        reply.header.rcode = RCODE.REFUSED  # not our zone: no recursion here
        return
    if len(labels) in (2, 3) and labels[-1] == "service":
        service = labels[-2]
        found = [i for i in catalog.instances(service) if len(labels) == 2 or labels[0] in i.tags]
        if found:
            _service(reply, qname, qtype, found, catalog.datacenter)
            return
    elif len(labels) == 2 and labels[-1] == "node":
        address = catalog.node_address(labels[0])
        if address is not None:
            if qtype in (QTYPE.A, QTYPE.ANY):
                reply.add_answer(RR(qname, QTYPE.A, ttl=0, rdata=A(address)))
            return
    reply.header.rcode = RCODE.NXDOMAIN
    reply.add_auth(_soa(zone))


def answer(catalog: Catalog, data: bytes) -> bytes | None:
    """The response to a query's bytes; None for bytes that are not a DNS query (dropped)."""
    try:
        request = DNSRecord.parse(data)
    except DNSError:
        return None
    if request.header.qr or not request.questions:
        return None
    reply = request.reply()
    reply.header.ra = 0
    resolve(catalog, reply)
    return bytes(reply.pack())
