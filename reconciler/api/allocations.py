"""Allocation endpoints in Nomad's paths and shapes (Nomad's `alloc_endpoint.go` and the
client's allocation endpoints):

    GET  /v1/allocations?prefix=                 GET  /v1/allocation/{alloc_id}
    GET  /v1/job/{job_id}/allocations            POST /v1/allocation/{alloc_id}/stop
    GET  /v1/client/allocation/{alloc_id}/status POST /v1/client/allocation/{alloc_id}/restart

Stop and restart are operations (`reconciler.ops.allocs`); exec is `api/alloc_exec.py`.
Allocation ids may be given as a unique prefix, as in Nomad.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from reconciler.api.acl import visible
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.api.http import body_object, ident, job_ident, namespace, ns_time, ok, run
from reconciler.api.reads import allocs_index, deployments, job_allocs, statuses
from reconciler.api.views import NEWEST_FIRST, answer, watched
from reconciler.api.watched import WatchedState, job_scope
from reconciler.deployments.health import health_of
from reconciler.model.ids import is_valid_name
from reconciler.model.objects import Allocation, AllocStatus, Deployment, TaskState
from reconciler.model.summary import client_status
from reconciler.ops.allocs import restart_alloc, stop_alloc

routes = web.RouteTableDef()


# --- shapes --------------------------------------------------------------------------------


def _alloc_deployment_status(a: Allocation, deployments: Mapping[str, Deployment]) -> dict[str, Any] | None:
    """Nomad's `DeploymentStatus` of an allocation: its health as its deployment judged it."""
    dep = deployments.get(a.deployment_id) if a.deployment_id else None
    if dep is None:
        return {"Healthy": None, "Canary": True} if a.canary else None
    return {"Healthy": health_of(dep, a.id), "Canary": a.canary}


def alloc_stub(
    a: Allocation, st: AllocStatus | None, deployments: Mapping[str, Deployment] | None = None
) -> dict[str, Any]:
    states = st.task_states if st else {}
    return {
        "ID": a.id,
        "EvalID": a.eval_id,
        "Name": a.name,
        "Namespace": a.namespace,
        "NodeID": a.node_id,
        "NodeName": a.node_name,
        "JobID": a.job_id,
        "JobVersion": a.job_version,
        "TaskGroup": a.task_group,
        "DesiredStatus": a.desired_status,
        "DesiredDescription": a.desired_description,
        "ClientStatus": client_status(a, {a.id: st} if st else {}),
        "ClientDescription": st.client_description if st else "",
        "TaskStates": {
            name: {
                "State": ts.state,
                "Failed": ts.failed,
                "Restarts": ts.restarts,
                "StartedAt": ts.started_at or None,
                "FinishedAt": ts.finished_at or None,
                "Events": [
                    {"Type": e.type, "Time": ns_time(e.time), "DisplayMessage": e.message} for e in ts.events
                ],
            }
            for name, ts in states.items()
        }
        or None,
        "DeploymentID": a.deployment_id,
        "DeploymentStatus": _alloc_deployment_status(a, deployments or {}),
        "PreviousAllocation": a.previous_allocation,
        "NextAllocation": a.next_allocation,
        "PreemptedAllocations": list(a.preempted_allocations) or None,
        "PreemptedByAllocation": a.preempted_by_allocation,
        "FollowupEvalID": a.followup_eval_id,
        "RescheduleTracker": {"Events": [{"RescheduleTime": ns_time(t)} for t in a.reschedule_attempts]}
        if a.reschedule_attempts
        else None,
        "CreateIndex": 0,
        "ModifyIndex": 0,
        "CreateTime": ns_time(a.create_time),
        "ModifyTime": ns_time(a.modify_time),
    }


