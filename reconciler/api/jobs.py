"""Job endpoints in Nomad's paths and shapes (Nomad's `job_endpoint.go`):

    POST /v1/jobs  (register)      GET /v1/jobs?prefix=&namespace=   POST /v1/jobs/parse
    GET  /v1/job/{job_id}          POST /v1/job/{job_id} (register)  DELETE /v1/job/{job_id}?purge=
    GET  /v1/job/{job_id}/versions GET  /v1/job/{job_id}/summary
    POST /v1/job/{job_id}/scale    POST /v1/job/{job_id}/revert      POST /v1/job/{job_id}/plan

Writes are operations (`reconciler.ops.jobs`); job bodies are converted by
`reconciler.spec`; the plan calls the dry run the agent wired into `ctx.planner`. A job's
allocations, evaluations and deployments are served by those resources' modules.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from reconciler import spec
from reconciler.api.acl import visible
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError, not_found
from reconciler.api.http import (
    body_json,
    body_object,
    count_field,
    flag,
    job_ident,
    namespace,
    ns_time,
    ok,
    run,
)
from reconciler.api.parsing import parse_job_text
from reconciler.api.reads import (
    job_allocs,
    job_deployments,
    job_history,
    job_index,
    job_record,
    job_summary,
    statuses,
    stored_record,
)
from reconciler.api.scale_status import scale_json
from reconciler.api.views import BY_ID, answer, watched
from reconciler.model.acl import Capability
from reconciler.model.job import Job
from reconciler.model.objects import JobRecord, JobStatus
from reconciler.model.plan import PlanResult
from reconciler.ops.job_stop import stop_job
from reconciler.ops.jobs import (
    SubmitResult,
    evaluate_job,
    revert_job,
    scale_job,
    set_stable,
    submit_job,
)
from reconciler.spec.plan_render import group_counts

routes = web.RouteTableDef()


def _job_id(request: web.Request) -> str:
    return job_ident(request)


def _spec_error(exc: spec.SpecError, default_field: str) -> ApiError:
    first = exc.errors[0] if exc.errors else None
    return ApiError(400, str(exc), field=first.path if first else default_field)


def _parse_body_job(data: Any) -> Job:
    if not isinstance(data, dict) or not isinstance(data.get("Job"), dict):
        raise ApiError(400, 'request body must be a JSON object {"Job": {...}}', field="Job")
    try:
        return spec.job_from_request(data)
    except spec.SpecError as exc:
        raise _spec_error(exc, "Job") from exc


def job_json(record: JobRecord, modify_index: int, status: str) -> dict[str, Any]:
    data = spec.job_to_nomad(record.job)
    data.update(
        {
            "Version": record.version,
            "Stop": record.stop,
            "Status": status,
            "Stable": record.stable,
            "SubmitTime": ns_time(record.submit_time),
            "CreateIndex": record.create_index,
            "ModifyIndex": modify_index,
            "JobModifyIndex": modify_index,
        }
    )
    return data


def job_stub(record: JobRecord, modify_index: int, status: str) -> dict[str, Any]:
    job = record.job
    return {
        "ID": job.id,
        "ParentID": job.parent_id,
        "Name": job.name or job.id,
        "Namespace": job.namespace,
        "Datacenters": job.datacenters,
        "NodePool": job.node_pool,
        "Type": job.type,
        "Priority": job.priority,
        "Periodic": job.periodic is not None,
        "ParameterizedJob": job.parameterized is not None and not job.dispatched,
        "Stop": record.stop,
        "Status": status,
        "StatusDescription": "",
        "Version": record.version,
        "SubmitTime": ns_time(record.submit_time),
        "CreateIndex": record.create_index,
        "ModifyIndex": modify_index,
        "JobModifyIndex": modify_index,
    }


def _written(res: SubmitResult, **extra: Any) -> web.Response:
    """The response of a job write (register, scale, revert), in Nomad's shape."""
    rev = res.modify_index
    return ok(
        {
            "EvalID": res.eval_id,
            "EvalCreateIndex": rev,
            "JobModifyIndex": rev,
            "Index": rev,
            "JobVersion": res.version,
            "Changed": res.changed,
            "Warnings": "",
            **extra,
        },
        index=rev,
    )


