"""Every route either face registers has a rule in `acl_table`, and the table names no route
that does not exist: an endpoint added without a rule would be refused, never left open."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from reconciler.api.acl_table import CONSUL_ROUTES, NOMAD_ROUTES, RouteKey
from reconciler.api.app import make_app
from reconciler.api.consul.app import make_consul_app
from reconciler.api.consul.context import ConsulContext
from reconciler.api.context import ApiContext
from reconciler.api.watched import WatchedState
from reconciler.store import Store


def registered(app: web.Application) -> set[RouteKey]:
    """(method, pattern) of every route; HEAD is served by the GET rule."""
    return {
        (r.method, r.resource.canonical) for r in app.router.routes() if r.resource and r.method != "HEAD"
    }


def nomad_app() -> web.Application:
    return make_app(ApiContext(store=Store(["http://127.0.0.1:9"]), data_dir=Path("/nonexistent")))


def consul_app() -> web.Application:
    store = Store(["http://127.0.0.1:9"])
    return make_consul_app(ConsulContext(store=store, watched=WatchedState(store), node_name="n"))


@pytest.mark.parametrize(
    ("build", "table"), [(nomad_app, NOMAD_ROUTES), (consul_app, CONSUL_ROUTES)], ids=["nomad", "consul"]
)
def test_every_route_has_exactly_one_rule(build: object, table: dict[RouteKey, object]) -> None:
    routes = registered(build())  # type: ignore[operator]
    assert sorted(routes - table.keys()) == [], "routes without an ACL rule"
    assert sorted(table.keys() - routes) == [], "ACL rules for routes that do not exist"
