"""Deployment endpoints in Nomad's shapes: list and read deployments, a job's deployments,
and the user's operations (`reconciler.ops.deployments`: promote, fail, pause), each a
compare-revision transaction on the deployment key that also creates the evaluation the
scheduler acts on.

    GET  /v1/deployments                     GET  /v1/deployment/{dep_id}
    GET  /v1/deployment/allocations/{dep_id} GET  /v1/job/{job_id}/deployment (latest)
    GET  /v1/job/{job_id}/deployments        POST /v1/deployment/promote/{dep_id} {"All"|"Groups"}
    POST /v1/job/{job_id}/promote            POST /v1/deployment/fail/{dep_id}
    POST /v1/deployment/pause/{dep_id} {"Pause": bool}
    POST /v1/deployment/allocation-health/{dep_id} {"HealthyAllocationIDs", "UnhealthyAllocationIDs"}
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from reconciler.api.acl import visible
from reconciler.api.allocations import stubs
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError, not_found
from reconciler.api.http import body_json, job_ident, namespace, ns_time, ok, run
from reconciler.api.reads import allocs_index, find_deployment, job_deployments
from reconciler.api.views import NEWEST_FIRST, answer, watched
from reconciler.api.watched import WatchedState, job_scope
from reconciler.model.objects import Deployment
from reconciler.ops.deployments import (
    DeploymentUpdate,
    fail_deployment,
    pause_deployment,
    promote_deployment,
    set_alloc_health,
)

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


def _get(w: WatchedState, dep_id: str) -> Deployment:
    d = find_deployment(w, dep_id)
    if d is None:
        raise not_found("deployment", dep_id)
    return d


async def _for_write(request: web.Request) -> Deployment:
    w = watched(request)
    await w.fence()
    return _get(w, request.match_info["dep_id"])


def _dep_index(w: WatchedState, dep_id: str) -> tuple[int, ...]:
    return (w.deployments.key_index(w.store.keys.deployment(dep_id)),)


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


def _job_read(request: web.Request) -> tuple[WatchedState, str, str]:
    return watched(request), namespace(request), job_ident(request)


@routes.get("/v1/deployments")
async def list_all(request: web.Request) -> web.Response:
    w, ns, shown = watched(request), namespace(request, wildcard=True), visible(request)
    return await answer(
        request,
        lambda: (w.deployments.index,),
        lambda: [
            deployment_json(d)
            for d in w.deployments.items()
            if (ns == "*" or d.namespace == ns) and shown(d.namespace)
        ],
        NEWEST_FIRST,
    )


@routes.get("/v1/deployment/{dep_id}")
async def read(request: web.Request) -> web.Response:
    w, dep_id = watched(request), request.match_info["dep_id"]
    return await answer(request, lambda: _dep_index(w, dep_id), lambda: deployment_json(_get(w, dep_id)))


@routes.get("/v1/deployment/allocations/{dep_id}")
async def allocations(request: web.Request) -> web.Response:
    w, dep_id = watched(request), request.match_info["dep_id"]

    def index() -> tuple[int, ...]:
        return (*_dep_index(w, dep_id), *allocs_index(w, "deployment", dep_id))

    def render() -> list[dict[str, Any]]:
        return stubs(w, w.allocs.by_index("deployment", _get(w, dep_id).id))

    return await answer(request, index, render, NEWEST_FIRST)


@routes.get("/v1/job/{job_id}/deployment")
async def job_latest(request: web.Request) -> web.Response:
    w, ns, jid = _job_read(request)

    def render() -> dict[str, Any] | None:
        deps = job_deployments(w, ns, jid)
        return deployment_json(deps[0]) if deps else None

    return await answer(request, lambda: (w.deployments.scope_index("job", job_scope(ns, jid)),), render)


@routes.get("/v1/job/{job_id}/deployments")
async def job_all(request: web.Request) -> web.Response:
    w, ns, jid = _job_read(request)
    return await answer(
        request,
        lambda: (w.deployments.scope_index("job", job_scope(ns, jid)),),
        lambda: [deployment_json(d) for d in job_deployments(w, ns, jid)],
        NEWEST_FIRST,
    )


@routes.post("/v1/deployment/promote/{dep_id}")
@routes.put("/v1/deployment/promote/{dep_id}")
async def promote(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    groups = _groups_from(await body_json(request))
    d = await _for_write(request)
    return _updated(await run(promote_deployment, store, d.id, groups))


@routes.post("/v1/job/{job_id}/promote")
@routes.put("/v1/job/{job_id}/promote")
async def job_promote(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    groups = _groups_from(await body_json(request)) if request.can_read_body else None
    w, ns, jid = _job_read(request)
    await w.fence()
    deps = job_deployments(w, ns, jid)
    d = deps[0] if deps else None
    if d is None:
        raise not_found("deployment for job", request.match_info["job_id"])
    return _updated(await run(promote_deployment, store, d.id, groups))


@routes.post("/v1/deployment/fail/{dep_id}")
@routes.put("/v1/deployment/fail/{dep_id}")
async def fail(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    d = await _for_write(request)
    return _updated(await run(fail_deployment, store, d.id))


@routes.post("/v1/deployment/pause/{dep_id}")
@routes.put("/v1/deployment/pause/{dep_id}")
async def pause(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    body = await body_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("Pause"), bool):
        raise ApiError(400, 'body must be {"Pause": true|false}', field="Pause")
    d = await _for_write(request)
    return _updated(await run(pause_deployment, store, d.id, body["Pause"]))


def _ids(body: dict[str, Any], name: str) -> list[str]:
    ids = body.get(name) or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, f"{name} must be a list of allocation IDs", field=name)
    return ids


@routes.post("/v1/deployment/allocation-health/{dep_id}")
@routes.put("/v1/deployment/allocation-health/{dep_id}")
async def allocation_health(request: web.Request) -> web.Response:
    """Nomad's manual allocation health: the user's verdicts for groups with
    `update { health_check = "manual" }`."""
    store = request.app[CTX].store
    body = await body_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, 'body must be {"HealthyAllocationIDs": [...], "UnhealthyAllocationIDs": [...]}')
    healthy, unhealthy = _ids(body, "HealthyAllocationIDs"), _ids(body, "UnhealthyAllocationIDs")
    d = await _for_write(request)
    return _updated(await run(set_alloc_health, store, d.id, healthy, unhealthy))
