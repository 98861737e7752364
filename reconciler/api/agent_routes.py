"""Agent and status endpoints: `/v1/agent/self`, `/v1/status/leader`, `/v1/status/peers`."""

from __future__ import annotations

from aiohttp import web

from reconciler import __version__
from reconciler.api.context import ApiContext
from reconciler.api.http import ok, run
from reconciler.runtime.leader import current_leader


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
        return ok(await run(current_leader, ctx.store, "scheduler") or "")

    async def peers(request: web.Request) -> web.Response:
        identity = await run(current_leader, ctx.store, "scheduler")
        return ok([identity] if identity else [])

    return [
        web.get("/v1/agent/self", agent_self),
        web.get("/v1/status/leader", leader),
        web.get("/v1/status/peers", peers),
    ]
