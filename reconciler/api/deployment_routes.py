"""Deployment endpoints in Nomad's shapes: list and read deployments, a job's deployments,
and the user's operations (promote, fail, pause), each a compare-revision transaction on the
deployment key that also creates the evaluation the scheduler acts on.

    GET  /v1/deployments                     GET  /v1/deployment/{id}
    GET  /v1/deployment/allocations/{id}     GET  /v1/job/{id}/deployment (latest)
    GET  /v1/job/{id}/deployments            POST /v1/deployment/promote/{id} {"All"|"Groups"}
    POST /v1/job/{id}/promote                POST /v1/deployment/fail/{id}
    POST /v1/deployment/pause/{id} {"Pause": bool}
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from reconciler.api.context import ApiContext
from reconciler.api.errors import ApiError, not_found
from reconciler.api.http import body_json, namespace, ns_time, ok, run
from reconciler.deployments.health import health_of
from reconciler.model.ids import is_valid_name
from reconciler.model.objects import Allocation, AllocStatus, Deployment
from reconciler.ops.deployments import (
    DeploymentError,
    DeploymentNotFound,
    fail_deployment,
    find,
    for_job,
    latest_for_job,
    list_deployments,
    pause_deployment,
    promote_deployment,
)
from reconciler.store import Store


def _rfc3339(ts: float) -> str:
    if not ts:
        return "0001-01-01T00:00:00Z"
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def deployment_json(d: Deployment) -> dict[str, Any]:
    groups = {
        name: {
            "AutoRevert": g.auto_revert, "AutoPromote": g.auto_promote, "Promoted": g.promoted,
            "DesiredCanaries": g.desired_canaries, "DesiredTotal": g.desired_total,
            "PlacedCanaries": list(g.placed_canaries) or None, "PlacedAllocs": g.placed_allocs,
            "HealthyAllocs": g.healthy_allocs, "UnhealthyAllocs": g.unhealthy_allocs,
            "ProgressDeadline": g.progress_deadline, "RequireProgressBy": _rfc3339(g.require_progress_by),
        }
        for name, g in sorted(d.task_groups.items())
    }
    return {
        "ID": d.id, "Namespace": d.namespace, "JobID": d.job_id, "JobVersion": d.job_version,
        "JobModifyIndex": d.modify_index, "JobSpecModifyIndex": d.job_spec_modify_index,
        "JobCreateIndex": d.create_index, "IsMultiregion": False, "TaskGroups": groups, "Status": d.status,
        "StatusDescription": d.status_description, "CreateIndex": d.create_index, "ModifyIndex": d.modify_index,
        "CreateTime": ns_time(d.create_time), "ModifyTime": ns_time(d.modify_time),
    }


def _update_response(d: Deployment, eval_id: str) -> dict[str, Any]:
    return {"EvalID": eval_id, "EvalCreateIndex": 0, "DeploymentModifyIndex": 0, "RevertedJobVersion": None,
            "Index": 0, "Deployment": deployment_json(d)}


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


def routes(ctx: ApiContext) -> list[web.RouteDef]:
    store: Store = ctx.store

    async def _get(dep_id: str) -> Deployment:
        d = await run(find, store, dep_id)
        if d is None:
            raise not_found("deployment", dep_id)
        return d

    def _job_id(request: web.Request) -> str:
        job_id = request.match_info["job_id"]
        if not is_valid_name(job_id):
            raise ApiError(400, f"invalid job id {job_id!r}", field="JobID")
        return job_id

    async def _apply(fn: Any, dep_id: str, *args: Any) -> web.Response:
        try:
            d, eval_id = await run(fn, store, dep_id, *args)
        except DeploymentNotFound as exc:
            raise ApiError(404, str(exc)) from exc
        except DeploymentError as exc:
            raise ApiError(400, str(exc)) from exc
        return ok(_update_response(d, eval_id))

    async def list_all(request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")
        ns = namespace(request)
        deps = await run(list_deployments, store)
        return ok([deployment_json(d) for d in deps if d.id.startswith(prefix) and (ns == "*" or d.namespace == ns)])

    async def read(request: web.Request) -> web.Response:
        return ok(deployment_json(await _get(request.match_info["dep_id"])))

    async def allocations(request: web.Request) -> web.Response:
        from reconciler.api.sched_routes import alloc_stub

        d = await _get(request.match_info["dep_id"])
        items, _ = await run(store.list, store.keys.allocs, Allocation)
        mine = [i.value for i in items if i.value.deployment_id == d.id]
        out = []
        for a in mine:
            st = await run(store.get, store.keys.alloc_status(a.id), AllocStatus)
            shape = alloc_stub(a, st.value if st else None)
            shape["DeploymentStatus"] = {"Healthy": health_of(d, a.id), "Canary": a.canary}
            out.append(shape)
        return ok(out)

    async def job_latest(request: web.Request) -> web.Response:
        d = await run(latest_for_job, store, namespace(request), _job_id(request))
        return ok(deployment_json(d) if d else None)

    async def job_all(request: web.Request) -> web.Response:
        deps = await run(for_job, store, namespace(request), _job_id(request))
        return ok([deployment_json(d) for d in deps])

    async def promote(request: web.Request) -> web.Response:
        groups = _groups_from(await body_json(request))
        return await _apply(promote_deployment, (await _get(request.match_info["dep_id"])).id, groups)

    async def job_promote(request: web.Request) -> web.Response:
        job_id = _job_id(request)
        raw = await request.read()
        groups = _groups_from(await body_json(request)) if raw else None
        d = await run(latest_for_job, store, namespace(request), job_id)
        if d is None:
            raise not_found("deployment for job", job_id)
        return await _apply(promote_deployment, d.id, groups)

    async def fail(request: web.Request) -> web.Response:
        return await _apply(fail_deployment, (await _get(request.match_info["dep_id"])).id)

    async def pause(request: web.Request) -> web.Response:
        body = await body_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("Pause"), bool):
            raise ApiError(400, 'body must be {"Pause": true|false}', field="Pause")
        return await _apply(pause_deployment, (await _get(request.match_info["dep_id"])).id, body["Pause"])

    return [
        web.get("/v1/deployments", list_all),
        web.get("/v1/deployment/allocations/{dep_id}", allocations),
        web.post("/v1/deployment/promote/{dep_id}", promote),
        web.put("/v1/deployment/promote/{dep_id}", promote),
        web.post("/v1/deployment/fail/{dep_id}", fail),
        web.put("/v1/deployment/fail/{dep_id}", fail),
        web.post("/v1/deployment/pause/{dep_id}", pause),
        web.put("/v1/deployment/pause/{dep_id}", pause),
        web.get("/v1/deployment/{dep_id}", read),
        web.get("/v1/job/{job_id}/deployment", job_latest),
        web.get("/v1/job/{job_id}/deployments", job_all),
        web.post("/v1/job/{job_id}/promote", job_promote),
        web.put("/v1/job/{job_id}/promote", job_promote),
    ]
