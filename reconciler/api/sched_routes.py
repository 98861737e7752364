"""Scheduler endpoints in Nomad's paths and JSON shapes: allocations, evaluations, nodes,
job summary, scale and plan.

Reads list the store (through `asyncio.to_thread`); writes are guarded by mod revision
(node eligibility and drain) or go through the job submission path (scale). The plan calls
the dry-run the agent wired into `ctx.planner` (the API never imports the scheduler).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from reconciler import codec
from reconciler.api.context import ApiContext
from reconciler.api.errors import ApiError, not_found
from reconciler.api.reads import all_allocs, all_deployments, all_evals, all_statuses
from reconciler.deployments.health import health_of
from reconciler.model.evals import new_eval
from reconciler.model.ids import is_valid_name
from reconciler.model.job import Job
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    Deployment,
    DesiredStatus,
    Evaluation,
    JobRecord,
    Node,
    NodeEligibility,
)
from reconciler.model.plan import AllocMetric, PlanResult
from reconciler.model.summary import client_status, summarize
from reconciler.store import Store

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _ns(t: float) -> int:
    return int(t * 1e9)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json")


def _ident(request: web.Request, name: str = "id") -> str:
    value = request.match_info[name]
    if not is_valid_name(value):
        raise ApiError(400, f"invalid identifier {value!r}", field=name)
    return value


def _namespace(request: web.Request) -> str:
    ns = request.query.get("namespace", "default")
    if not is_valid_name(ns):
        raise ApiError(400, f"invalid namespace {ns!r}", field="namespace")
    return ns


def _guard(fn: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except ApiError as exc:
            return exc.response()

    return wrapped


# --- shapes --------------------------------------------------------------------------------

def _alloc_deployment_status(a: Allocation, deployments: Mapping[str, Deployment]) -> dict[str, Any] | None:
    """Nomad's `DeploymentStatus` of an allocation: its health as its deployment judged it."""
    dep = deployments.get(a.deployment_id) if a.deployment_id else None
    if dep is None:
        return {"Healthy": None, "Canary": True} if a.canary else None
    return {"Healthy": health_of(dep, a.id), "Canary": a.canary}


def alloc_stub(a: Allocation, st: AllocStatus | None, deployments: Mapping[str, Deployment] | None = None) -> dict[str, Any]:
    states = st.task_states if st else {}
    return {
        "ID": a.id, "EvalID": a.eval_id, "Name": a.name, "Namespace": a.namespace, "NodeID": a.node_id,
        "NodeName": a.node_name, "JobID": a.job_id, "JobVersion": a.job_version, "TaskGroup": a.task_group,
        "DesiredStatus": a.desired_status, "DesiredDescription": a.desired_description,
        "ClientStatus": client_status(a, {a.id: st} if st else {}),
        "ClientDescription": st.client_description if st else "",
        "TaskStates": {
            name: {
                "State": ts.state, "Failed": ts.failed, "Restarts": ts.restarts,
                "StartedAt": ts.started_at or None, "FinishedAt": ts.finished_at or None,
                "Events": [{"Type": e.type, "Time": _ns(e.time), "DisplayMessage": e.message} for e in ts.events],
            }
            for name, ts in states.items()
        } or None,
        "DeploymentID": a.deployment_id,
        "DeploymentStatus": _alloc_deployment_status(a, deployments or {}),
        "PreviousAllocation": a.previous_allocation, "NextAllocation": a.next_allocation,
        "FollowupEvalID": a.followup_eval_id,
        "RescheduleTracker": {"Events": [{"RescheduleTime": _ns(t)} for t in a.reschedule_attempts]}
        if a.reschedule_attempts else None,
        "CreateIndex": 0, "ModifyIndex": 0, "CreateTime": _ns(a.create_time), "ModifyTime": _ns(a.modify_time),
    }


def alloc_full(a: Allocation, st: AllocStatus | None, dep: Deployment | None = None) -> dict[str, Any]:
    out = alloc_stub(a, st, {dep.id: dep} if dep else None)
    ports = [{"Label": p.label, "Value": p.value, "To": p.to, "HostIP": p.host_ip} for p in a.ports]
    out["AllocatedResources"] = {
        "Shared": {"Ports": ports, "Networks": [{"DynamicPorts": ports}] if ports else None},
        "Tasks": {},
    }
    out["Resources"] = {"CPU": a.cpu, "MemoryMB": a.memory}
    return out


def node_stub(n: Node) -> dict[str, Any]:
    return {
        "ID": n.id, "Name": n.name, "Datacenter": n.datacenter, "Address": n.address, "NodeClass": n.node_class,
        "Drain": n.drain, "SchedulingEligibility": n.eligibility, "Status": n.status, "StatusDescription": "",
        "Drivers": {d: {"Detected": True, "Healthy": h} for d, h in n.drivers.items()},
        "CreateIndex": 0, "ModifyIndex": 0, "Version": "",
    }


