"""Consul's catalog and health endpoints, served from the watched caches.

`/v1/catalog/services`, `/v1/catalog/service/:name` (`?tag=`), `/v1/catalog/nodes`,
`/v1/catalog/node/:node`, `/v1/health/service/:name` (`?passing`, `?tag=`),
`/v1/health/checks/:service`, `/v1/health/state/:state`, `/v1/health/node/:node`. All
block on `?index=`. With ACLs on, services are listed only from the namespaces the caller
has `read-job` in (Consul filters its catalog by the token's service rules; a registration
here belongs to a job's namespace), and node checks only to a `node` read rule.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from reconciler.api.acl import Visible, sees_nodes, visible
from reconciler.api.consul import shapes
from reconciler.api.consul.context import block, consul_response, context, not_found, query_flag
from reconciler.api.errors import ApiError
from reconciler.api.watched import WatchedState
from reconciler.model.objects import Node
from reconciler.model.services import CheckStatus, ServiceRegistration
from reconciler.store import Versioned

routes = web.RouteTableDef()


def _catalog_index(w: WatchedState) -> int:
    return w.index_of(w.services, w.nodes)


def _health_index(w: WatchedState) -> int:
    return w.index_of(w.services, w.nodes, w.checks)


def _node(w: WatchedState, node_id: str) -> Versioned[Node] | None:
    return w.nodes.get_versioned(w.store.keys.node(node_id)) if node_id else None


def _statuses(w: WatchedState, alloc_id: str) -> dict[str, Versioned[CheckStatus]]:
    out = {}
    for key in w.checks.keys_by_index("alloc", alloc_id):
        got = w.checks.get_versioned(key)
        if got is not None:
            out[got.value.check_id] = got
    return out


def _registrations(
    w: WatchedState, shown: Visible, name: str | None = None
) -> list[Versioned[ServiceRegistration]]:
    items = [i for i in w.services.items() if shown(i.value.namespace)]
    if name is not None:
        items = [i for i in items if i.value.service_name == name]
    return sorted(items, key=lambda i: (i.value.node_id, i.value.id))


def _tags(request: web.Request) -> list[str]:
    return request.query.getall("tag", [])


def health_entries(w: WatchedState, name: str, shown: Visible) -> list[dict[str, Any]]:
    return [
        shapes.health_entry(r, _node(w, r.value.node_id), _statuses(w, r.value.alloc_id))
        for r in _registrations(w, shown, name)
    ]


@routes.get("/v1/catalog/services")
async def catalog_services(request: web.Request) -> web.Response:
    w = context(request).watched
    index = await block(request, lambda: _catalog_index(w))
    out: dict[str, set[str]] = {}
    for r in _registrations(w, visible(request)):
        out.setdefault(r.value.service_name, set()).update(r.value.tags)
    return consul_response({name: sorted(tags) for name, tags in sorted(out.items())}, index)


@routes.get("/v1/catalog/service/{name}")
async def catalog_service(request: web.Request) -> web.Response:
    w = context(request).watched
    index = await block(request, lambda: _catalog_index(w))
    tags = _tags(request)
    rows = [
        shapes.catalog_service_json(r, _node(w, r.value.node_id))
        for r in _registrations(w, visible(request), request.match_info["name"])
        if shapes.has_tags(r.value.tags, tags)
    ]
    return consul_response(rows, index)


@routes.get("/v1/catalog/nodes")
async def catalog_nodes(request: web.Request) -> web.Response:
    w = context(request).watched
    index = await block(request, lambda: w.index_of(w.nodes))
    rows = [shapes.node_json(n) for n in sorted(w.nodes.items(), key=lambda n: n.value.name)]
    return consul_response(rows, index)


def _node_by_name(w: WatchedState, name: str) -> Versioned[Node] | None:
    for n in w.nodes.items():
        if n.value.name == name or n.value.id == name:
            return n
    return None


@routes.get("/v1/catalog/node/{node}")
async def catalog_node(request: web.Request) -> web.Response:
    w = context(request).watched
    index = await block(request, lambda: _catalog_index(w))
    node = _node_by_name(w, request.match_info["node"])
    if node is None:
        return consul_response(None, index)
    services = {
        r.value.id: shapes.agent_service_json(r)
        for r in _registrations(w, visible(request))
        if r.value.node_id == node.value.id
    }
    return consul_response({"Node": shapes.node_json(node), "Services": services}, index)


@routes.get("/v1/health/service/{name}")
async def health_service(request: web.Request) -> web.Response:
    w = context(request).watched
    index = await block(request, lambda: _health_index(w))
    tags = _tags(request)
    rows = [
        e
        for e in health_entries(w, request.match_info["name"], visible(request))
        if shapes.has_tags(e["Service"]["Tags"], tags)
    ]
    if query_flag(request, "passing"):
        rows = [e for e in rows if shapes.passing(e)]
    return consul_response(rows, index)


@routes.get("/v1/health/checks/{service}")
async def health_checks(request: web.Request) -> web.Response:
    w = context(request).watched
    index = await block(request, lambda: _health_index(w))
    rows: list[dict[str, Any]] = []
    for r in _registrations(w, visible(request), request.match_info["service"]):
        node = _node(w, r.value.node_id)
        rows.extend(
            shapes.service_checks(
                r, shapes.node_json(node, r.value.node_id)["Node"], _statuses(w, r.value.alloc_id)
            )
        )
    return consul_response(rows, index)


def _all_checks(request: web.Request, w: WatchedState) -> list[dict[str, Any]]:
    nodes = sorted(w.nodes.items(), key=lambda n: n.value.name) if sees_nodes(request) else []
    rows = [shapes.serf_check(n, n.value.name) for n in nodes]
    for r in _registrations(w, visible(request)):
        node = _node(w, r.value.node_id)
        rows.extend(
            shapes.service_checks(
                r, shapes.node_json(node, r.value.node_id)["Node"], _statuses(w, r.value.alloc_id)
            )
        )
    return rows


@routes.get("/v1/health/state/{state}")
async def health_state(request: web.Request) -> web.Response:
    state = request.match_info["state"]
    if state not in ("any", *shapes.CHECK_STATES):
        raise ApiError(400, f"Unknown check state {state!r}: use any, passing, warning or critical")
    w = context(request).watched
    index = await block(request, lambda: _health_index(w))
    rows = [c for c in _all_checks(request, w) if state == "any" or c["Status"] == state]
    return consul_response(rows, index)


@routes.get("/v1/health/node/{node}")
async def health_node(request: web.Request) -> web.Response:
    w = context(request).watched
    index = await block(request, lambda: _health_index(w))
    node = _node_by_name(w, request.match_info["node"])
    if node is None:
        return not_found(index)
    rows = [c for c in _all_checks(request, w) if c["Node"] == node.value.name]
    return consul_response(rows, index)
