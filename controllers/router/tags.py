"""Fabio's `urlprefix-` tag syntax: `urlprefix-[host]/path[ opt=value ...]`, parsed into a
`RouteSpec`. Pure; an option this router does not know, or a value it cannot use, is kept as
an error on the spec (the route table shows it) instead of being ignored.

Options, with Fabio's meaning: `strip=/p` (removed from the front of the path),
`prepend=/p` (added in front, after `strip`), `host=name` (the `Host` header sent upstream;
`host=dst`: the instance's address), `redirect=<3xx>,<url>` (answered by the router, `$path`
in the URL is the request's path and query), `weight=<w>` (the service's share of the
route's traffic), `proto=http|https|tcp`, `tlsskipverify=true`, `allow=`/`deny=` (comma
separated `ip:<addr or CIDR>`: who may use the route).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

TAG_PREFIX = "urlprefix-"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RouteSpec:
    host: str
    path: str
    strip: str = ""
    proto: str = "http"
    tls_skip_verify: bool = False
    prepend: str = ""
    host_header: str = ""  # "" keeps the client's, "dst" the instance's address, else this name
    redirect: tuple[int, str] | None = None
    weight: float | None = None
    allow: tuple[Network, ...] = ()
    deny: tuple[Network, ...] = ()
    errors: tuple[str, ...] = ()


def parse_networks(value: str) -> tuple[Network, ...]:
    """`ip:10.0.0.0/8,ip:fe80::1` (Fabio's form; the `ip:` may be left out)."""
    out = []
    for item in value.split(","):
        item = item.strip()
        if item:
            out.append(ipaddress.ip_network(item.removeprefix("ip:"), strict=False))
    return tuple(out)


def parse_tag(tag: str) -> RouteSpec | None:
    """`urlprefix-[host]/path[ opts]` -> RouteSpec; anything else -> None."""
    if not tag.startswith(TAG_PREFIX):
        return None
    parts = tag[len(TAG_PREFIX) :].split()
    if not parts:
        return None
    target, opts = parts[0], parts[1:]
    errors: list[str] = []
    if target.startswith(":"):  # a TCP route (`urlprefix-:5432 proto=tcp`), on a listener of its own
        if not target[1:].isdigit() or not 0 < int(target[1:]) < 65536:
            return None
        fields: dict[str, object] = {"host": "", "path": target}
        if "proto=tcp" not in opts:
            errors.append("a :port route needs proto=tcp")
    else:
        slash = target.find("/")
        if slash < 0:
            return None  # Fabio requires a path (`host/`)
        fields = {"host": target[:slash].lower(), "path": target[slash:]}
    for opt in opts:
        key, eq, value = opt.partition("=")
        try:
            if not eq:
                raise ValueError("expected name=value")
            if key in ("strip", "prepend"):
                if not value.startswith("/"):
                    raise ValueError("a path starting with /")
                fields[key] = value.rstrip("/") if key == "strip" else value
            elif key == "host":
                fields["host_header"] = value
            elif key == "proto":
                if value not in ("http", "https", "tcp"):
                    raise ValueError("http, https or tcp")
                if (value == "tcp") != str(fields["path"]).startswith(":"):
                    raise ValueError("proto=tcp goes with a :port route, and only with one")
                fields["proto"] = value
            elif key == "tlsskipverify":
                fields["tls_skip_verify"] = value.lower() == "true"
            elif key == "redirect":
                code, comma, url = value.partition(",")
                if not comma or not url or not code.isdigit() or not 300 <= int(code) <= 399:
                    raise ValueError("<3xx code>,<url>")
                fields["redirect"] = (int(code), url)
            elif key == "weight":
                w = float(value)
                if not 0 <= w <= 1:
                    raise ValueError("a share from 0 to 1")
                fields["weight"] = w
            elif key in ("allow", "deny"):
                fields[key] = parse_networks(value)
            else:
                errors.append(f"unknown option {opt!r}")
        except ValueError as exc:
            errors.append(f"bad option {opt!r}: {exc}")
    if "allow" in fields and "deny" in fields:
        errors.append("allow= and deny= together: only allow= applies (Fabio takes one of them)")
        del fields["deny"]
    return RouteSpec(errors=tuple(errors), **fields)  # type: ignore[arg-type]
