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
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

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
SLOT_SEED = 1000003  # any fixed seed: the same targets give the same order in every table
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
    # a request carrying this header (lowercased name, value; b"" any value) or cookie goes to
    # `canaries`: the route with only its unpromoted canaries as targets (set by make_route)
    canary_header: tuple[bytes, bytes] | None = None
    canary_cookie: tuple[bytes, bytes] | None = None
    canaries: Route | None = field(default=None, compare=False, repr=False)

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

    def wants_canary(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether a request's headers pick the canaries (`canary-header=`/`canary-cookie=`)."""
        assert self.canaries is not None
        want_h, want_c = self.canaries.canary_header, self.canaries.canary_cookie
        for name, value in headers:
            low = name.lower()
            if want_h is not None and low == want_h[0] and (not want_h[1] or value.strip() == want_h[1]):
                return True
            if want_c is not None and low == b"cookie" and cookie_matches(value, want_c):
                return True
        return False

    def matches(self, path: str) -> bool:
        p = self.path
        return path.startswith(p) and (len(path) == len(p) or p.endswith("/") or path[len(p)] in "/?")


def cookie_matches(header: bytes, want: tuple[bytes, bytes]) -> bool:
    """A `Cookie` header holds the cookie `want` (name, value; b"" for any value)."""
    for pair in header.split(b";"):
        name, _, value = pair.strip().partition(b"=")
        if name == want[0] and (not want[1] or value.strip(b' "') == want[1]):
            return True
    return False


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
    its share (largest remainder), in an order shuffled once with a fixed seed. Evenly spaced
    slots (a 10 % canary every 10th) would alias with clients that take turns: one in step
    with the period got every canary slot or none. Shuffled, any client's picks see the
    shares; the seed keeps the order the same for every table built from the same targets
    (the round-robin position survives a rebuild)."""
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
    slots = [per_target[i][0] for i, n in enumerate(counts) for _ in range(n)]
    random.Random(SLOT_SEED).shuffle(slots)
    return tuple(slots), tuple(shares)


@dataclass
class Side:
    """One service's instances on one route: its stable ones, or its unpromoted canaries
    (their own `canary_tags` spec)."""

    spec: RouteSpec
    targets: list[Target] = field(default_factory=list)


def specs_of(reg: ServiceRegistration) -> dict[tuple[str, str], RouteSpec]:
    """The registration's route specs by (host, path). Two tags for one route: the first
    decides, except on a canary, whose `canary_tags` come after its `tags` and so decide."""
    out: dict[tuple[str, str], RouteSpec] = {}
    for tag in reg.tags:
        spec = parse_tag(tag)
        if spec is not None and (reg.canary or (spec.host, spec.path) not in out):
            out[(spec.host, spec.path)] = spec
    return out


def selects(spec: RouteSpec) -> bool:
    """A canary spec that sets the canaries apart (a share, or a header or cookie that picks
    them); a canary without one is one more instance of its service."""
    return spec.weight is not None or spec.canary_header is not None or spec.canary_cookie is not None


def group_sides(
    regs: Iterable[ServiceRegistration], checks: Iterable[CheckStatus]
) -> dict[tuple[str, str], dict[tuple[str, bool], Side]]:
    """(host, path) -> (service, canaries?) -> its spec and healthy targets."""
    status = {(c.alloc_id, c.check_id): c for c in checks}
    grouped: dict[tuple[str, str], dict[tuple[str, bool], Side]] = {}
    # old instances first: their spec (`tags`) sets a service's options, not a canary's
    for reg in sorted(regs, key=lambda r: (r.service_name, r.canary, r.alloc_id)):
        ok = healthy(reg, status) and reg.port > 0
        for where, spec in specs_of(reg).items():
            side = (reg.service_name, reg.canary and selects(spec))
            entry = grouped.setdefault(where, {}).setdefault(side, Side(spec))
            if ok:
                entry.targets.append(
                    Target(
                        reg.service_name,
                        reg.alloc_id,
                        reg.address,
                        reg.port,
                        spec.proto,
                        spec.tls_skip_verify,
                    )
                )
    return grouped


def ordered(targets: Iterable[Target]) -> tuple[Target, ...]:
    return tuple(sorted(set(targets), key=lambda t: (t.address, t.port, t.alloc_id)))


def canary_route(route: Route, sides: dict[tuple[str, bool], Side]) -> Route | None:
    """What a request picked by a canary header or cookie uses: the route with only its
    canaries as targets (None when no canary spec picks requests, or no canary is healthy)."""
    picking = [s for (_, canary), s in sorted(sides.items()) if canary]
    picking = [s for s in picking if s.spec.canary_header or s.spec.canary_cookie]
    targets = ordered(t for s in picking for t in s.targets)
    if not targets:
        return None
    first = picking[0].spec
    header = first.canary_header or next(
        (s.spec.canary_header for s in picking if s.spec.canary_header), None
    )
    cookie = first.canary_cookie or next(
        (s.spec.canary_cookie for s in picking if s.spec.canary_cookie), None
    )
    return replace(
        route,
        targets=targets,
        slots=targets,
        shares=(),
        canary_header=(header[0].encode("latin-1"), header[1].encode("latin-1")) if header else None,
        canary_cookie=(cookie[0].encode("latin-1"), cookie[1].encode("latin-1")) if cookie else None,
    )


def make_route(host: str, path: str, sides: dict[tuple[str, bool], Side]) -> Route:
    """One route from the sides of its services: the first service by name (its stable spec
    if it has one) sets the options, weights and canaries share the traffic."""
    name = min(service for service, _ in sides)
    spec = (sides.get((name, False)) or sides[(name, True)]).spec
    every = ordered(t for s in sides.values() for t in s.targets)
    errors: list[str] = []
    for key in sorted(sides):
        errors += [e for e in sides[key].spec.errors if e not in errors]
    slots: tuple[Target, ...] = every
    shares: tuple[tuple[str, float], ...] = ()
    if every and any(s.spec.weight is not None or canary for (_, canary), s in sides.items()):
        groups: dict[str, tuple[float | None, list[Target]]] = {}
        for (service, canary), s in sides.items():
            weight = (s.spec.weight or 0.0) if canary else s.spec.weight
            groups[f"{service} canaries" if canary else service] = (weight, list(ordered(s.targets)))
        slots, shares = weighted_slots(groups)
    route = Route(
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
        tuple(errors),
        slots,
        shares,
    )
    canaries = canary_route(route, sides)
    if canaries is not None:
        object.__setattr__(route, "canaries", canaries)
    return route


def build_table(regs: Iterable[ServiceRegistration], checks: Iterable[CheckStatus]) -> RouteTable:
    routes = [make_route(host, path, sides) for (host, path), sides in group_sides(regs, checks).items()]
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


def canary_row(c: Route) -> dict[str, object]:
    """Who the canaries are and which requests pick them (the admin page's canary column)."""
    row: dict[str, object] = {"targets": [f"{t.address}:{t.port}" for t in c.targets]}
    if c.canary_header is not None:
        name, value = (x.decode("latin-1") for x in c.canary_header)
        row["header"] = f"{name}:{value}" if value else name
    if c.canary_cookie is not None:
        name, value = (x.decode("latin-1") for x in c.canary_cookie)
        row["cookie"] = f"{name}={value}" if value else name
    return row


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
        if r.canaries is not None:
            row["canaries"] = canary_row(r.canaries)
        if r.errors:
            row["errors"] = list(r.errors)
        rows.append(row)
    return rows