def node_full(n: Node) -> dict[str, Any]:
    out = node_stub(n)
    out.update({
        "HTTPAddr": n.http_addr, "Attributes": dict(n.attributes), "Meta": dict(n.meta),
        "NodeResources": {
            "Cpu": {"CpuShares": n.resources.cpu_mhz, "TotalCpuCores": n.resources.cores},
            "Memory": {"MemoryMB": n.resources.memory_mb}, "Disk": {"DiskMB": n.resources.disk_mb},
            "MinDynamicPort": n.min_dynamic_port, "MaxDynamicPort": n.max_dynamic_port,
        },
        "ReservedResources": {
            "Cpu": {"CpuShares": n.reserved.cpu_mhz}, "Memory": {"MemoryMB": n.reserved.memory_mb},
            "Disk": {"DiskMB": n.reserved.disk_mb},
        },
        "DrainStrategy": {"Deadline": 0} if n.drain else None,
        "StatusUpdatedAt": int(n.modify_time),
    })
    return out


def eval_shape(e: Evaluation) -> dict[str, Any]:
    failed = {}
    for g, m in e.failed_tg_allocs.items():
        try:
            failed[g] = codec.convert(m, AllocMetric).to_nomad()
        except codec.CodecError:
            failed[g] = m
    return {
        "ID": e.id, "Namespace": e.namespace, "Priority": e.priority, "Type": e.type,
        "TriggeredBy": e.triggered_by, "JobID": e.job_id, "JobModifyIndex": e.job_version,
        "NodeID": e.node_id, "DeploymentID": e.deployment_id, "Status": e.status,
        "StatusDescription": e.status_description, "WaitUntil": _ns(e.wait_until) if e.wait_until else None,
        "PreviousEval": e.previous_eval, "BlockedEval": e.blocked_eval, "FailedTGAllocs": failed or None,
        "QueuedAllocations": dict(e.queued_allocations) or None, "PlacedAllocs": list(e.placed),
        "CreateIndex": 0, "ModifyIndex": 0, "CreateTime": _ns(e.create_time), "ModifyTime": _ns(e.modify_time),
    }


# --- reads -----------------------------------------------------------------------------------

def _job_record(store: Store, ns: str, job_id: str) -> JobRecord:
    rec = store.get(store.keys.job(ns, job_id), JobRecord)
    if rec is None:
        raise not_found("job", job_id)
    return rec.value


def _find(items: list[Any], ident: str, what: str) -> Any:
    """Exact id, or a unique prefix (users type short ids)."""
    exact = [i for i in items if i.id == ident]
    if exact:
        return exact[0]
    pref = [i for i in items if i.id.startswith(ident)]
    if len(pref) == 1:
        return pref[0]
    if len(pref) > 1:
        raise ApiError(400, f"{what} prefix {ident!r} matches {len(pref)} {what}s; give more characters")
    raise not_found(what, ident)


