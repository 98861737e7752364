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

from reconciler.api.allocations import alloc_stub
from reconciler.api.context import CTX
from reconciler.api.http import body_object, by_id_or_prefix, ident, ok, run
from reconciler.api.reads import all_allocs, all_nodes, all_statuses
from reconciler.model.objects import Node
from reconciler.ops.nodes import NodeUpdate, drain, set_eligibility
from reconciler.store import Store

routes = web.RouteTableDef()


def node_stub(n: Node) -> dict[str, Any]:
    return {
        "ID": n.id,
        "Name": n.name,
        "Datacenter": n.datacenter,
        "Address": n.address,
        "NodeClass": n.node_class,
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


def _resolve(store: Store, node_ident: str) -> tuple[Node, int]:
    nodes, rev = all_nodes(store)
    return by_id_or_prefix(nodes, node_ident, "node"), rev


@routes.get("/v1/nodes")
async def list_nodes(request: web.Request) -> web.Response:
    prefix = request.query.get("prefix", "")
    nodes, rev = await run(all_nodes, request.app[CTX].store)
    return ok([node_stub(n) for n in nodes if n.id.startswith(prefix)], index=rev)


@routes.get("/v1/node/{node_id}")
async def read_node(request: web.Request) -> web.Response:
    n, rev = await run(_resolve, request.app[CTX].store, ident(request, "node_id"))
    return ok(node_full(n), index=rev)


@routes.get("/v1/node/{node_id}/allocations")
async def node_allocations(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    node_ident = ident(request, "node_id")

    def read() -> tuple[list[dict[str, Any]], int]:
        n, _ = _resolve(store, node_ident)
        st, _ = all_statuses(store)
        allocs, rev = all_allocs(store)
        return [alloc_stub(a, st.get(a.id)) for a in allocs if a.node_id == n.id], rev

    out, rev = await run(read)
    return ok(out, index=rev)


@routes.post("/v1/node/{node_id}/eligibility")
@routes.put("/v1/node/{node_id}/eligibility")
async def node_eligibility(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    node_ident = ident(request, "node_id")
    body = await body_object(request, optional=True)
    n, _ = await run(_resolve, store, node_ident)
    return _update_response(await run(set_eligibility, store, n.id, body.get("Eligibility")))


@routes.post("/v1/node/{node_id}/drain")
@routes.put("/v1/node/{node_id}/drain")
async def node_drain(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    node_ident = ident(request, "node_id")
    body = await body_object(request, optional=True)
    n, _ = await run(_resolve, store, node_ident)
    update = await run(
        drain,
        store,
        n.id,
        enable=body.get("DrainSpec") is not None,
        mark_eligible=bool(body.get("MarkEligible", False)),
    )
    return _update_response(update)
