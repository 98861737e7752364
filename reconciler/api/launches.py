"""Launching children of template jobs, in Nomad's paths and shapes:

    POST /v1/job/{job_id}/periodic/force   a periodic job's child, now
    POST /v1/job/{job_id}/dispatch         a parameterized job's child:
        {"Payload": "<base64>", "Meta": {"k": "v"}, "IdempotencyToken": "..."}
        -> {"DispatchedJobID", "EvalID", "EvalCreateIndex", "JobCreateIndex", "Index"}

Each is one operation of `reconciler.ops` (`periodic.force_launch`, `dispatch.dispatch_job`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.api.http import body_object, job_ident, namespace, ok, run
from reconciler.ops.dispatch import dispatch_job
from reconciler.ops.periodic import force_launch

routes = web.RouteTableDef()


@routes.post("/v1/job/{job_id}/periodic/force")
@routes.put("/v1/job/{job_id}/periodic/force")
async def periodic_force(request: web.Request) -> web.Response:
    res = await run(force_launch, request.app[CTX].store, namespace(request), job_ident(request))
    rev = res.modify_index
    return ok({"EvalID": res.eval_id, "EvalCreateIndex": rev, "Index": rev}, index=rev)


def _payload(body: dict[str, Any]) -> bytes:
    raw = body.get("Payload")
    if raw is None:
        return b""
    if not isinstance(raw, str):
        raise ApiError(400, "Payload must be a base64 string", field="Payload")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "Payload is not valid base64", field="Payload") from None


def _meta(body: dict[str, Any]) -> dict[str, str]:
    meta = body.get("Meta") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ApiError(400, "Meta must be an object of strings", field="Meta")
    return {str(k): v for k, v in meta.items()}


@routes.post("/v1/job/{job_id}/dispatch")
@routes.put("/v1/job/{job_id}/dispatch")
async def dispatch(request: web.Request) -> web.Response:
    ns, jid = namespace(request), job_ident(request)
    body = await body_object(request, optional=True)
    token = body.get("IdempotencyToken") or ""
    if not isinstance(token, str):
        raise ApiError(400, "IdempotencyToken must be a string", field="IdempotencyToken")
    res = await run(
        dispatch_job, request.app[CTX].store, ns, jid, payload=_payload(body), meta=_meta(body), token=token
    )
    out = {
        "DispatchedJobID": res.dispatched_job_id,
        "EvalID": res.eval_id,
        "EvalCreateIndex": res.eval_create_index,
        "JobCreateIndex": res.job_create_index,
        "Index": res.index,
    }
    return ok(out, index=res.index)
