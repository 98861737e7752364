"""Agent and status endpoints: `/v1/agent/self`, `/v1/agent/health`, `/v1/status/leader`,
`/v1/status/peers`."""

from __future__ import annotations

from aiohttp import web

from reconciler import __version__
from reconciler.api.context import CTX
from reconciler.api.http import ok, run
from reconciler.api.views import answer, watched
from reconciler.api.watched import LEADER
from reconciler.model.objects import NodeStatus
from reconciler.store import StoreError

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


@routes.get("/v1/agent/health")
async def agent_health(request: web.Request) -> web.Response:
    """Nomad's agent health: `server` (on an agent that runs the cluster controllers: etcd
    answers) and `client` (on an agent whose node is registered: it is ready), each
    `{"ok", "message"}`; 500 when one is not ok, as Nomad answers."""
    ctx, w = request.app[CTX], watched(request)
    out: dict[str, dict[str, object]] = {}
    if ctx.planner is not None:
        try:
            await run(ctx.store.revision)
            out["server"] = {"ok": True, "message": "ok"}
        except StoreError as exc:
            out["server"] = {"ok": False, "message": f"etcd: {exc}"}
    node = next((n for n in w.nodes.list() if n.name == ctx.node_name), None) if ctx.node_name else None
    if node is not None:
        ready = node.status == NodeStatus.READY
        out["client"] = {"ok": ready, "message": "ok" if ready else f"node is {node.status}"}
    healthy = all(part["ok"] for part in out.values())
    return ok(out, index=None, status=200 if healthy else 500)


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
