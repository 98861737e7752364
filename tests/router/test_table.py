"""Table-driven tests of the pure route table: tags -> routes, health filtering, strip,
host routes, lookup order."""

from __future__ import annotations

from collections import Counter
from ipaddress import ip_network

import pytest

from controllers.router.server import ProxyServer
from controllers.router.table import RouteSpec, build_table, describe, parse_tag, rewrite_path
from reconciler.model.job import Check
from reconciler.model.services import CheckStatus, RegisteredCheck, ServiceRegistration


def reg(name: str, alloc: str, port: int, tags: list[str], checks: int = 0) -> ServiceRegistration:
    return ServiceRegistration(
        id=f"id-{alloc}",
        service_name=name,
        alloc_id=alloc,
        namespace="default",
        job_id="j",
        group="g",
        task="",
        node_id="n",
        address="127.0.0.1",
        port=port,
        port_label="http",
        tags=tags,
        checks=[RegisteredCheck(id=f"{name}-c{i}", check=Check()) for i in range(checks)],
    )


def st(alloc: str, check_id: str, status: str) -> CheckStatus:
    return CheckStatus(alloc_id=alloc, check_id=check_id, status=status)


@pytest.mark.parametrize(
    ("tag", "want"),
    [
        ("urlprefix-/todo", RouteSpec("", "/todo")),
        ("urlprefix-/", RouteSpec("", "/")),
        ("urlprefix-example.com/api", RouteSpec("example.com", "/api")),
        ("urlprefix-Example.COM/", RouteSpec("example.com", "/")),
        ("urlprefix-/api strip=/api", RouteSpec("", "/api", strip="/api")),
        ("urlprefix-/api proto=https", RouteSpec("", "/api", proto="https")),
        (
            "urlprefix-/api proto=gopher",
            RouteSpec("", "/api", errors=("bad option 'proto=gopher': http, https or tcp",)),
        ),
        ("urlprefix-/a strip=/a proto=http", RouteSpec("", "/a", strip="/a")),
        (
            "urlprefix-/s proto=https tlsskipverify=true",
            RouteSpec("", "/s", proto="https", tls_skip_verify=True),
        ),
        ("urlprefix-", None),
        ("urlprefix-example.com", None),
        ("web", None),
        ("prefix-/x", None),
    ],
)
def test_parse_tag(tag: str, want: RouteSpec | None) -> None:
    assert parse_tag(tag) == want


@pytest.mark.parametrize(
    ("regs", "checks", "want"),
    [
        # no checks: healthy
        ([reg("a", "1", 80, ["urlprefix-/a"])], [], [("", "/a", ["127.0.0.1:80"])]),
        # check passing / warning / critical / not reported yet
        (
            [reg("a", "1", 80, ["urlprefix-/a"], checks=1)],
            [st("1", "a-c0", "passing")],
            [("", "/a", ["127.0.0.1:80"])],
        ),
        ([reg("a", "1", 80, ["urlprefix-/a"], checks=1)], [st("1", "a-c0", "warning")], [("", "/a", [])]),
        ([reg("a", "1", 80, ["urlprefix-/a"], checks=1)], [st("1", "a-c0", "critical")], [("", "/a", [])]),
        ([reg("a", "1", 80, ["urlprefix-/a"], checks=1)], [], [("", "/a", [])]),
        # every check must pass
        (
            [reg("a", "1", 80, ["urlprefix-/a"], checks=2)],
            [st("1", "a-c0", "passing"), st("1", "a-c1", "critical")],
            [("", "/a", [])],
        ),
        # two instances, one unhealthy
        (
            [reg("a", "1", 80, ["urlprefix-/a"], checks=1), reg("a", "2", 81, ["urlprefix-/a"], checks=1)],
            [st("1", "a-c0", "passing"), st("2", "a-c0", "critical")],
            [("", "/a", ["127.0.0.1:80"])],
        ),
        # untagged service: no route
        ([reg("a", "1", 80, ["web"])], [], []),
        # host routes first, then longest prefix
        (
            [
                reg("a", "1", 80, ["urlprefix-/"]),
                reg("b", "2", 81, ["urlprefix-/api"]),
                reg("c", "3", 82, ["urlprefix-h.example/"]),
            ],
            [],
            [
                ("h.example", "/", ["127.0.0.1:82"]),
                ("", "/api", ["127.0.0.1:81"]),
                ("", "/", ["127.0.0.1:80"]),
            ],
        ),
        # a port of 0 (label not allocated) is never a target
        ([reg("a", "1", 0, ["urlprefix-/a"])], [], [("", "/a", [])]),
    ],
)
def test_build_table(regs, checks, want) -> None:
    rows = describe(build_table(regs, checks))
    assert [(r["host"], r["path"], r["targets"]) for r in rows] == want