def alloc_full(a: Allocation, st: AllocStatus | None, dep: Deployment | None = None) -> dict[str, Any]:
    out = alloc_stub(a, st, {dep.id: dep} if dep else None)
    ports = [{"Label": p.label, "Value": p.value, "To": p.to, "HostIP": p.host_ip} for p in a.ports]
    out["AllocatedResources"] = {
        "Shared": {
            "Ports": ports,
            "Networks": [{"DynamicPorts": ports}] if ports else None,
            "DiskMB": a.disk,
        },
        "Tasks": {},
    }
    out["Resources"] = {"CPU": a.cpu, "MemoryMB": a.memory, "DiskMB": a.disk}
    return out


def _iso(ts: float) -> str | None:
    if not ts:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1e6):06d}Z"


def task_state_json(ts: TaskState) -> dict[str, Any]:
    return {
        "State": ts.state,
        "Failed": ts.failed,
        "Restarts": ts.restarts,
        "StartedAt": _iso(ts.started_at),
        "FinishedAt": _iso(ts.finished_at),
        "PID": ts.pid,
        "LastRestart": _iso(max((e.time for e in ts.events if e.type == "Restarting"), default=0.0)),
        "Events": [
            {
                "Type": e.type,
                "Time": ns_time(e.time),
                "Message": e.message,
                "DisplayMessage": e.message,
                "ExitCode": e.exit_code or 0,
                "Signal": e.signal or 0,
                "Details": e.details,
                "FailsTask": e.details.get("fails_task") == "true",
            }
            for e in ts.events
        ],
    }


def alloc_json(a: Allocation, st: AllocStatus | None) -> dict[str, Any]:
    """The client's view of an allocation (`/v1/client/allocation/{id}/status`)."""
    return {
        "ID": a.id,
        "Namespace": a.namespace,
        "EvalID": a.eval_id,
        "Name": a.name,
        "NodeID": a.node_id,
        "NodeName": a.node_name,
        "JobID": a.job_id,
        "JobVersion": a.job_version,
        "TaskGroup": a.task_group,
        "DesiredStatus": a.desired_status,
        "DesiredDescription": a.desired_description,
        # the scheduler marks an allocation "lost" on the Allocation itself once its node is
        # down (its agent cannot report any more); otherwise the agent's status is the truth
        "ClientStatus": getattr(a, "client_status", "") or (st.client_status if st else "pending"),
        "ClientDescription": st.client_description if st else "",
        "TaskStates": {n: task_state_json(ts) for n, ts in (st.task_states if st else {}).items()},
        "CreateTime": ns_time(a.create_time),
        "ModifyTime": ns_time(max(a.modify_time, st.modify_time if st else 0.0)),
        "DeploymentID": a.deployment_id,
        "AllocatedResources": {
            "Shared": {
                "Ports": [
                    {"Label": p.label, "Value": p.value, "To": p.to, "HostIP": p.host_ip} for p in a.ports
                ]
            }
        },
    }


# --- reads -----------------------------------------------------------------------------------


def pick_task(st: AllocStatus | None, task: str) -> str:
    """The task a log or exec request means: the named one, or the allocation's only task."""
    if task:
        if not is_valid_name(task):
            raise ApiError(400, f"invalid task name {task!r}")
        return task
    names = sorted(st.task_states) if st else []
    if len(names) == 1:
        return names[0]
    raise ApiError(400, "must provide task name" + (f" (one of: {', '.join(names)})" if names else ""))


def stubs(w: WatchedState, allocs: list[Allocation]) -> list[dict[str, Any]]:
    """The stubs of `allocs` (paged newest first by `NEWEST_FIRST`)."""
    st, deps = statuses(w), deployments(w)
    return [alloc_stub(a, st.get(a.id), deps) for a in allocs]


