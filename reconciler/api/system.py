"""`PUT /v1/system/gc`: a forced garbage collection, as Nomad's (an empty 200 once asked;
the leading collector carries it out, `reconciler.ops.system`)."""

from __future__ import annotations

from aiohttp import web

from reconciler.api.context import CTX
from reconciler.api.http import ok, run
from reconciler.ops.system import request_gc

routes = web.RouteTableDef()


@routes.put("/v1/system/gc")
@routes.post("/v1/system/gc")
async def system_gc(request: web.Request) -> web.Response:
    index = await run(request_gc, request.app[CTX].store)
    return ok({}, index=index)
