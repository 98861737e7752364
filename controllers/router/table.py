"""The route table: a pure function of the catalog (registrations + check statuses).

Tags (`tags.py`, Fabio's syntax) make routes. An instance is a target only while every one
of its checks reports passing. A route whose instances are all unhealthy stays in the
table with no targets, so the proxy can say *why* it answers 503. Lookups go host-specific
routes first, then generic ones, each longest prefix first; a prefix matches at a path
segment boundary (`/todo` matches `/todo` and `/todo/x`, not `/todos`). Several services
on one prefix share its traffic: a service with `weight=w` gets the share w (all weights
scaled down when they add up to more than 1), the services without a weight split the rest
evenly per instance, as Fabio does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controllers.router.tags import Network, RouteSpec, parse_tag
from reconciler.model.ids import AllocId
from reconciler.model.services import CheckState, CheckStatus, ServiceRegistration

__all__ = [
    "Route",
    "RouteSpec",
    "RouteTable",
    "Target",
    "build_table",
    "describe",
    "parse_tag",
    "rewrite_path",
]
SLOTS = 1000  # a weighted route's picks cycle through this many slots (shares to 0.1%)


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
    keyed by the route's (host, path), so a table can be compared and shared between threads."""

    host: str
    path: str
    service: str
    strip: str = ""
    proto: str = "http"
    targets: tuple[Target, ...] = ()
    prepend: str = ""
    host_header: str = ""
    redirect: tuple[int, str] | None = None
    allow: tuple[Network, ...] = ()
    deny: tuple[Network, ...] = ()
    errors: tuple[str, ...] = ()
    # the order picks go through: the targets, or for weighted routes SLOTS entries in the shares
    slots: tuple[Target, ...] = field(default=(), compare=False, repr=False)
    shares: tuple[tuple[str, float], ...] = ()  # (service, share) when a weight is set
    # no option changes what a request looks like or who may send it: the proxy's fast path
    plain: bool = field(init=False, default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "plain",
            not (self.strip or self.prepend or self.host_header or self.redirect or self.allow or self.deny),
        )

    def admits(self, client_ip: str) -> bool:
        """`allow=`/`deny=` against the connection's source address (not X-Forwarded-For,
        which any client can write)."""
        if not self.allow and not self.deny:
            return True
        try:
            ip = ipaddress.ip_address(client_ip)
        except ValueError:
            return not self.allow
        if self.allow:
            return any(ip in net for net in self.allow)
        return not any(ip in net for net in self.deny)

    def matches(self, path: str) -> bool:
        p = self.path
        return path.startswith(p) and (len(path) == len(p) or p.endswith("/") or path[len(p)] in "/?")


def healthy(reg: ServiceRegistration, checks: Mapping[tuple[AllocId, str], CheckStatus]) -> bool:
    """Every check passing (an instance without checks counts as passing, as in Consul)."""
    for rc in reg.checks:
        st = checks.get((reg.alloc_id, rc.id))
        if st is None or st.status != CheckState.PASSING:
            return False
    return True


@dataclass(frozen=True)
class RouteTable:
    routes: tuple[Route, ...] = ()

    def tcp(self) -> dict[int, Route]:
        """The TCP routes by listening port (`urlprefix-:5432 proto=tcp`)."""
        return {int(r.path[1:]): r for r in self.routes if r.proto == "tcp" and r.path.startswith(":")}

    def lookup(self, host: str, path: str) -> Route | None:
        host = host.lower().rsplit(":", 1)[0] if host and not host.startswith("[") else host.lower()
        for r in self.routes:
            if (r.host and r.host != host) or r.proto == "tcp":
                continue
            if r.matches(path):
                return r
        return None


