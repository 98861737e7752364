"""Node pool endpoints in Nomad's paths and shapes:

    GET /v1/node/pools?prefix=      GET /v1/node/pool/{name}      GET /v1/node/pool/{name}/nodes

The pools are `reconciler.model.node_pools`'s: the built-ins ("all", "default") and every
pool a registered node names, so they follow the node table (its index is theirs).
Creating, updating and deleting pools answers 501 (api/unserved.py): a pool exists here
once a node registers in it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from reconciler.api.errors import ApiError
from reconciler.api.nodes import node_stub
from reconciler.api.views import BY_ID, Listing, answer, watched
from reconciler.api.watched import WatchedState
from reconciler.model import node_pools
from reconciler.model.node_pools import NodePool

routes = web.RouteTableDef()

BY_NAME = Listing(token=lambda r: str(r["Name"]), prefix_field="Name")


def pool_view(p: NodePool, index: int) -> dict[str, Any]:
    """Nomad's NodePool object (no metadata or scheduler configuration of its own here)."""
    return {
        "Name": p.name,
        "Description": p.description,
        "Meta": None,
        "SchedulerConfiguration": None,
        "CreateIndex": index,
        "ModifyIndex": index,
    }


def _pools(w: WatchedState) -> list[NodePool]:
    return node_pools.known_pools(n.node_pool for n in w.nodes.list())


def _find(w: WatchedState, name: str) -> NodePool:
    for p in _pools(w):
        if p.name == name:
            return p
    raise ApiError(404, "node pool not found")


@routes.get("/v1/node/pools")
async def list_pools(request: web.Request) -> web.Response:
    w = watched(request)
    return await answer(
        request,
        lambda: (w.node_table.index,),
        lambda: [pool_view(p, w.node_table.index) for p in _pools(w)],
        BY_NAME,
    )


@routes.get("/v1/node/pool/{name}")
async def read_pool(request: web.Request) -> web.Response:
    w = watched(request)
    name = request.match_info["name"]
    return await answer(
        request, lambda: (w.node_table.index,), lambda: pool_view(_find(w, name), w.node_table.index)
    )


@routes.get("/v1/node/pool/{name}/nodes")
async def pool_nodes(request: web.Request) -> web.Response:
    """The stubs of the pool's nodes ("all": every node), as `GET /v1/nodes` shows them."""
    w = watched(request)
    name = request.match_info["name"]

    def render() -> list[dict[str, Any]]:
        pool = _find(w, name).name
        return [node_stub(n) for n in w.nodes.list() if pool == node_pools.ALL or n.node_pool == pool]

    return await answer(request, lambda: (w.node_table.index,), render, BY_ID)
