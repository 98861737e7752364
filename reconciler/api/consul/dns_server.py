"""The DNS interface's listener: UDP on the agent's event loop (`--dns-port`; 0 turns it off,
the dev agent's default is Consul's 8600). Each datagram is answered at once from the
watched caches (`dns.answer`); nothing waits on etcd."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from reconciler.api.consul.dns import Catalog, answer

log = logging.getLogger(__name__)


class DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is not a subclass

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            out = answer(self.catalog, data)
        except Exception:  # one bad query must not stop the listener
            log.exception("dns query from %s failed", addr)
            return
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)


async def serve_dns(catalog: Catalog, host: str, port: int) -> asyncio.DatagramTransport | None:
    """Listen on UDP `host:port`; None (logged) when the port is taken: the agent runs on
    without DNS rather than not at all."""
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: DnsProtocol(catalog), local_addr=(host, port)
        )
    except OSError as exc:
        log.error("dns cannot listen on %s:%d/udp (%s); running without the DNS interface", host, port, exc)
        return None
    log.info("dns listening on %s:%d/udp", host, port)
    return transport
