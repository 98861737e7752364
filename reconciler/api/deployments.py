"""Deployment endpoints in Nomad's shapes: list and read deployments, a job's deployments,
and the user's operations (`reconciler.ops.deployments`: promote, fail, pause), each a
compare-revision transaction on the deployment key that also creates the evaluation the
scheduler acts on.

    GET  /v1/deployments                     GET  /v1/deployment/{dep_id}
    GET  /v1/deployment/allocations/{dep_id} GET  /v1/job/{job_id}/deployment (latest)
    GET  /v1/job/{job_id}/deployments        POST /v1/deployment/promote/{dep_id} {"All"|"Groups"}
    POST /v1/job/{job_id}/promote            POST /v1/deployment/fail/{dep_id}
    POST /v1/deployment/pause/{dep_id} {"Pause": bool}
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from reconciler.api.allocations import alloc_stub
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError, not_found
from reconciler.api.http import body_json, job_ident, namespace, ns_time, ok, run
from reconciler.api.reads import (
    all_allocs,
    all_statuses,
    deployments_newest_first,
    find_deployment,
    job_deployments,
)
from reconciler.deployments.health import health_of
from reconciler.model.objects import Deployment
from reconciler.ops.deployments import DeploymentUpdate, fail_deployment, pause_deployment, promote_deployment
from reconciler.store import Store

routes = web.RouteTableDef()


def _rfc3339(ts: float) -> str:
    if not ts:
        return "0001-01-01T00:00:00Z"
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def deployment_json(d: Deployment) -> dict[str, Any]:
    groups = {
        name: {
            "AutoRevert": g.auto_revert,
            "AutoPromote": g.auto_promote,
            "Promoted": g.promoted,
            "DesiredCanaries": g.desired_canaries,
            "DesiredTotal": g.desired_total,
            "PlacedCanaries": list(g.placed_canaries) or None,
            "PlacedAllocs": g.placed_allocs,
            "HealthyAllocs": g.healthy_allocs,
            "UnhealthyAllocs": g.unhealthy_allocs,
            "ProgressDeadline": g.progress_deadline,
            "RequireProgressBy": _rfc3339(g.require_progress_by),
        }
        for name, g in sorted(d.task_groups.items())
    }
    return {
        "ID": d.id,
        "Namespace": d.namespace,
        "JobID": d.job_id,
        "JobVersion": d.job_version,
        "JobModifyIndex": d.modify_index,
        "JobSpecModifyIndex": d.job_spec_modify_index,
        "JobCreateIndex": d.create_index,
        "IsMultiregion": False,
        "TaskGroups": groups,
        "Status": d.status,
        "StatusDescription": d.status_description,
        "CreateIndex": d.create_index,
        "ModifyIndex": d.modify_index,
        "CreateTime": ns_time(d.create_time),
        "ModifyTime": ns_time(d.modify_time),
    }


def _groups_from(body: Any) -> list[str] | None:
    """{"All": true} -> None (every group); {"Groups": [...]} -> those."""
    if not isinstance(body, dict):
        raise ApiError(400, 'body must be {"All": true} or {"Groups": ["name", ...]}')
    if body.get("All"):
        return None
    groups = body.get("Groups")
    if not isinstance(groups, list) or not groups or not all(isinstance(g, str) for g in groups):
        raise ApiError(400, 'must set "All": true or "Groups" to a list of task group names', field="Groups")
    return groups


async def _get(store: Store, dep_id: str) -> tuple[Deployment, int]:
    d, rev = await run(find_deployment, store, dep_id)
    if d is None:
        raise not_found("deployment", dep_id)
    return d, rev


def _updated(u: DeploymentUpdate) -> web.Response:
    rev = u.modify_index
    return ok(
        {
            "EvalID": u.eval_id,
            "EvalCreateIndex": rev,
            "DeploymentModifyIndex": rev,
            "RevertedJobVersion": None,
            "Index": rev,
            "Deployment": deployment_json(u.deployment),
        },
        index=rev,
    )


async def _latest(request: web.Request) -> tuple[Deployment | None, int]:
    deps, rev = await run(job_deployments, request.app[CTX].store, namespace(request), job_ident(request))
    return (deps[0] if deps else None), rev


@routes.get("/v1/deployments")
async def list_all(request: web.Request) -> web.Response:
    prefix, ns = request.query.get("prefix", ""), namespace(request, wildcard=True)
    deps, rev = await run(deployments_newest_first, request.app[CTX].store)
    return ok(
        [deployment_json(d) for d in deps if d.id.startswith(prefix) and (ns == "*" or d.namespace == ns)],
        index=rev,
    )


@routes.get("/v1/deployment/{dep_id}")
async def read(request: web.Request) -> web.Response:
    d, rev = await _get(request.app[CTX].store, request.match_info["dep_id"])
    return ok(deployment_json(d), index=rev)


@routes.get("/v1/deployment/allocations/{dep_id}")
async def allocations(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    d, _ = await _get(store, request.match_info["dep_id"])

    def read() -> tuple[list[dict[str, Any]], int]:
        st, _ = all_statuses(store)
        allocs, rev = all_allocs(store)
        out = []
        for a in allocs:
            if a.deployment_id == d.id:
                shape = alloc_stub(a, st.get(a.id))
                shape["DeploymentStatus"] = {"Healthy": health_of(d, a.id), "Canary": a.canary}
                out.append(shape)
        return out, rev

    out, rev = await run(read)
    return ok(out, index=rev)


@routes.get("/v1/job/{job_id}/deployment")
async def job_latest(request: web.Request) -> web.Response:
    d, rev = await _latest(request)
    return ok(deployment_json(d) if d else None, index=rev)


@routes.get("/v1/job/{job_id}/deployments")
async def job_all(request: web.Request) -> web.Response:
    deps, rev = await run(job_deployments, request.app[CTX].store, namespace(request), job_ident(request))
    return ok([deployment_json(d) for d in deps], index=rev)


@routes.post("/v1/deployment/promote/{dep_id}")
@routes.put("/v1/deployment/promote/{dep_id}")
async def promote(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    groups = _groups_from(await body_json(request))
    d, _ = await _get(store, request.match_info["dep_id"])
    return _updated(await run(promote_deployment, store, d.id, groups))


@routes.post("/v1/job/{job_id}/promote")
@routes.put("/v1/job/{job_id}/promote")
async def job_promote(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    groups = _groups_from(await body_json(request)) if request.can_read_body else None
    d, _ = await _latest(request)
    if d is None:
        raise not_found("deployment for job", request.match_info["job_id"])
    return _updated(await run(promote_deployment, store, d.id, groups))


@routes.post("/v1/deployment/fail/{dep_id}")
@routes.put("/v1/deployment/fail/{dep_id}")
async def fail(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    d, _ = await _get(store, request.match_info["dep_id"])
    return _updated(await run(fail_deployment, store, d.id))


@routes.post("/v1/deployment/pause/{dep_id}")
@routes.put("/v1/deployment/pause/{dep_id}")
async def pause(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    body = await body_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("Pause"), bool):
        raise ApiError(400, 'body must be {"Pause": true|false}', field="Pause")
    d, _ = await _get(store, request.match_info["dep_id"])
    return _updated(await run(pause_deployment, store, d.id, body["Pause"]))