def weighted_slots(
    groups: dict[str, tuple[float | None, list[Target]]],
) -> tuple[tuple[Target, ...], tuple[tuple[str, float], ...]]:
    """Fabio's traffic shares as a cycle of SLOTS picks: each target appears in proportion to
    its share, spread evenly through the cycle (largest remainder, then interleaved)."""
    live = {s: (w, ts) for s, (w, ts) in groups.items() if ts}
    fixed = sum(w for w, _ in live.values() if w is not None)
    scale = 1 / fixed if fixed > 1 else 1.0
    rest = max(0.0, 1 - fixed * scale)
    free = sum(len(ts) for w, ts in live.values() if w is None)
    per_target: list[tuple[Target, float]] = []
    shares = []
    for service, (w, ts) in sorted(live.items()):
        share = w * scale if w is not None else rest * len(ts) / free if free else 0.0
        shares.append((service, round(share, 6)))
        per_target += [(t, share / len(ts)) for t in ts]
    total = sum(s for _, s in per_target)
    if total <= 0:  # only weight=0 services: nobody is meant to get traffic, but someone must
        per_target = [(t, 1.0) for t, _ in per_target]
        total = float(len(per_target))
    exact = [SLOTS * s / total for _, s in per_target]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[: SLOTS - sum(counts)]:
        counts[i] += 1
    order = sorted(((k + 0.5) / n, i) for i, n in enumerate(counts) for k in range(n))
    return tuple(per_target[i][0] for _, i in order), tuple(shares)


def build_table(regs: Iterable[ServiceRegistration], checks: Iterable[CheckStatus]) -> RouteTable:
    status = {(c.alloc_id, c.check_id): c for c in checks}
    # (host, path) -> service -> (its spec, its healthy targets)
    grouped: dict[tuple[str, str], dict[str, tuple[RouteSpec, list[Target]]]] = {}
    for reg in sorted(regs, key=lambda r: (r.service_name, r.alloc_id)):
        ok = healthy(reg, status)
        for tag in reg.tags:
            spec = parse_tag(tag)
            if spec is None:
                continue
            services = grouped.setdefault((spec.host, spec.path), {})
            _, targets = services.setdefault(reg.service_name, (spec, []))
            if ok and reg.port > 0:
                targets.append(
                    Target(
                        reg.service_name,
                        reg.alloc_id,
                        reg.address,
                        reg.port,
                        spec.proto,
                        spec.tls_skip_verify,
                    )
                )
    routes = []
    for (host, path), services in grouped.items():
        name = min(services)  # the first service (by name) sets the route's options
        spec = services[name][0]
        uniq = {
            s: sorted(set(ts), key=lambda t: (t.address, t.port, t.alloc_id))
            for s, (_, ts) in services.items()
        }
        every = tuple(
            sorted({t for ts in uniq.values() for t in ts}, key=lambda t: (t.address, t.port, t.alloc_id))
        )
        errors = tuple(e for s in sorted(services) for e in services[s][0].errors)
        slots: tuple[Target, ...] = every
        shares: tuple[tuple[str, float], ...] = ()
        if any(sp.weight is not None for sp, _ in services.values()) and every:
            slots, shares = weighted_slots({s: (services[s][0].weight, uniq[s]) for s in services})
        routes.append(
            Route(
                host,
                path,
                name,
                spec.strip,
                spec.proto,
                every,
                spec.prepend,
                spec.host_header,
                spec.redirect,
                spec.allow,
                spec.deny,
                errors,
                slots,
                shares,
            )
        )
    routes.sort(key=lambda r: (r.host == "", -len(r.path), r.host, r.path))
    return RouteTable(tuple(routes))


def rewrite_path(route: Route, path: str) -> str:
    """The path the instance sees: `strip=` removed at a segment boundary, then `prepend=` added."""
    if (
        route.strip
        and path.startswith(route.strip)
        and (len(path) == len(route.strip) or path[len(route.strip)] == "/")
    ):
        rest = path[len(route.strip) :]
        path = rest if rest.startswith("/") else "/" + rest
    if route.prepend:
        path = route.prepend.rstrip("/") + path
    return path


def describe(table: RouteTable) -> list[dict[str, object]]:
    """The table as JSON-able rows (the admin `/routes` page and tests); options and problems
    appear only when set, so a plain route reads as before."""
    rows: list[dict[str, object]] = []
    for r in table.routes:
        row: dict[str, object] = {
            "host": r.host,
            "path": r.path,
            "service": r.service,
            "strip": r.strip,
            "proto": r.proto,
            "targets": [f"{t.address}:{t.port}" for t in r.targets],
        }
        options = {
            "prepend": r.prepend,
            "host": r.host_header,
            "redirect": f"{r.redirect[0]},{r.redirect[1]}" if r.redirect else "",
            "allow": ",".join(map(str, r.allow)),
            "deny": ",".join(map(str, r.deny)),
        }
        options = {k: v for k, v in options.items() if v}
        if options:
            row["options"] = options
        if r.shares:
            row["shares"] = dict(r.shares)
        if r.errors:
            row["errors"] = list(r.errors)
        rows.append(row)
    return rows
