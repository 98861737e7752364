"""Evaluation endpoints in Nomad's paths and shapes:

    GET /v1/evaluations?prefix=     GET /v1/evaluation/{eval_id}     GET /v1/job/{job_id}/evaluations
    GET /v1/evaluation/{eval_id}/allocations  (the allocations it placed or changed)

Evaluations are created by the operations (`reconciler.ops`) and the controllers, never here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from reconciler import codec
from reconciler.api.acl import visible
from reconciler.api.allocations import stubs
from reconciler.api.http import by_id_or_prefix, ident, job_ident, namespace, ns_time
from reconciler.api.reads import allocs_index, job_evals
from reconciler.api.views import NEWEST_FIRST, answer, watched
from reconciler.api.watched import job_scope
from reconciler.model.objects import Evaluation
from reconciler.model.plan import AllocMetric

routes = web.RouteTableDef()


def eval_shape(e: Evaluation) -> dict[str, Any]:
    failed = {}
    for g, m in e.failed_tg_allocs.items():
        try:
            failed[g] = codec.convert(m, AllocMetric).to_nomad()
        except codec.CodecError:
            failed[g] = m
    return {
        "ID": e.id,
        "Namespace": e.namespace,
        "Priority": e.priority,
        "Type": e.type,
        "TriggeredBy": e.triggered_by,
        "JobID": e.job_id,
        "JobModifyIndex": e.job_version,
        "NodeID": e.node_id,
        "DeploymentID": e.deployment_id,
        "Status": e.status,
        "StatusDescription": e.status_description,
        "WaitUntil": ns_time(e.wait_until) if e.wait_until else None,
        "PreviousEval": e.previous_eval,
        "BlockedEval": e.blocked_eval,
        "FailedTGAllocs": failed or None,
        "QueuedAllocations": dict(e.queued_allocations) or None,
        "PlacedAllocs": list(e.placed),
        "CreateIndex": 0,
        "ModifyIndex": 0,
        "CreateTime": ns_time(e.create_time),
        "ModifyTime": ns_time(e.modify_time),
    }


@routes.get("/v1/evaluations")
async def list_evaluations(request: web.Request) -> web.Response:
    w, shown = watched(request), visible(request)
    return await answer(
        request,
        lambda: (w.evals.index,),
        lambda: [eval_shape(e) for e in w.evals.items() if shown(e.namespace)],
        NEWEST_FIRST,
    )


@routes.get("/v1/evaluation/{eval_id}")
async def read_evaluation(request: web.Request) -> web.Response:
    w = watched(request)
    eval_id = ident(request, "eval_id")

    def render() -> dict[str, Any]:
        got = w.evals.get(w.store.keys.eval(eval_id))
        return eval_shape(got if got is not None else by_id_or_prefix(w.evals.items(), eval_id, "evaluation"))

    return await answer(request, lambda: (w.evals.key_index(w.store.keys.eval(eval_id)),), render)


@routes.get("/v1/job/{job_id}/evaluations")
async def job_evaluations(request: web.Request) -> web.Response:
    w = watched(request)
    ns, jid = namespace(request), job_ident(request)
    return await answer(
        request,
        lambda: (w.evals.scope_index("job", job_scope(ns, jid)),),
        lambda: [eval_shape(e) for e in job_evals(w, ns, jid)],
        NEWEST_FIRST,
    )


@routes.get("/v1/evaluation/{eval_id}/allocations")
async def eval_allocations(request: web.Request) -> web.Response:
    w = watched(request)
    eval_id = ident(request, "eval_id")

    def render() -> list[dict[str, Any]]:
        got = w.evals.get(w.store.keys.eval(eval_id))
        ev = got if got is not None else by_id_or_prefix(w.evals.items(), eval_id, "evaluation")
        return stubs(w, [a for a in w.allocs.items() if a.eval_id == ev.id])

    return await answer(request, lambda: (w.evals.index, *allocs_index(w)), render, NEWEST_FIRST)