def find_alloc(w: WatchedState, ident: str) -> Allocation:
    """A full allocation id or a unique prefix of one, from the cache."""
    if not ident or not all(c.isalnum() or c == "-" for c in ident):
        raise ApiError(400, f"invalid allocation id {ident!r}")
    got = w.allocs.get(w.store.keys.alloc(ident)) if is_valid_name(ident) else None
    if got is not None:
        return got
    items = [a for a in w.allocs.items() if a.id.startswith(ident)]
    if not items:
        raise ApiError(404, f"allocation not found: {ident}")
    if len(items) > 1:
        raise ApiError(
            400, f"allocation id prefix {ident!r} matches {len(items)} allocations; give more characters"
        )
    return items[0]


def alloc_index(w: WatchedState, ident: str) -> tuple[int, ...]:
    """One allocation: its record, its status and its deployment."""
    keys = w.store.keys
    a = w.allocs.get(keys.alloc(ident)) if is_valid_name(ident) else None
    if a is None:
        return (w.allocs.index,)
    dep = w.deployments.key_index(keys.deployment(a.deployment_id)) if a.deployment_id else 0
    return (w.allocs.key_index(keys.alloc(a.id)), w.statuses.key_index(keys.alloc_status(a.id)), dep)


async def current_alloc(request: web.Request) -> tuple[Allocation, AllocStatus | None]:
    """The allocation the path names and its status, once this agent's writes are cached."""
    w = watched(request)
    await w.fence()
    a = find_alloc(w, request.match_info["alloc_id"])
    return a, statuses(w).get(a.id)


# --- handlers --------------------------------------------------------------------------------


@routes.get("/v1/allocations")
async def list_allocations(request: web.Request) -> web.Response:
    w, shown = watched(request), visible(request)
    return await answer(
        request,
        lambda: allocs_index(w),
        lambda: stubs(w, [a for a in w.allocs.items() if shown(a.namespace)]),
        NEWEST_FIRST,
    )


@routes.get("/v1/job/{job_id}/allocations")
async def job_allocations(request: web.Request) -> web.Response:
    w = watched(request)
    ns, jid = namespace(request), job_ident(request)
    return await answer(
        request,
        lambda: allocs_index(w, "job", job_scope(ns, jid)),
        lambda: stubs(w, job_allocs(w, ns, jid)),
        NEWEST_FIRST,
    )


@routes.get("/v1/allocation/{alloc_id}")
async def read_allocation(request: web.Request) -> web.Response:
    w = watched(request)
    alloc_ident = ident(request, "alloc_id")

    def render() -> dict[str, Any]:
        a = find_alloc(w, alloc_ident)
        dep = w.deployments.get(w.store.keys.deployment(a.deployment_id)) if a.deployment_id else None
        return alloc_full(a, statuses(w).get(a.id), dep)

    return await answer(request, lambda: alloc_index(w, alloc_ident), render)


@routes.post("/v1/allocation/{alloc_id}/stop")
@routes.put("/v1/allocation/{alloc_id}/stop")
async def stop(request: web.Request) -> web.Response:
    a, _ = await current_alloc(request)
    eval_id, rev = await run(stop_alloc, request.app[CTX].store, a.id)
    return ok({"EvalID": eval_id, "Index": rev}, index=rev)


@routes.post("/v1/client/allocation/{alloc_id}/restart")
@routes.put("/v1/client/allocation/{alloc_id}/restart")
async def restart(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    a, st = await current_alloc(request)
    body = await body_object(request, optional=True)
    task = str(body.get("TaskName", "") or "")
    if task and (st is None or task not in st.task_states):
        raise ApiError(404, f"task {task!r} not found in allocation {a.id}")
    rev = await run(restart_alloc, store, a.id, task)
    return ok({"Index": rev}, index=rev)


@routes.get("/v1/client/allocation/{alloc_id}/status")
async def client_status_of(request: web.Request) -> web.Response:
    w = watched(request)
    alloc_ident = request.match_info["alloc_id"]

    def render() -> dict[str, Any]:
        a = find_alloc(w, alloc_ident)
        return alloc_json(a, statuses(w).get(a.id))

    return await answer(request, lambda: alloc_index(w, alloc_ident), render)