def test_lookup_order_and_hosts() -> None:
    table = build_table(
        [
            reg("root", "1", 80, ["urlprefix-/"]),
            reg("api", "2", 81, ["urlprefix-/api"]),
            reg("apiv2", "3", 82, ["urlprefix-/api/v2"]),
            reg("host", "4", 83, ["urlprefix-h.example/api"]),
        ],
        [],
    )
    cases = [
        ("any", "/", "root"),
        ("any", "/x", "root"),
        ("any", "/api", "api"),
        ("any", "/api/v1", "api"),
        ("any", "/api/v2/x", "apiv2"),
        ("h.example", "/api/v2", "host"),
        ("H.Example:9999", "/api", "host"),
        ("h.example", "/other", "root"),
    ]
    for host, path, service in cases:
        route = table.lookup(host, path)
        assert route is not None, (host, path)
        assert route.service == service, (host, path)
    assert build_table([], []).lookup("x", "/") is None


@pytest.mark.parametrize(
    ("strip", "path", "want"),
    [
        ("/api", "/api/users", "/users"),
        ("/api", "/api", "/"),
        ("", "/api/x", "/api/x"),
        ("/other", "/api", "/api"),
    ],
)
def test_rewrite_path(strip: str, path: str, want: str) -> None:
    table = build_table(
        [reg("a", "1", 80, [f"urlprefix-/api strip={strip}" if strip else "urlprefix-/api"])], []
    )
    route = table.routes[0]
    assert rewrite_path(route, path) == want


