"""Agent and status endpoints: `/v1/agent/self`, `/v1/status/leader`, `/v1/status/peers`."""

from __future__ import annotations

from aiohttp import web

from reconciler import __version__
from reconciler.api.context import CTX
from reconciler.api.http import ok, run
from reconciler.api.views import answer, watched
from reconciler.api.watched import LEADER

routes = web.RouteTableDef()


@routes.get("/v1/agent/self")
async def agent_self(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    rev = await run(ctx.store.revision)
    return ok(
        {
            "config": {
                "Region": ctx.region,
                "Datacenter": ctx.datacenter,
                "NodeName": ctx.node_name,
                "DataDir": str(ctx.data_dir),
                "Version": {"Version": __version__},
                "Etcd": {"Endpoints": ctx.store.endpoints, "Prefix": ctx.store.keys.prefix},
            },
            "member": {"Name": ctx.node_name, "Tags": {"region": ctx.region, "dc": ctx.datacenter}},
            "stats": {
                "etcd": {"revision": rev},
                "api": {"blocked_queries": watched(request).changes.waiting},
            },
        },
        index=rev,
    )


def _leader(request: web.Request) -> str:
    w = watched(request)
    rec = w.leaders.get(w.store.keys.leader(LEADER))
    return rec.identity if rec is not None else ""


@routes.get("/v1/status/leader")
async def leader(request: web.Request) -> web.Response:
    w = watched(request)
    return await answer(request, lambda: (w.leaders.revision,), lambda: _leader(request))


@routes.get("/v1/status/peers")
async def peers(request: web.Request) -> web.Response:
    w = watched(request)
    return await answer(request, lambda: (w.leaders.revision,), lambda: [p for p in [_leader(request)] if p])