@routes.post("/v1/jobs")
@routes.put("/v1/jobs")
@routes.post("/v1/job/{job_id}")
@routes.put("/v1/job/{job_id}")
async def register(request: web.Request) -> web.Response:
    data = await body_json(request)
    job = _parse_body_job(data)
    enforce = None
    if data.get("EnforceIndex"):
        enforce = data.get("JobModifyIndex")
        if not isinstance(enforce, int) or enforce < 0:
            raise ApiError(
                400, "JobModifyIndex must be a non-negative integer with EnforceIndex", field="JobModifyIndex"
            )
    if "job_id" in request.match_info and request.match_info["job_id"] != job.id:
        raise ApiError(400, "job ID in the path does not match the body", field="Job.ID")
    # Nomad: a job's namespace must exist (checked in the write's own transaction)
    res = await run(submit_job, request.app[CTX].store, job, enforce_index=enforce, check_namespace=True)
    return _written(res, KnownLeader=True, LastContact=0)


@routes.get("/v1/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    w = watched(request)
    ns = namespace(request, wildcard=True)
    shown = visible(request, Capability.LIST_JOBS)

    def index() -> tuple[int, ...]:
        return (w.jobs.index, w.allocs.index, w.statuses.index, w.evals.index)

    def render() -> list[dict[str, Any]]:
        items = w.jobs.informer.items()
        return [
            job_stub(i.value, i.mod_revision, job_summary(w, i.value).status)
            for i in items
            if (ns == "*" or i.value.namespace == ns) and shown(i.value.namespace)
        ]

    return await answer(request, index, render, BY_ID)


def _job_read(request: web.Request) -> tuple[str, str]:
    return namespace(request), _job_id(request)


@routes.get("/v1/job/{job_id}")
async def read_job(request: web.Request) -> web.Response:
    w = watched(request)
    ns, jid = _job_read(request)

    def render() -> dict[str, Any]:
        rec, rev = job_record(w, ns, jid)
        if rec is None:
            raise not_found("job", jid)
        return job_json(rec, rev, job_summary(w, rec).status)

    return await answer(request, lambda: job_index(w, ns, jid), render)


@routes.get("/v1/job/{job_id}/versions")
async def versions(request: web.Request) -> web.Response:
    w = watched(request)
    ns, jid = _job_read(request)

    def index() -> tuple[int, ...]:
        return (w.versions.scope_index("job", f"{ns}/{jid}"), w.jobs.key_index(w.store.keys.job(ns, jid)))

    def render() -> dict[str, Any]:
        history = job_history(w, ns, jid)
        if not history:
            raise not_found("job", jid)
        rows = [job_json(r, 0, JobStatus.DEAD if r.stop else "") for r in history]
        return {"Versions": rows, "Diffs": None}

    return await answer(request, index, render)


@routes.delete("/v1/job/{job_id}")
async def deregister(request: web.Request) -> web.Response:
    job_id = _job_id(request)
    res = await run(
        stop_job, request.app[CTX].store, namespace(request), job_id, purge=flag(request, "purge")
    )
    rev = res.modify_index
    return ok({"EvalID": res.eval_id, "EvalCreateIndex": rev, "JobModifyIndex": rev, "Index": rev}, index=rev)


@routes.post("/v1/jobs/parse")
async def parse(request: web.Request) -> web.Response:
    data = await body_json(request)
    if not isinstance(data, dict) or not isinstance(data.get("JobHCL"), str):
        raise ApiError(400, 'body must be {"JobHCL": "<job text>"}', field="JobHCL")
    variables = data.get("Variables") or {}
    try:
        job = await parse_job_text(  # a worker process, bounded in memory and time (review H9)
            data["JobHCL"],
            filename="<request>",
            format=data.get("Format", "hcl"),
            variables={str(k): str(v) for k, v in variables.items()},
            env={},
        )
    except spec.SpecError as exc:
        raise _spec_error(exc, "JobHCL") from exc
    return ok(spec.job_to_nomad(job), index=None)


@routes.get("/v1/job/{job_id}/summary")
async def summary(request: web.Request) -> web.Response:
    w = watched(request)
    ns, jid = _job_read(request)

    def render() -> dict[str, Any]:
        rec, _ = job_record(w, ns, jid)
        if rec is None:
            raise not_found("job", jid)
        s = job_summary(w, rec)
        return {
            "JobID": jid,
            "Namespace": ns,
            "Status": s.status,
            "Summary": {g: v.to_nomad() for g, v in s.groups.items()},
            "Children": {"Pending": 0, "Running": 0, "Dead": 0},
            "CreateIndex": rec.create_index,
            "ModifyIndex": max(job_index(w, ns, jid)),
        }

    return await answer(request, lambda: job_index(w, ns, jid), render)


@routes.get("/v1/job/{job_id}/scale")
async def scale_status(request: web.Request) -> web.Response:
    """Nomad's JobScaleStatusResponse: per group the desired count, the allocations placed
    (desired run, not terminal) and running, and the healthy and unhealthy ones of the job's
    newest deployment of its current version."""
    w = watched(request)
    ns, jid = _job_read(request)

    def render() -> dict[str, Any]:
        rec, rev = job_record(w, ns, jid)
        if rec is None:
            raise not_found("job", jid)
        return scale_json(rec, rev, job_allocs(w, ns, jid), statuses(w), job_deployments(w, ns, jid))

    return await answer(request, lambda: job_index(w, ns, jid), render)


@routes.post("/v1/job/{job_id}/scale")
@routes.put("/v1/job/{job_id}/scale")
async def scale(request: web.Request) -> web.Response:
    ns, jid = namespace(request), _job_id(request)
    body = await body_object(request, optional=True)
    group = (body.get("Target") or {}).get("Group")
    count = count_field(body, "Count")
    if not isinstance(group, str) or not group:
        raise ApiError(400, "Target.Group is required", field="Target.Group")
    return _written(await run(scale_job, request.app[CTX].store, ns, jid, group, count))


@routes.post("/v1/job/{job_id}/revert")
@routes.put("/v1/job/{job_id}/revert")
async def revert(request: web.Request) -> web.Response:
    ns, jid = namespace(request), _job_id(request)
    body = await body_object(request)
    version = count_field(body, "JobVersion")
    prior = body.get("EnforcePriorVersion")
    if prior is not None and (not isinstance(prior, int) or isinstance(prior, bool)):
        raise ApiError(400, "EnforcePriorVersion must be an integer", field="EnforcePriorVersion")
    return _written(
        await run(revert_job, request.app[CTX].store, ns, jid, version, enforce_prior_version=prior)
    )


@routes.post("/v1/job/{job_id}/evaluate")
@routes.put("/v1/job/{job_id}/evaluate")
async def evaluate(request: web.Request) -> web.Response:
    """A new evaluation of the job (Nomad's `job eval`). `EvalOptions.ForceReschedule` is
    refused: failed allocations are rescheduled by their policy only."""
    ns, jid = namespace(request), _job_id(request)
    body = await body_object(request, optional=True)
    options = body.get("EvalOptions") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "EvalOptions must be an object", field="EvalOptions")
    if options.get("ForceReschedule"):
        raise ApiError(400, "ForceReschedule is not supported", field="EvalOptions.ForceReschedule")
    return _written(await run(evaluate_job, request.app[CTX].store, ns, jid))


