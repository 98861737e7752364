"""Fabio's `urlprefix-` tag syntax: `urlprefix-[host]/path[ opt=value ...]`, parsed into a
`RouteSpec`. Pure; an option this router does not know, or a value it cannot use, is kept as
an error on the spec (the route table shows it) instead of being ignored.

Options, with Fabio's meaning: `strip=/p` (removed from the front of the path),
`prepend=/p` (added in front, after `strip`), `host=name` (the `Host` header sent upstream;
`host=dst`: the instance's address), `redirect=<3xx>,<url>` (answered by the router, `$path`
in the URL is the request's path and query), `weight=<w>` (the service's share of the
route's traffic), `proto=http|https|tcp`, `tlsskipverify=true`, `allow=`/`deny=` (comma
separated `ip:<addr or CIDR>`: who may use the route).

Two options of ours, for the `canary_tags` of an unpromoted canary (docs/router.md):
`canary-header=Name:value` and `canary-cookie=name=value` send a request carrying that header
or cookie (the value may be left out: any value) to the canaries only. On a canary's tag,
`weight=` is the canaries' share of the route (Fabio's `route weight ... tags` for a subset of
a service's instances).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
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
    canary_header: tuple[str, str] | None = None  # (lowercased name, value; "" for any value)
    canary_cookie: tuple[str, str] | None = None  # (name, value; "" for any value)


def parse_networks(value: str) -> tuple[Network, ...]:
    """`ip:10.0.0.0/8,ip:fe80::1` (Fabio's form; the `ip:` may be left out)."""
    out = []
    for item in value.split(","):
        item = item.strip()
        if item:
            out.append(ipaddress.ip_network(item.removeprefix("ip:"), strict=False))
    return tuple(out)


# one parser per option: (the fields set so far, the option's value) -> the fields it sets;
# raising ValueError says what was expected
Fields = dict[str, object]


def _path_opt(key: str) -> Callable[[Fields, str], Fields]:
    def parse(fields: Fields, value: str) -> Fields:
        if not value.startswith("/"):
            raise ValueError("a path starting with /")
        return {key: value.rstrip("/") if key == "strip" else value}

    return parse


def _proto(fields: Fields, value: str) -> Fields:
    if value not in ("http", "https", "tcp"):
        raise ValueError("http, https or tcp")
    if (value == "tcp") != str(fields["path"]).startswith(":"):
        raise ValueError("proto=tcp goes with a :port route, and only with one")
    return {"proto": value}


def _redirect(fields: Fields, value: str) -> Fields:
    code, comma, url = value.partition(",")
    if not comma or not url or not code.isdigit() or not 300 <= int(code) <= 399:
        raise ValueError("<3xx code>,<url>")
    return {"redirect": (int(code), url)}


def _weight(fields: Fields, value: str) -> Fields:
    w = float(value)
    if not 0 <= w <= 1:
        raise ValueError("a share from 0 to 1")
    return {"weight": w}


def _selector(key: str, sep: str) -> Callable[[Fields, str], Fields]:
    def parse(fields: Fields, value: str) -> Fields:
        name, _, want = value.partition(sep)
        name = name.strip()
        if not name or any(c in name for c in " ;,=:"):
            raise ValueError(f"name{sep}value (the value may be left out)")
        return {key: (name.lower() if key == "canary_header" else name, want.strip())}

    return parse


OPTIONS: dict[str, Callable[[Fields, str], Fields]] = {
    "strip": _path_opt("strip"),
    "prepend": _path_opt("prepend"),
    "host": lambda fields, value: {"host_header": value},
    "proto": _proto,
    "tlsskipverify": lambda fields, value: {"tls_skip_verify": value.lower() == "true"},
    "redirect": _redirect,
    "weight": _weight,
    "allow": lambda fields, value: {"allow": parse_networks(value)},
    "deny": lambda fields, value: {"deny": parse_networks(value)},
    "canary-header": _selector("canary_header", ":"),
    "canary-cookie": _selector("canary_cookie", "="),
}


def _target(target: str, opts: list[str], errors: list[str]) -> Fields | None:
    """The route's host and path (or `:port` of a TCP route), None when it is not a route."""
    if target.startswith(":"):  # a TCP route (`urlprefix-:5432 proto=tcp`), on a listener of its own
        if not target[1:].isdigit() or not 0 < int(target[1:]) < 65536:
            return None
        if "proto=tcp" not in opts:
            errors.append("a :port route needs proto=tcp")
        return {"host": "", "path": target}
    slash = target.find("/")
    if slash < 0:
        return None  # Fabio requires a path (`host/`)
    return {"host": target[:slash].lower(), "path": target[slash:]}


def parse_tag(tag: str) -> RouteSpec | None:
    """`urlprefix-[host]/path[ opts]` -> RouteSpec; anything else -> None."""
    if not tag.startswith(TAG_PREFIX):
        return None
    parts = tag[len(TAG_PREFIX) :].split()
    if not parts:
        return None
    errors: list[str] = []
    fields = _target(parts[0], parts[1:], errors)
    if fields is None:
        return None
    for opt in parts[1:]:
        key, eq, value = opt.partition("=")
        parse = OPTIONS.get(key)
        if parse is None and eq:
            errors.append(f"unknown option {opt!r}")
            continue
        try:
            if parse is None or not eq:
                raise ValueError("expected name=value")
            fields.update(parse(fields, value))
        except ValueError as exc:
            errors.append(f"bad option {opt!r}: {exc}")
    if "allow" in fields and "deny" in fields:
        errors.append("allow= and deny= together: only allow= applies (Fabio takes one of them)")
        del fields["deny"]
    return RouteSpec(errors=tuple(errors), **fields)  # type: ignore[arg-type]