def routes(ctx: ApiContext) -> list[web.RouteDef]:
    store = ctx.store

    async def job_allocations(request: web.Request) -> web.Response:
        ns, jid = _namespace(request), _ident(request)

        def read() -> list[dict[str, Any]]:
            st = all_statuses(store)
            mine = [a for a in all_allocs(store) if a.job_id == jid and a.namespace == ns]
            mine.sort(key=lambda a: a.create_time, reverse=True)
            deps = all_deployments(store)
            return [alloc_stub(a, st.get(a.id), deps) for a in mine]

        return _json(await asyncio.to_thread(read))

    async def job_evaluations(request: web.Request) -> web.Response:
        ns, jid = _namespace(request), _ident(request)
        evs = await asyncio.to_thread(all_evals, store)
        return _json([eval_shape(e) for e in evs if e.job_id == jid and e.namespace == ns])

    async def job_summary(request: web.Request) -> web.Response:
        ns, jid = _namespace(request), _ident(request)

        def read() -> dict[str, Any]:
            rec = _job_record(store, ns, jid)
            st = all_statuses(store)
            mine = [a for a in all_allocs(store) if a.job_id == jid and a.namespace == ns]
            evs = [e for e in all_evals(store) if e.job_id == jid and e.namespace == ns]
            s = summarize(rec.job, mine, st, evs, stopped=rec.stop)
            return {
                "JobID": jid, "Namespace": ns, "Status": s.status,
                "Summary": {g: v.to_nomad() for g, v in s.groups.items()},
                "Children": {"Pending": 0, "Running": 0, "Dead": 0}, "CreateIndex": 0, "ModifyIndex": 0,
            }

        return _json(await asyncio.to_thread(read))

    async def allocations(request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")

        def read() -> list[dict[str, Any]]:
            st = all_statuses(store)
            items = [a for a in all_allocs(store) if a.id.startswith(prefix)]
            items.sort(key=lambda a: a.create_time, reverse=True)
            deps = all_deployments(store)
            return [alloc_stub(a, st.get(a.id), deps) for a in items]

        return _json(await asyncio.to_thread(read))

    async def allocation(request: web.Request) -> web.Response:
        ident = _ident(request)

        def read() -> dict[str, Any]:
            a = _find(all_allocs(store), ident, "allocation")
            st = store.get(store.keys.alloc_status(a.id), AllocStatus)
            dep = store.get(store.keys.deployment(a.deployment_id), Deployment) if a.deployment_id else None
            return alloc_full(a, st.value if st else None, dep.value if dep else None)

        return _json(await asyncio.to_thread(read))

    def _nodes() -> list[Node]:
        items, _ = store.list(store.keys.nodes, Node)
        return sorted((i.value for i in items), key=lambda n: n.name)

    async def nodes(request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")
        return _json([node_stub(n) for n in await asyncio.to_thread(_nodes) if n.id.startswith(prefix)])

    async def node(request: web.Request) -> web.Response:
        ident = _ident(request)
        n = _find(await asyncio.to_thread(_nodes), ident, "node")
        return _json(node_full(n))

    async def node_allocations(request: web.Request) -> web.Response:
        ident = _ident(request)

        def read() -> list[dict[str, Any]]:
            n = _find(_nodes(), ident, "node")
            st = all_statuses(store)
            return [alloc_stub(a, st.get(a.id)) for a in all_allocs(store) if a.node_id == n.id]

        return _json(await asyncio.to_thread(read))

    def _update_node(ident: str, change: Callable[[Node], Node], trigger: str) -> dict[str, Any]:
        """Apply `change` with a compare on the node's mod revision (retried on a race),
        then create an evaluation for every job with allocations on it."""
        n = _find(_nodes(), ident, "node")
        for _ in range(10):
            cur = store.get(store.keys.node(n.id), Node)
            if cur is None:
                raise not_found("node", ident)
            new = change(cur.value)
            if store.replace(cur.key, cur.mod_revision, new):
                break
        else:
            raise ApiError(409, f"node {ident} keeps changing; try again")
        now = time.time()
        jobs = sorted({(a.namespace, a.job_id) for a in all_allocs(store) if a.node_id == n.id and a.desired_status == DesiredStatus.RUN})
        evs = [
            new_eval(ns, jid, trigger, now=now, node_id=n.id)
            for ns, jid in jobs
        ]
        store.put_many((store.keys.eval(e.id), e) for e in evs)
        return {"EvalIDs": [e.id for e in evs] or None, "EvalCreateIndex": 0, "NodeModifyIndex": 0}

    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError as exc:
            raise ApiError(400, f"request body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    async def node_eligibility(request: web.Request) -> web.Response:
        ident = _ident(request)
        body = await _body(request)
        elig = body.get("Eligibility")
        if elig not in tuple(NodeEligibility):
            raise ApiError(400, 'Eligibility must be "eligible" or "ineligible"', field="Eligibility")

        def change(n: Node) -> Node:
            if n.drain and elig == NodeEligibility.ELIGIBLE:
                raise ApiError(400, "can not set eligibility to eligible on a draining node")
            return dataclasses.replace(n, eligibility=NodeEligibility(elig), modify_time=time.time())

        return _json(await asyncio.to_thread(_update_node, ident, change, "node-update"))

    async def node_drain(request: web.Request) -> web.Response:
        ident = _ident(request)
        body = await _body(request)
        enable = body.get("DrainSpec") is not None
        mark_eligible = bool(body.get("MarkEligible", False))

        def change(n: Node) -> Node:
            if enable:
                return dataclasses.replace(n, drain=True, eligibility=NodeEligibility.INELIGIBLE, modify_time=time.time())
            return dataclasses.replace(
                n, drain=False, eligibility=NodeEligibility.ELIGIBLE if mark_eligible else n.eligibility, modify_time=time.time()
            )

        return _json(await asyncio.to_thread(_update_node, ident, change, "node-drain"))

    async def evaluations(request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")
        evs = await asyncio.to_thread(all_evals, store)
        return _json([eval_shape(e) for e in evs if e.id.startswith(prefix)])

    async def evaluation(request: web.Request) -> web.Response:
        ident = _ident(request)
        e = _find(await asyncio.to_thread(all_evals, store), ident, "evaluation")
        return _json(eval_shape(e))

    async def job_scale(request: web.Request) -> web.Response:
        ns, jid = _namespace(request), _ident(request)
        body = await _body(request)
        count = body.get("Count")
        group = (body.get("Target") or {}).get("Group")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ApiError(400, "Count must be a non-negative integer", field="Count")
        if not isinstance(group, str) or not group:
            raise ApiError(400, "Target.Group is required", field="Target.Group")
        try:
            from reconciler.jobs.submit import InvalidIdentifier, submit_job  # the lead's submission path
        except ImportError:
            raise ApiError(501, "job submission (reconciler.jobs.submit) is not available in this build") from None

        def scale() -> dict[str, Any]:
            rec = _job_record(store, ns, jid)
            if rec.stop:
                raise ApiError(400, f"job {jid} is stopped; run it before scaling")
            tg = rec.job.group(group)
            if tg is None:
                raise ApiError(400, f"task group {group!r} not found in job {jid}", field="Target.Group")
            groups = [dataclasses.replace(g, count=count) if g.name == group else g for g in rec.job.task_groups]
            try:
                res = submit_job(store, dataclasses.replace(rec.job, task_groups=groups), source_file=rec.source_file)
            except InvalidIdentifier as exc:  # the job's rules (e.g. the count limit), as on register
                raise ApiError(400, str(exc), field="Count") from exc
            return {"EvalID": res.eval_id, "EvalCreateIndex": 0, "JobModifyIndex": res.version, "Warnings": ""}

        return _json(await asyncio.to_thread(scale))

    async def job_plan(request: web.Request) -> web.Response:
        ns, jid = _namespace(request), _ident(request)
        body = await _body(request)
        if ctx.planner is None:
            raise ApiError(501, "the scheduler's planner is not wired into this agent")
        raw = body.get("Job")
        if not isinstance(raw, dict):
            raise ApiError(400, "Job is required", field="Job")
        try:
            from reconciler.spec import job_from_request as job_from_nomad  # validated (review M1)
        except ImportError:
            raise ApiError(501, "Nomad JSON jobs (reconciler.spec.job_from_nomad) are not available") from None
        try:
            job = job_from_nomad(raw)
        except Exception as exc:  # noqa: BLE001 - the spec layer's errors become a 400
            raise ApiError(400, f"invalid job: {exc}") from None
        if job.id != jid:
            raise ApiError(400, f"job ID {job.id!r} does not match the URL's {jid!r}", field="Job.ID")
        if job.namespace != ns and "namespace" in request.query:
            raise ApiError(400, "job namespace does not match the request's", field="Job.Namespace")
        want_diff = bool(body.get("Diff"))

        def run() -> dict[str, Any]:
            assert ctx.planner is not None
            result: PlanResult = ctx.planner(store=store, job=job)
            out = result.to_nomad()
            if want_diff:
                out["Diff"] = _diff(store, job, result)
            return out

        return _json(await asyncio.to_thread(run))

    g = _guard
    return [
        web.get("/v1/job/{id}/allocations", g(job_allocations)),
        web.get("/v1/job/{id}/evaluations", g(job_evaluations)),
        web.get("/v1/job/{id}/summary", g(job_summary)),
        web.post("/v1/job/{id}/scale", g(job_scale)),
        web.put("/v1/job/{id}/scale", g(job_scale)),
        web.post("/v1/job/{id}/plan", g(job_plan)),
        web.put("/v1/job/{id}/plan", g(job_plan)),
        web.get("/v1/allocations", g(allocations)),
        web.get("/v1/allocation/{id}", g(allocation)),
        web.get("/v1/nodes", g(nodes)),
        web.get("/v1/node/{id}", g(node)),
        web.get("/v1/node/{id}/allocations", g(node_allocations)),
        web.post("/v1/node/{id}/eligibility", g(node_eligibility)),
        web.put("/v1/node/{id}/eligibility", g(node_eligibility)),
        web.post("/v1/node/{id}/drain", g(node_drain)),
        web.put("/v1/node/{id}/drain", g(node_drain)),
        web.get("/v1/evaluations", g(evaluations)),
        web.get("/v1/evaluation/{id}", g(evaluation)),
    ]


def _diff(store: Store, job: Job, result: PlanResult) -> dict[str, Any]:
    """The plan's `Diff` in Nomad's shape, against the stored version (none if stopped)."""
    from reconciler.spec import diff_jobs, diff_to_nomad
    from reconciler.spec.plan_render import group_counts

    cur = store.get(store.keys.job(job.namespace, job.id), JobRecord)
    old = cur.value.job if cur is not None and not cur.value.stop else None
    return diff_to_nomad(diff_jobs(old, job), group_counts(result.desired_tg_updates))
