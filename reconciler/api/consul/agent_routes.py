"""Consul's agent and status endpoints.

`/v1/agent/self`, `/v1/agent/members`, `/v1/agent/services`, `/v1/agent/service/:id`,
`/v1/agent/service/register` and `/v1/agent/service/deregister/:id` (services that no job
runs: a database on a fixed host, an external API; they enter the same catalog, so the router
routes their `urlprefix-` tags too, and they stay until deregistered), `/v1/status/leader`,
`/v1/status/peers`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from reconciler.api.acl import visible
from reconciler.api.consul import shapes
from reconciler.api.consul.context import block, consul_response, context
from reconciler.api.errors import ApiError
from reconciler.api.http import body_json, run
from reconciler.model.ids import AllocId, NodeId, is_valid_name
from reconciler.model.services import ServiceRegistration
from reconciler.store import Txn

routes = web.RouteTableDef()
AGENT_SOURCE = "agent"


def _own_node_id(request: web.Request) -> str:
    ctx = context(request)
    keys = ctx.watched.nodes.keys_by_index("name", ctx.node_name)
    return ctx.store.keys.last_segment(keys[0]) if keys else ""


@routes.get("/v1/agent/self")
async def agent_self(request: web.Request) -> web.Response:
    ctx = context(request)
    node_id = _own_node_id(request)
    host, _, _ = ctx.advertise.partition(":")
    config = {
        "Datacenter": ctx.datacenter,
        "NodeName": ctx.node_name,
        "NodeID": node_id,
        "Server": True,
        "Revision": "",
        "Version": ctx.version,
        "PrimaryDatacenter": ctx.datacenter,
    }
    member = {
        "Name": ctx.node_name,
        "Addr": host,
        "Port": 8301,
        "Status": 1,
        "Tags": {"dc": ctx.datacenter, "role": "consul", "id": node_id, "build": ctx.version},
    }
    return consul_response(
        {"Config": config, "Member": member, "Meta": {}, "Stats": {}}, ctx.watched.index_of()
    )


@routes.get("/v1/agent/members")
async def agent_members(request: web.Request) -> web.Response:
    ctx = context(request)
    rows = [
        {
            "Name": n.value.name,
            "Addr": n.value.address,
            "Port": 8301,
            "Status": 1 if n.value.status == "ready" else 4,
            "Tags": {"dc": n.value.datacenter, "id": n.value.id},
        }
        for n in sorted(ctx.watched.nodes.items(), key=lambda n: n.value.name)
    ]
    return consul_response(rows, ctx.watched.index_of(ctx.watched.nodes))


@routes.get("/v1/agent/services")
async def agent_services(request: web.Request) -> web.Response:
    ctx = context(request)
    w = ctx.watched
    index = await block(request, lambda: w.index_of(w.services))
    node_id = _own_node_id(request)
    shown = visible(request)
    mine = [r for r in w.services.items() if r.value.node_id == node_id and shown(r.value.namespace)]
    return consul_response(
        {r.value.id: shapes.agent_service_json(r) for r in sorted(mine, key=lambda r: r.value.id)}, index
    )


@routes.get("/v1/agent/service/{service_id}")
async def agent_service(request: web.Request) -> web.Response:
    ctx = context(request)
    w = ctx.watched
    index = await block(request, lambda: w.index_of(w.services))
    sid, shown = request.match_info["service_id"], visible(request)
    for r in w.services.items():
        if r.value.id == sid and shown(r.value.namespace):
            return consul_response(shapes.agent_service_json(r), index)
    raise ApiError(404, f"unknown service ID: {sid}")


# Consul decodes a service definition's keys case-insensitively, snake_case included
# (py-consul sends `name`, `enabletagoverride`, `tagged_addresses`)
FIELDS = {
    f.lower(): f
    for f in (
        "Name",
        "ID",
        "Tags",
        "Address",
        "Port",
        "Meta",
        "Check",
        "Checks",
        "EnableTagOverride",
        "Weights",
        "Kind",
        "TaggedAddresses",
        "Connect",
        "Proxy",
    )
}


def _canonical(body: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in body.items():
        name = FIELDS.get(key.replace("_", "").lower())
        if name is None:
            raise ApiError(400, f"{key}: field not supported by this agent", field=key)
        out[name] = value
    return out


def _refuse_unsupported(body: dict[str, Any]) -> None:
    for key in ("Check", "Checks"):
        if body.get(key):
            raise ApiError(
                400,
                f"{key}: checks on services registered through the agent API are not "
                "supported; register the service without checks",
                field=key,
            )
    for key in ("Kind", "TaggedAddresses", "Connect", "Proxy"):
        if body.get(key):
            raise ApiError(400, f"{key}: not supported by this agent (no service mesh)", field=key)


def _tags_meta_port(body: dict[str, Any]) -> tuple[list[str], dict[str, str], int]:
    tags = body.get("Tags") or []
    meta = body.get("Meta") or {}
    port = body.get("Port") or 0
    if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise ApiError(400, "Tags: must be a list of strings", field="Tags")
    if not (
        isinstance(meta, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    ):
        raise ApiError(400, "Meta: must be an object of strings", field="Meta")
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ApiError(400, f"Port: must be 0..65535, got {port!r}", field="Port")
    return tags, meta, port


def registration_from(raw: Any, *, node_id: str, address: str, datacenter: str) -> ServiceRegistration:
    """A Consul service definition (`Name`, `ID`, `Tags`, `Address`, `Port`, `Meta`) as a
    catalog entry. Checks, Connect and the rest are refused when set, not dropped: no
    agent-side check runner or mesh exists yet."""
    if not isinstance(raw, dict):
        raise ApiError(400, "request body must be a JSON object (a Consul service definition)")
    body = _canonical(raw)
    name = body.get("Name")
    if not isinstance(name, str) or not is_valid_name(name):
        raise ApiError(400, f"Name: invalid service name {name!r}", field="Name")
    sid = body.get("ID") or name
    if not isinstance(sid, str) or not is_valid_name(sid):
        raise ApiError(400, f"ID: invalid service ID {sid!r}", field="ID")
    _refuse_unsupported(body)
    tags, meta, port = _tags_meta_port(body)
    addr = body.get("Address") or address
    if not isinstance(addr, str):
        raise ApiError(400, "Address: must be a string", field="Address")
    return ServiceRegistration(
        id=sid,
        service_name=name,
        alloc_id=AllocId(sid),
        namespace="default",
        job_id="",
        group="",
        task="",
        node_id=NodeId(node_id),
        datacenter=datacenter,
        address=addr,
        port=port,
        port_label=str(port),
        tags=tags,
        meta=meta,
        create_time=time.time(),
        source=AGENT_SOURCE,
    )


def _agent_keys(request: web.Request, sid: str) -> list[str]:
    w = context(request).watched
    return [r.key for r in w.services.items() if r.value.source == AGENT_SOURCE and r.value.id == sid]


@routes.put("/v1/agent/service/register")
async def agent_service_register(request: web.Request) -> web.Response:
    ctx = context(request)
    node = (
        ctx.watched.nodes.get_versioned(ctx.store.keys.node(_own_node_id(request)))
        if _own_node_id(request)
        else None
    )
    reg = registration_from(
        await body_json(request),
        node_id=node.value.id if node else "",
        address=node.value.address if node else "127.0.0.1",
        datacenter=ctx.datacenter,
    )
    key = ctx.store.keys.service(reg.service_name, reg.alloc_id, reg.port_label)
    txn = Txn()
    for old in _agent_keys(request, reg.id):
        if old != key:
            txn.delete(old)
    txn.put(key, reg)
    rev = await run(ctx.store.commit_revision, txn)
    if rev is None:
        raise ApiError(409, "the registration changed while it was being written; try again")
    await ctx.watched.changes.wait_until(lambda: ctx.watched.services.revision >= rev, 5.0)
    return web.Response(status=200, text="")


@routes.put("/v1/agent/service/deregister/{service_id}")
async def agent_service_deregister(request: web.Request) -> web.Response:
    ctx = context(request)
    sid = request.match_info["service_id"]
    keys = _agent_keys(request, sid)
    if not keys:
        raise ApiError(
            404,
            f"Unknown service ID {sid!r}: only services registered through this API can be "
            "deregistered here (a job's services leave with their allocation)",
        )
    txn = Txn()
    for k in keys:
        txn.delete(k)
    if await run(ctx.store.commit, txn):
        services = ctx.watched.services
        await ctx.watched.changes.wait_until(
            lambda: all(services.get_versioned(k) is None for k in keys), 5.0
        )
    return web.Response(status=200, text="")


@routes.get("/v1/status/leader")
async def status_leader(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps(context(request).advertise), content_type="application/json")


@routes.get("/v1/status/peers")
async def status_peers(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps([context(request).advertise]), content_type="application/json")
