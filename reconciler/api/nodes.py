"""Node endpoints in Nomad's paths and shapes:

    GET  /v1/nodes?prefix=           GET  /v1/node/{node_id}      GET /v1/node/{node_id}/allocations
    POST /v1/node/{node_id}/eligibility  {"Eligibility": "eligible"|"ineligible"}
    POST /v1/node/{node_id}/drain        {"DrainSpec": {...}|null, "MarkEligible": bool}

Eligibility and drain are operations (`reconciler.ops.nodes`): one guarded transaction
with an evaluation for every job running on the node.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from reconciler.api.allocations import stubs
from reconciler.api.context import CTX
from reconciler.api.http import body_object, by_id_or_prefix, flag, ident, ok, run
from reconciler.api.reads import all_nodes, allocs_index
from reconciler.api.views import BY_ID, NEWEST_FIRST, answer, watched
from reconciler.api.watched import WatchedState
from reconciler.model.objects import Node
from reconciler.ops.nodes import NodeUpdate, drain, set_eligibility

routes = web.RouteTableDef()


def node_stub(n: Node) -> dict[str, Any]:
    return {
        "ID": n.id,
        "Name": n.name,
        "Datacenter": n.datacenter,
        "Address": n.address,
        "NodeClass": n.node_class,
        "NodePool": n.node_pool,
        "Drain": n.drain,
        "SchedulingEligibility": n.eligibility,
        "Status": n.status,
        "StatusDescription": "",
        "Drivers": {d: {"Detected": True, "Healthy": h} for d, h in n.drivers.items()},
        "CreateIndex": 0,
        "ModifyIndex": 0,
        "Version": "",
    }


def node_full(n: Node) -> dict[str, Any]:
    out = node_stub(n)
    out.update(
        {
            "HTTPAddr": n.http_addr,
            "Attributes": dict(n.attributes),
            "Meta": dict(n.meta),
            "HostVolumes": {
                name: {"Name": name, "Path": v.path, "ReadOnly": v.read_only}
                for name, v in n.host_volumes.items()
            },
            "NodeResources": {
                "Cpu": {"CpuShares": n.resources.cpu_mhz, "TotalCpuCores": n.resources.cores},
                "Memory": {"MemoryMB": n.resources.memory_mb},
                "Disk": {"DiskMB": n.resources.disk_mb},
                "MinDynamicPort": n.min_dynamic_port,
                "MaxDynamicPort": n.max_dynamic_port,
            },
            "ReservedResources": {
                "Cpu": {"CpuShares": n.reserved.cpu_mhz},
                "Memory": {"MemoryMB": n.reserved.memory_mb},
                "Disk": {"DiskMB": n.reserved.disk_mb},
            },
            "DrainStrategy": {"Deadline": 0} if n.drain else None,
            "StatusUpdatedAt": int(n.modify_time),
        }
    )
    return out


def _update_response(u: NodeUpdate) -> web.Response:
    return ok(
        {"EvalIDs": u.eval_ids or None, "EvalCreateIndex": u.modify_index, "NodeModifyIndex": u.modify_index},
        index=u.modify_index,
    )


def find_node(w: WatchedState, node_ident: str) -> Node:
    """A node by full id or unique prefix, from the cache."""
    got = w.nodes.get(w.store.keys.node(node_ident))
    return got if got is not None else by_id_or_prefix(all_nodes(w), node_ident, "node")


def node_index(w: WatchedState, node_ident: str) -> tuple[int, ...]:
    return (w.node_table.key_index(w.store.keys.node(node_ident)),)


@routes.get("/v1/nodes")
async def list_nodes(request: web.Request) -> web.Response:
    w = watched(request)
    return await answer(
        request, lambda: (w.node_table.index,), lambda: [node_stub(n) for n in w.nodes.list()], BY_ID
    )


@routes.get("/v1/node/{node_id}")
async def read_node(request: web.Request) -> web.Response:
    w = watched(request)
    node_ident = ident(request, "node_id")
    return await answer(
        request, lambda: node_index(w, node_ident), lambda: node_full(find_node(w, node_ident))
    )


@routes.get("/v1/node/{node_id}/allocations")
async def node_allocations(request: web.Request) -> web.Response:
    w = watched(request)
    node_ident = ident(request, "node_id")

    def index() -> tuple[int, ...]:
        return (*node_index(w, node_ident), *allocs_index(w, "node", node_ident))

    def render() -> list[dict[str, Any]]:
        return stubs(w, w.allocs.by_index("node", find_node(w, node_ident).id))

    return await answer(request, index, render, NEWEST_FIRST)


async def _node_for_write(request: web.Request) -> Node:
    w = watched(request)
    await w.fence()
    return find_node(w, ident(request, "node_id"))


@routes.post("/v1/node/{node_id}/eligibility")
@routes.put("/v1/node/{node_id}/eligibility")
async def node_eligibility(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    body = await body_object(request, optional=True)
    n = await _node_for_write(request)
    return _update_response(await run(set_eligibility, store, n.id, body.get("Eligibility")))


@routes.post("/v1/node/{node_id}/drain")
@routes.put("/v1/node/{node_id}/drain")
async def node_drain(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    body = await body_object(request, optional=True)
    n = await _node_for_write(request)
    update = await run(
        drain,
        store,
        n.id,
        # python-nomad's drain_node(id, enable) sends only `?enable=` (Nomad's older form)
        enable=body.get("DrainSpec") is not None if body else flag(request, "enable"),
        mark_eligible=bool(body.get("MarkEligible", False)),
    )
    return _update_response(update)
