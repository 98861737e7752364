"""The route table: a pure function of the catalog (registrations + check statuses).

Tags of the form `urlprefix-[host]/path[ opt=value ...]` (Fabio's syntax) make routes;
options understood: `strip=/prefix` (removed from the path before proxying),
`proto=http|https` (scheme of the upstream) and `tlsskipverify=true` (an https upstream's
certificate is not verified). An instance is a target only while every one
of its checks reports passing. A route whose instances are all unhealthy stays in the
table with no targets, so the proxy can say *why* it answers 502. Lookups go host-specific
routes first, then generic ones, each longest prefix first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.model.services import CheckState, CheckStatus, ServiceRegistration

TAG_PREFIX = "urlprefix-"


@dataclass(frozen=True)
class RouteSpec:
    host: str
    path: str
    strip: str = ""
    proto: str = "http"
    tls_skip_verify: bool = False


@dataclass(frozen=True)
class Target:
    service: str
    alloc_id: str
    address: str
    port: int
    proto: str = "http"
    tls_skip_verify: bool = False


@dataclass(frozen=True)
class Route:
    """A value: the proxy keeps whatever per-route state it needs (round-robin counters) itself,
    keyed by the route, so a table can be compared, hashed and shared between threads."""

    host: str
    path: str
    service: str
    strip: str = ""
    proto: str = "http"
    targets: tuple[Target, ...] = ()


def parse_tag(tag: str) -> RouteSpec | None:
    """`urlprefix-[host]/path[ opts]` -> RouteSpec; anything else -> None."""
    if not tag.startswith(TAG_PREFIX):
        return None
    body = tag[len(TAG_PREFIX):].strip()
    if not body:
        return None
    parts = body.split()
    target, opts = parts[0], parts[1:]
    slash = target.find("/")
    if slash < 0:
        return None  # Fabio requires a path (`host/`)
    host, path = target[:slash].lower(), target[slash:]
    strip, proto, skip = "", "http", False
    for opt in opts:
        k, _, v = opt.partition("=")
        if k == "strip":
            strip = v
        elif k == "proto" and v in ("http", "https"):
            proto = v
        elif k == "tlsskipverify":
            skip = v.lower() == "true"
    return RouteSpec(host=host, path=path, strip=strip, proto=proto, tls_skip_verify=skip)


def healthy(reg: ServiceRegistration, checks: Mapping[tuple[str, str], CheckStatus]) -> bool:
    """Every check passing (an instance without checks counts as passing, as in Consul)."""
    for rc in reg.checks:
        st = checks.get((reg.alloc_id, rc.id))
        if st is None or st.status != CheckState.PASSING:
            return False
    return True


@dataclass(frozen=True)
class RouteTable:
    routes: tuple[Route, ...] = ()

    def lookup(self, host: str, path: str) -> Route | None:
        host = host.lower().rsplit(":", 1)[0] if host and not host.startswith("[") else host.lower()
        for r in self.routes:
            if r.host and r.host != host:
                continue
            if path.startswith(r.path):
                return r
        return None


def build_table(regs: Iterable[ServiceRegistration], checks: Iterable[CheckStatus]) -> RouteTable:
    status = {(c.alloc_id, c.check_id): c for c in checks}
    grouped: dict[tuple[str, str, str, str, str, bool], list[Target]] = {}
    for reg in regs:
        ok = healthy(reg, status)
        for tag in reg.tags:
            spec = parse_tag(tag)
            if spec is None:
                continue
            key = (spec.host, spec.path, reg.service_name, spec.strip, spec.proto, spec.tls_skip_verify)
            targets = grouped.setdefault(key, [])
            if ok and reg.port > 0:
                targets.append(Target(reg.service_name, reg.alloc_id, reg.address, reg.port, spec.proto,
                                      spec.tls_skip_verify))
    # two services on one prefix share the traffic, as Fabio does: the first (by name) names the route
    first: dict[tuple[str, str], tuple[str, str, str]] = {}
    merged: dict[tuple[str, str], set[Target]] = {}
    for (host, path, service, strip, proto, _), targets in sorted(grouped.items()):
        first.setdefault((host, path), (service, strip, proto))
        merged.setdefault((host, path), set()).update(targets)
    routes = sorted(
        (Route(host, path, *first[(host, path)], tuple(sorted(ts, key=lambda t: (t.address, t.port, t.alloc_id))))
         for (host, path), ts in merged.items()),
        key=lambda r: (r.host == "", -len(r.path), r.host, r.path))
    return RouteTable(tuple(routes))


def rewrite_path(route: Route, path: str) -> str:
    if route.strip and path.startswith(route.strip):
        rest = path[len(route.strip):]
        return rest if rest.startswith("/") else "/" + rest
    return path


def describe(table: RouteTable) -> list[dict[str, object]]:
    """The table as JSON-able rows (the admin `/routes` page and tests)."""
    return [
        {
            "host": r.host, "path": r.path, "service": r.service, "strip": r.strip, "proto": r.proto,
            "targets": [f"{t.address}:{t.port}" for t in r.targets],
        }
        for r in table.routes
    ]
