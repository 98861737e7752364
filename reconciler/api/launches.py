"""Launching children of template jobs, in Nomad's paths and shapes:

    POST /v1/job/{job_id}/periodic/force   a periodic job's child, now

Each is one operation of `reconciler.ops` (`periodic.force_launch`).
"""

from __future__ import annotations

from aiohttp import web

from reconciler.api.context import CTX
from reconciler.api.http import job_ident, namespace, ok, run
from reconciler.ops.periodic import force_launch

routes = web.RouteTableDef()


@routes.post("/v1/job/{job_id}/periodic/force")
@routes.put("/v1/job/{job_id}/periodic/force")
async def periodic_force(request: web.Request) -> web.Response:
    res = await run(force_launch, request.app[CTX].store, namespace(request), job_ident(request))
    rev = res.modify_index
    return ok({"EvalID": res.eval_id, "EvalCreateIndex": rev, "Index": rev}, index=rev)
