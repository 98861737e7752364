"""Table-driven tests of canary routing: a canary's own `canary_tags` spec gives the
canaries a share of the route (`weight=`), or the requests that carry a chosen header or
cookie (`canary-header=`, `canary-cookie=`); a canary without such an option is one more
instance of its service."""

from __future__ import annotations

from collections import Counter

import pytest

from controllers.router.server import ProxyServer
from controllers.router.table import RouteSpec, build_table, describe, parse_tag
from reconciler.model.services import ServiceRegistration

STABLE = "urlprefix-/todo"


def reg(
    alloc: str, port: int, tags: list[str], *, canary: bool = False, name: str = "todo"
) -> ServiceRegistration:
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
        canary=canary,
    )


def fleet(stable: int, canaries: int, canary_tag: str) -> list[ServiceRegistration]:
    """`stable` old instances with the job's tags; canaries with tags + canary_tags, as the
    registrar writes them for an unpromoted canary."""
    regs = [reg(f"s{i}", 2000 + i, [STABLE]) for i in range(stable)]
    regs += [reg(f"c{i}", 3000 + i, [STABLE, canary_tag], canary=True) for i in range(canaries)]
    return regs


def share_of_canaries(
    regs: list[ServiceRegistration], strategy: str, headers: list[tuple[bytes, bytes]]
) -> float:
    table = build_table(regs, [])
    server = ProxyServer(lambda: table, strategy=strategy)
    route = table.lookup("", "/todo")
    assert route is not None
    if route.canaries is not None and route.wants_canary(headers):
        route = route.canaries
    counts: Counter[bool] = Counter()
    for _ in range(10_000):
        target = server.pick(route, [])
        assert target is not None
        counts[target.port >= 3000] += 1
    return counts[True] / 10_000


@pytest.mark.parametrize(
    ("tag", "want"),
    [
        ("urlprefix-/todo canary-header=X-Canary:1", RouteSpec("", "/todo", canary_header=("x-canary", "1"))),
        ("urlprefix-/todo canary-header=X-Canary", RouteSpec("", "/todo", canary_header=("x-canary", ""))),
        ("urlprefix-/todo canary-cookie=canary=yes", RouteSpec("", "/todo", canary_cookie=("canary", "yes"))),
        ("urlprefix-/todo canary-cookie=beta", RouteSpec("", "/todo", canary_cookie=("beta", ""))),
        (
            "urlprefix-/todo weight=0.1 canary-header=X-Canary:1",
            RouteSpec("", "/todo", weight=0.1, canary_header=("x-canary", "1")),
        ),
        (
            "urlprefix-/todo canary-header=:1",
            RouteSpec(
                "",
                "/todo",
                errors=("bad option 'canary-header=:1': name:value (the value may be left out)",),
            ),
        ),
        (
            "urlprefix-/todo canary-cookie==1",
            RouteSpec(
                "",
                "/todo",
                errors=("bad option 'canary-cookie==1': name=value (the value may be left out)",),
            ),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_parse_canary_options(tag: str, want: RouteSpec) -> None:
    assert parse_tag(tag) == want


@pytest.mark.parametrize("strategy", ["rr", "rnd"])
@pytest.mark.parametrize(
    ("stable", "canaries", "canary_tag", "headers", "want"),
    [
        # the user story's 10 %: one canary beside three old instances, whatever their numbers
        (3, 1, "urlprefix-/todo weight=0.1", [], 0.1),
        (5, 2, "urlprefix-/todo weight=0.1", [], 0.1),
        (1, 3, "urlprefix-/todo weight=0.25", [], 0.25),
        # header or cookie only: the canaries get no other traffic...
        (3, 1, "urlprefix-/todo canary-header=X-Canary:1", [], 0.0),
        (3, 1, "urlprefix-/todo canary-cookie=canary=1", [(b"Cookie", b"a=b")], 0.0),
        # ...and every request that carries it
        (3, 1, "urlprefix-/todo canary-header=X-Canary:1", [(b"x-canary", b"1")], 1.0),
        (3, 2, "urlprefix-/todo canary-header=X-Canary", [(b"X-CANARY", b"anything")], 1.0),
        (3, 1, "urlprefix-/todo canary-header=X-Canary:1", [(b"X-Canary", b"2")], 0.0),
        (3, 1, "urlprefix-/todo canary-cookie=canary=1", [(b"Cookie", b"a=b; canary=1")], 1.0),
        (3, 1, "urlprefix-/todo canary-cookie=canary=1", [(b"Cookie", b"canary=10")], 0.0),
        # a share and a header together
        (3, 1, "urlprefix-/todo weight=0.2 canary-header=X-Canary:1", [], 0.2),
        (3, 1, "urlprefix-/todo weight=0.2 canary-header=X-Canary:1", [(b"X-Canary", b"1")], 1.0),
        # a canary tag without a canary option: one more instance (even split)
        (3, 1, "urlprefix-/todo", [], 0.25),
        (3, 1, "urlprefix-/todo strip=/todo", [], 0.25),
        # only canaries are healthy: they answer, share or not
        (0, 2, "urlprefix-/todo weight=0.1", [], 1.0),
        (0, 1, "urlprefix-/todo canary-header=X-Canary:1", [], 1.0),
    ],
)
def test_canaries_get_their_share(
    stable: int,
    canaries: int,
    canary_tag: str,
    headers: list[tuple[bytes, bytes]],
    want: float,
    strategy: str,
) -> None:
    got = share_of_canaries(fleet(stable, canaries, canary_tag), strategy, headers)
    assert abs(got - want) <= 0.02, got


def test_a_service_weight_and_a_canary_share_on_one_route() -> None:
    regs = fleet(2, 1, "urlprefix-/todo weight=0.1")
    regs.append(reg("o1", 4000, ["urlprefix-/todo weight=0.3"], name="other"))
    table = build_table(regs, [])
    route = table.lookup("", "/todo")
    assert route is not None
    assert dict(route.shares) == {"other": 0.3, "todo": 0.6, "todo canaries": 0.1}


def test_no_healthy_canary_keeps_header_requests_on_the_stable_instances() -> None:
    regs = fleet(2, 0, "urlprefix-/todo canary-header=X-Canary:1")
    route = build_table(regs, []).lookup("", "/todo")
    assert route is not None
    assert route.canaries is None


def test_canaries_in_the_table_rows() -> None:
    rows = describe(build_table(fleet(1, 1, "urlprefix-/todo weight=0.1 canary-header=X-Canary:1"), []))
    assert rows[0]["shares"] == {"todo": 0.9, "todo canaries": 0.1}
    assert rows[0]["canaries"] == {"targets": ["127.0.0.1:3000"], "header": "x-canary:1"}
    assert rows[0]["targets"] == ["127.0.0.1:2000", "127.0.0.1:3000"]


def test_a_canary_spec_does_not_set_the_routes_options() -> None:
    """The old instances' spec (their `tags`) decides the route's options; a canary's
    option errors still show."""
    regs = fleet(1, 1, "urlprefix-/todo weight=0.1 colour=blue")
    route = build_table(regs, []).lookup("", "/todo")
    assert route is not None
    assert route.errors == ("unknown option 'colour=blue'",)
    assert route.plain
    merged = build_table(fleet(1, 1, "urlprefix-/todo strip=/todo"), []).lookup("", "/todo")
    assert merged is not None
    assert merged.strip == ""
