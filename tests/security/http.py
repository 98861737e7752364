"""Raw HTTP with full control of Host, Origin and Content-Type, as a browser or an attacker
would send them (urllib fills those in itself)."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


def send(address: str, method: str, path: str, body: bytes | None = None, **headers: str) -> Reply:
    """`headers` use Python names: content_type -> Content-Type; host=None leaves Host out."""
    parts = urlsplit(address)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        hdrs = {k.replace("_", "-").title(): v for k, v in headers.items()}
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        hdrs.setdefault("Host", parts.netloc)
        if body is not None:
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        return Reply(
            resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode(errors="replace")
        )
    finally:
        conn.close()
