"""Agent and status endpoints: `/v1/agent/self`, `/v1/status/leader`, `/v1/status/peers`."""

from __future__ import annotations

from aiohttp import web

from reconciler import __version__
from reconciler.api.context import ApiContext
from reconciler.api.http import ok, run


def routes(ctx: ApiContext) -> list[web.RouteDef]:
    async def agent_self(request: web.Request) -> web.Response:
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
            }
        )

    async def leader(request: web.Request) -> web.Response:
        raw = await run(ctx.store.get_raw, ctx.store.keys.leader("scheduler"))
        return ok(raw.value.decode() if raw else "")

    async def peers(request: web.Request) -> web.Response:
        raw = await run(ctx.store.get_raw, ctx.store.keys.leader("scheduler"))
        return ok([raw.value.decode()] if raw else [])

    return [
        web.get("/v1/agent/self", agent_self),
        web.get("/v1/status/leader", leader),
        web.get("/v1/status/peers", peers),
    ]