@routes.post("/v1/job/{job_id}/stable")
@routes.put("/v1/job/{job_id}/stable")
async def stable(request: web.Request) -> web.Response:
    """Mark a version stable or not (`{"JobVersion": 2, "Stable": true}`), Nomad's shape."""
    ns, jid = namespace(request), _job_id(request)
    body = await body_object(request)
    version = count_field(body, "JobVersion")
    mark = body.get("Stable", False)
    if not isinstance(mark, bool):
        raise ApiError(400, "Stable must be true or false", field="Stable")
    index = await run(set_stable, request.app[CTX].store, ns, jid, version, mark)
    return ok({"Index": index}, index=index)


@routes.post("/v1/job/{job_id}/plan")
@routes.put("/v1/job/{job_id}/plan")
async def plan(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    ns, jid = namespace(request), _job_id(request)
    body = await body_object(request, optional=True)
    planner = ctx.planner
    if planner is None:
        raise ApiError(501, "the scheduler's planner is not wired into this agent")
    raw = body.get("Job")
    if not isinstance(raw, dict):
        raise ApiError(400, "Job is required", field="Job")
    try:
        job = spec.job_from_request(raw)
    except spec.SpecError as exc:
        raise _spec_error(exc, "Job") from exc
    except (TypeError, ValueError) as exc:
        raise ApiError(400, f"invalid job: {exc}") from None
    if job.id != jid:
        raise ApiError(400, f"job ID {job.id!r} does not match the URL's {jid!r}", field="Job.ID")
    if job.namespace != ns and "namespace" in request.query:
        raise ApiError(400, "job namespace does not match the request's", field="Job.Namespace")
    want_diff = bool(body.get("Diff"))

    def dry_run() -> tuple[dict[str, Any], int]:
        cur, rev = stored_record(ctx.store, job.namespace, job.id)
        result = planner(store=ctx.store, job=job)
        out = result.to_nomad()
        if want_diff:
            out["Diff"] = _diff(cur, job, result)
        return out, rev

    out, rev = await run(dry_run)
    return ok(out, index=rev)


def _diff(cur: JobRecord | None, job: Job, result: PlanResult) -> dict[str, Any]:
    """The plan's `Diff` in Nomad's shape, against the stored version (none if stopped)."""
    old = cur.job if cur is not None and not cur.stop else None
    return spec.diff_to_nomad(spec.diff_jobs(old, job), group_counts(result.desired_tg_updates))
