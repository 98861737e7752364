"""Agent and status endpoints: `/v1/agent/self`, `/v1/status/leader`, `/v1/status/peers`."""

from __future__ import annotations

from aiohttp import web

from reconciler import __version__
from reconciler.api.context import CTX
from reconciler.api.http import ok, run

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
            "stats": {"etcd": {"revision": rev}},
        },
        index=rev,
    )


async def _scheduler_leader(request: web.Request) -> tuple[str, int | None]:
    store = request.app[CTX].store
    raw = await run(store.get_raw, store.keys.leader("scheduler"))
    return (raw.value.decode(), raw.mod_revision) if raw else ("", None)


@routes.get("/v1/status/leader")
async def leader(request: web.Request) -> web.Response:
    name, rev = await _scheduler_leader(request)
    return ok(name, index=rev)


@routes.get("/v1/status/peers")
async def peers(request: web.Request) -> web.Response:
    name, rev = await _scheduler_leader(request)
    return ok([name] if name else [], index=rev)