@pytest.mark.parametrize(
    ("tag", "want"),
    [
        ("urlprefix-/a prepend=/v1", RouteSpec("", "/a", prepend="/v1")),
        ("urlprefix-/a host=dst", RouteSpec("", "/a", host_header="dst")),
        ("urlprefix-/a host=internal.example", RouteSpec("", "/a", host_header="internal.example")),
        (
            "urlprefix-/old redirect=301,https://new.example$path",
            RouteSpec("", "/old", redirect=(301, "https://new.example$path")),
        ),
        ("urlprefix-/a weight=0.25", RouteSpec("", "/a", weight=0.25)),
        (
            "urlprefix-/a allow=ip:10.0.0.0/8,ip:fe80::1",
            RouteSpec("", "/a", allow=(ip_network("10.0.0.0/8"), ip_network("fe80::1/128"))),
        ),
        ("urlprefix-/a deny=192.168.1.7", RouteSpec("", "/a", deny=(ip_network("192.168.1.7/32"),))),
        ("urlprefix-/a strip=/a/", RouteSpec("", "/a", strip="/a")),
        ("urlprefix-:5432 proto=tcp", RouteSpec("", ":5432", proto="tcp")),
        ("urlprefix-:5432", RouteSpec("", ":5432", errors=("a :port route needs proto=tcp",))),
        ("urlprefix-:99999 proto=tcp", None),
        (
            "urlprefix-/a proto=tcp",
            RouteSpec(
                "",
                "/a",
                errors=("bad option 'proto=tcp': proto=tcp goes with a :port route, and only with one",),
            ),
        ),
        ("urlprefix-/a colour=blue", RouteSpec("", "/a", errors=("unknown option 'colour=blue'",))),
        ("urlprefix-/a nohost", RouteSpec("", "/a", errors=("bad option 'nohost': expected name=value",))),
        (
            "urlprefix-/a redirect=200,https://x",
            RouteSpec("", "/a", errors=("bad option 'redirect=200,https://x': <3xx code>,<url>",)),
        ),
        (
            "urlprefix-/a redirect=301",
            RouteSpec("", "/a", errors=("bad option 'redirect=301': <3xx code>,<url>",)),
        ),
        (
            "urlprefix-/a weight=2",
            RouteSpec("", "/a", errors=("bad option 'weight=2': a share from 0 to 1",)),
        ),
        (
            "urlprefix-/a weight=lots",
            RouteSpec(
                "", "/a", errors=("bad option 'weight=lots': could not convert string to float: 'lots'",)
            ),
        ),
        (
            "urlprefix-/a allow=ip:nonsense",
            RouteSpec(
                "",
                "/a",
                errors=(
                    "bad option 'allow=ip:nonsense': "
                    "'nonsense' does not appear to be an IPv4 or IPv6 network",
                ),
            ),
        ),
        (
            "urlprefix-/a strip=a",
            RouteSpec("", "/a", errors=("bad option 'strip=a': a path starting with /",)),
        ),
        (
            "urlprefix-/a allow=10.0.0.1 deny=10.0.0.2",
            RouteSpec(
                "",
                "/a",
                allow=(ip_network("10.0.0.1/32"),),
                errors=("allow= and deny= together: only allow= applies (Fabio takes one of them)",),
            ),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_parse_tag_options(tag: str, want: RouteSpec) -> None:
    assert parse_tag(tag) == want


@pytest.mark.parametrize(
    ("prefix", "path", "hit"),
    [
        ("/todo", "/todo", True),
        ("/todo", "/todo/", True),
        ("/todo", "/todo/x", True),
        ("/todo", "/todos", False),
        ("/todo", "/todo?x=1", True),
        ("/todo/", "/todo/x", True),
        ("/todo/", "/todo", False),
        ("/", "/anything", True),
        ("/a/b", "/a/bc", False),
        ("/a/b", "/a/b/c", True),
    ],
)
def test_prefix_matches_at_a_segment_boundary(prefix: str, path: str, hit: bool) -> None:
    table = build_table([reg("a", "1", 80, [f"urlprefix-{prefix}"])], [])
    assert (table.lookup("", path) is not None) is hit


@pytest.mark.parametrize(
    ("tag", "path", "want"),
    [
        ("urlprefix-/api strip=/api prepend=/v2", "/api/users", "/v2/users"),
        ("urlprefix-/api prepend=/v2/", "/api/users", "/v2/api/users"),
        ("urlprefix-/api strip=/api", "/apix", "/apix"),
    ],
)
def test_strip_then_prepend(tag: str, path: str, want: str) -> None:
    route = build_table([reg("a", "1", 80, [tag])], []).routes[0]
    assert rewrite_path(route, path) == want


def picks(regs: list[ServiceRegistration], n: int = 10_000, strategy: str = "rr") -> Counter[str]:
    table = build_table(regs, [])
    server = ProxyServer(lambda: table, strategy=strategy)
    route = table.lookup("", "/a")
    assert route is not None
    counts: Counter[str] = Counter()
    for _ in range(n):
        target = server.pick(route, [])
        assert target is not None
        counts[target.service] += 1
    return counts


@pytest.mark.parametrize(
    ("services", "want"),
    [
        # a canary service at 10%, the stable one takes the rest
        ({"stable": [None, None, None], "canary": [0.1]}, {"stable": 0.9, "canary": 0.1}),
        # weights of all services; the instances of a service share its weight
        ({"x": [0.25, 0.25], "y": [0.75]}, {"x": 0.25, "y": 0.75}),
        # weights adding up to more than 1 are scaled down; unweighted services get nothing
        ({"x": [0.8], "y": [0.8], "z": [None]}, {"x": 0.5, "y": 0.5, "z": 0.0}),
        # no weights: even per instance
        ({"x": [None, None, None], "y": [None]}, {"x": 0.75, "y": 0.25}),
    ],
    ids=["canary-10pc", "all-weighted", "over-one", "unweighted"],
)
@pytest.mark.parametrize("strategy", ["rr", "rnd"])
def test_weights_share_traffic(
    services: dict[str, list[float | None]], want: dict[str, float], strategy: str
) -> None:
    regs = []
    port = 1000
    for name, weights in services.items():
        for w in weights:
            port += 1
            regs.append(
                reg(
                    name, f"{name}-{port}", port, ["urlprefix-/a" + (f" weight={w}" if w is not None else "")]
                )
            )
    counts = picks(regs, strategy=strategy)
    for name, share in want.items():
        assert abs(counts[name] / 10_000 - share) <= 0.02, (name, counts)


def test_a_weighted_share_holds_while_the_table_is_rebuilt() -> None:
    """The table is built again on every catalog or check change: a canary's 10 % share must
    survive that (a round-robin position that started over with each new table sent every
    request to the route's first slots: 0 of 300 to the canary in a loaded e2e run)."""
    regs = [reg("stable", f"s-{p}", p, ["urlprefix-/a"]) for p in (1001, 1002, 1003)]
    regs.append(reg("canary", "c-1", 2001, ["urlprefix-/a weight=0.1"]))
    tables = [build_table(regs, []) for _ in range(2)]
    current = {"table": tables[0]}
    server = ProxyServer(lambda: current["table"])
    counts: Counter[str] = Counter()
    for i in range(1_000):
        current["table"] = tables[i % 2]  # a new table (an equal one) before every request
        route = server.route(b"", b"/a")
        assert route is not None
        target = server.pick(route, [])
        assert target is not None
        counts[target.service] += 1
    assert abs(counts["canary"] / 1_000 - 0.1) <= 0.02, counts


@pytest.mark.parametrize("others", [1, 2, 4, 9])
def test_a_client_that_takes_turns_with_others_still_gets_the_share(others: int) -> None:
    """Round robin over the slots: a client whose requests come between `others` requests of
    other clients must still see the canary's 10 %. With the canary's slots evenly spaced
    (every 10th), a client in step with that period got all of them or none: 2 of 300 in an
    e2e run beside a traffic generator."""
    regs = [reg("stable", f"s-{p}", p, ["urlprefix-/a"]) for p in (1001, 1002, 1003)]
    regs.append(reg("canary", "c-1", 2001, ["urlprefix-/a weight=0.1"]))
    table = build_table(regs, [])
    server = ProxyServer(lambda: table)
    route = table.lookup("", "/a")
    assert route is not None
    mine: Counter[str] = Counter()
    for _ in range(1_000):
        for _ in range(others):
            server.pick(route, [])
        target = server.pick(route, [])
        assert target is not None
        mine[target.service] += 1
    assert abs(mine["canary"] / 1_000 - 0.1) <= 0.03, mine


def test_problems_are_reported_in_the_table() -> None:
    rows = describe(build_table([reg("a", "1", 80, ["urlprefix-/a colour=blue strip=/a prepend=/b"])], []))
    assert rows == [
        {
            "host": "",
            "path": "/a",
            "service": "a",
            "strip": "/a",
            "proto": "http",
            "targets": ["127.0.0.1:80"],
            "options": {"prepend": "/b"},
            "errors": ["unknown option 'colour=blue'"],
        }
    ]


def test_tcp_routes_are_apart_from_http_ones() -> None:
    table = build_table(
        [reg("db", "1", 5432, ["urlprefix-:6000 proto=tcp"]), reg("web", "2", 80, ["urlprefix-/"])], []
    )
    assert list(table.tcp()) == [6000]
    assert table.tcp()[6000].service == "db"
    assert table.lookup("", ":6000") is None  # an HTTP request never reaches a TCP route
