"""Table-driven tests of the pure route table: tags -> routes, health filtering, strip,
host routes, lookup order."""

from __future__ import annotations

import pytest

from controllers.router.table import RouteSpec, build_table, describe, parse_tag, rewrite_path
from reconciler.model.job import Check
from reconciler.model.services import CheckStatus, RegisteredCheck, ServiceRegistration


def reg(name: str, alloc: str, port: int, tags: list[str], checks: int = 0) -> ServiceRegistration:
    return ServiceRegistration(
        id=f"id-{alloc}", service_name=name, alloc_id=alloc, namespace="default", job_id="j", group="g", task="",
        node_id="n", address="127.0.0.1", port=port, port_label="http", tags=tags,
        checks=[RegisteredCheck(id=f"{name}-c{i}", check=Check()) for i in range(checks)],
    )


def st(alloc: str, check_id: str, status: str) -> CheckStatus:
    return CheckStatus(alloc_id=alloc, check_id=check_id, status=status)


@pytest.mark.parametrize("tag, want", [
    ("urlprefix-/todo", RouteSpec("", "/todo")),
    ("urlprefix-/", RouteSpec("", "/")),
    ("urlprefix-example.com/api", RouteSpec("example.com", "/api")),
    ("urlprefix-Example.COM/", RouteSpec("example.com", "/")),
    ("urlprefix-/api strip=/api", RouteSpec("", "/api", strip="/api")),
    ("urlprefix-/api proto=https", RouteSpec("", "/api", proto="https")),
    ("urlprefix-/api proto=gopher", RouteSpec("", "/api")),
    ("urlprefix-/a strip=/a proto=http", RouteSpec("", "/a", strip="/a")),
    ("urlprefix-/s proto=https tlsskipverify=true", RouteSpec("", "/s", proto="https", tls_skip_verify=True)),
    ("urlprefix-", None),
    ("urlprefix-example.com", None),
    ("web", None),
    ("prefix-/x", None),
])
def test_parse_tag(tag: str, want: RouteSpec | None) -> None:
    assert parse_tag(tag) == want


@pytest.mark.parametrize("regs, checks, want", [
    # no checks: healthy
    ([reg("a", "1", 80, ["urlprefix-/a"])], [], [("", "/a", ["127.0.0.1:80"])]),
    # check passing / warning / critical / not reported yet
    ([reg("a", "1", 80, ["urlprefix-/a"], checks=1)], [st("1", "a-c0", "passing")], [("", "/a", ["127.0.0.1:80"])]),
    ([reg("a", "1", 80, ["urlprefix-/a"], checks=1)], [st("1", "a-c0", "warning")], [("", "/a", [])]),
    ([reg("a", "1", 80, ["urlprefix-/a"], checks=1)], [st("1", "a-c0", "critical")], [("", "/a", [])]),
    ([reg("a", "1", 80, ["urlprefix-/a"], checks=1)], [], [("", "/a", [])]),
    # every check must pass
    ([reg("a", "1", 80, ["urlprefix-/a"], checks=2)], [st("1", "a-c0", "passing"), st("1", "a-c1", "critical")],
     [("", "/a", [])]),
    # two instances, one unhealthy
    ([reg("a", "1", 80, ["urlprefix-/a"], checks=1), reg("a", "2", 81, ["urlprefix-/a"], checks=1)],
     [st("1", "a-c0", "passing"), st("2", "a-c0", "critical")], [("", "/a", ["127.0.0.1:80"])]),
    # untagged service: no route
    ([reg("a", "1", 80, ["web"])], [], []),
    # host routes first, then longest prefix
    ([reg("a", "1", 80, ["urlprefix-/"]), reg("b", "2", 81, ["urlprefix-/api"]),
      reg("c", "3", 82, ["urlprefix-h.example/"])], [],
     [("h.example", "/", ["127.0.0.1:82"]), ("", "/api", ["127.0.0.1:81"]), ("", "/", ["127.0.0.1:80"])]),
    # a port of 0 (label not allocated) is never a target
    ([reg("a", "1", 0, ["urlprefix-/a"])], [], [("", "/a", [])]),
])
def test_build_table(regs, checks, want) -> None:
    rows = describe(build_table(regs, checks))
    assert [(r["host"], r["path"], r["targets"]) for r in rows] == want


def test_lookup_order_and_hosts() -> None:
    table = build_table([
        reg("root", "1", 80, ["urlprefix-/"]), reg("api", "2", 81, ["urlprefix-/api"]),
        reg("apiv2", "3", 82, ["urlprefix-/api/v2"]), reg("host", "4", 83, ["urlprefix-h.example/api"]),
    ], [])
    cases = [
        ("any", "/", "root"), ("any", "/x", "root"), ("any", "/api", "api"), ("any", "/api/v1", "api"),
        ("any", "/api/v2/x", "apiv2"), ("h.example", "/api/v2", "host"), ("H.Example:9999", "/api", "host"),
        ("h.example", "/other", "root"),
    ]
    for host, path, service in cases:
        route = table.lookup(host, path)
        assert route is not None and route.service == service, (host, path)
    assert build_table([], []).lookup("x", "/") is None


@pytest.mark.parametrize("strip, path, want", [
    ("/api", "/api/users", "/users"), ("/api", "/api", "/"), ("", "/api/x", "/api/x"), ("/other", "/api", "/api"),
])
def test_rewrite_path(strip: str, path: str, want: str) -> None:
    table = build_table([reg("a", "1", 80, [f"urlprefix-/api strip={strip}" if strip else "urlprefix-/api"])], [])
    route = table.routes[0]
    assert rewrite_path(route, path) == want
