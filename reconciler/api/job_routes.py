"""Job endpoints: register, list, read, versions, stop/purge, parse.

Shapes follow Nomad's HTTP API (`/v1/jobs`, `/v1/job/:id`, ...) so existing Nomad API
clients work for these paths. Job bodies are converted by `reconciler.spec`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from reconciler import spec
from reconciler.api.context import ApiContext
from reconciler.api.errors import ApiError, not_found
from reconciler.api.http import body_json, flag, namespace, ns_time, ok, run
from reconciler.api.reads import all_allocs, all_evals, all_statuses
from reconciler.jobs import job_history, stop_job, submit_job
from reconciler.jobs.submit import IndexMismatch, InvalidIdentifier, JobNotFound
from reconciler.model.ids import is_valid_name
from reconciler.model.objects import Allocation, Evaluation, JobRecord, JobStatus
from reconciler.model.summary import summarize
from reconciler.store import Store


def _job_id(request: web.Request) -> str:
    job_id = request.match_info["job_id"]
    if not is_valid_name(job_id):
        raise ApiError(400, f"invalid job id {job_id!r}", field="JobID")
    return job_id


def _parse_body_job(data: Any) -> spec.Job:
    if not isinstance(data, dict) or not isinstance(data.get("Job"), dict):
        raise ApiError(400, 'request body must be a JSON object {"Job": {...}}', field="Job")
    try:
        return spec.job_from_request(data)
    except spec.SpecError as exc:
        first = exc.errors[0] if exc.errors else None
        raise ApiError(400, str(exc), field=first.path if first else "Job") from exc


def job_statuses(store: Store, records: list[JobRecord]) -> dict[tuple[str, str], JobStatus]:
    """Each job's status (pending/running/dead), derived from its allocations as Nomad does."""
    st = all_statuses(store)
    by_job: dict[tuple[str, str], list[Allocation]] = {}
    for a in all_allocs(store):
        by_job.setdefault((a.namespace, a.job_id), []).append(a)
    evals_by_job: dict[tuple[str, str], list[Evaluation]] = {}
    for e in all_evals(store):
        evals_by_job.setdefault((e.namespace, e.job_id), []).append(e)
    out = {}
    for r in records:
        k = (r.namespace, r.id)
        out[k] = summarize(r.job, by_job.get(k, []), st, evals_by_job.get(k, []), stopped=r.stop).status
    return out


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
        "ParentID": "",
        "Name": job.name or job.id,
        "Namespace": job.namespace,
        "Datacenters": job.datacenters,
        "Type": job.type,
        "Priority": job.priority,
        "Periodic": job.periodic is not None,
        "ParameterizedJob": False,
        "Stop": record.stop,
        "Status": status,
        "StatusDescription": "",
        "Version": record.version,
        "SubmitTime": ns_time(record.submit_time),
        "CreateIndex": record.create_index,
        "ModifyIndex": modify_index,
        "JobModifyIndex": modify_index,
    }


def routes(ctx: ApiContext) -> list[web.RouteDef]:
    store: Store = ctx.store

    async def register(request: web.Request) -> web.Response:
        data = await body_json(request)
        job = _parse_body_job(data)
        enforce = None
        if data.get("EnforceIndex"):
            enforce = data.get("JobModifyIndex")
            if not isinstance(enforce, int) or enforce < 0:
                raise ApiError(400, "JobModifyIndex must be a non-negative integer with EnforceIndex",
                               field="JobModifyIndex")
        if "job_id" in request.match_info and request.match_info["job_id"] != job.id:
            raise ApiError(400, "job ID in the path does not match the body", field="Job.ID")
        try:
            res = await run(submit_job, store, job, enforce_index=enforce)
        except InvalidIdentifier as exc:
            raise ApiError(400, str(exc), field=exc.field) from exc
        except IndexMismatch as exc:
            raise ApiError(409, str(exc), field="JobModifyIndex") from exc
        return ok(
            {
                "EvalID": res.eval_id,
                "EvalCreateIndex": res.modify_index,
                "JobModifyIndex": res.modify_index,
                "Index": res.modify_index,
                "JobVersion": res.version,
                "Changed": res.changed,
                "Warnings": "",
                "KnownLeader": True,
                "LastContact": 0,
            },
            index=res.modify_index,
        )

    async def list_jobs(request: web.Request) -> web.Response:
        ns = request.query.get("namespace", "default")
        prefix_filter = request.query.get("prefix", "")
        base = store.keys.jobs if ns == "*" else store.keys.jobs_in(ns)
        items, rev = await run(store.list, base, JobRecord)
        items = [i for i in items if i.value.id.startswith(prefix_filter)]
        status = await run(job_statuses, store, [i.value for i in items])
        stubs = [job_stub(i.value, i.mod_revision, status[(i.value.namespace, i.value.id)]) for i in items]
        stubs.sort(key=lambda s: s["ID"])
        return ok(stubs, index=rev)

    async def read_job(request: web.Request) -> web.Response:
        job_id = _job_id(request)
        cur = await run(store.get, store.keys.job(namespace(request), job_id), JobRecord)
        if cur is None:
            raise not_found("job", job_id)
        status = (await run(job_statuses, store, [cur.value]))[(cur.value.namespace, cur.value.id)]
        return ok(job_json(cur.value, cur.mod_revision, status), index=cur.mod_revision)

    async def versions(request: web.Request) -> web.Response:
        job_id = _job_id(request)
        ns = namespace(request)
        history = await run(job_history, store, ns, job_id)
        if not history:
            raise not_found("job", job_id)
        return ok({"Versions": [job_json(r, 0, JobStatus.DEAD if r.stop else "") for r in history], "Diffs": None})

    async def deregister(request: web.Request) -> web.Response:
        job_id = _job_id(request)
        try:
            eval_id = await run(stop_job, store, namespace(request), job_id, purge=flag(request, "purge"))
        except JobNotFound as exc:
            raise not_found("job", job_id) from exc
        rev = await run(store.revision)
        return ok({"EvalID": eval_id, "EvalCreateIndex": rev, "JobModifyIndex": rev, "Index": rev}, index=rev)

    async def parse(request: web.Request) -> web.Response:
        data = await body_json(request)
        if not isinstance(data, dict) or not isinstance(data.get("JobHCL"), str):
            raise ApiError(400, 'body must be {"JobHCL": "<job text>"}', field="JobHCL")
        variables = data.get("Variables") or {}
        try:
            job = await run(spec.parse_job, data["JobHCL"], filename="<request>",  # off the loop (review H9)
                            format=data.get("Format", "hcl"),
                            variables={str(k): str(v) for k, v in variables.items()}, env={})
        except spec.SpecError as exc:
            first = exc.errors[0] if exc.errors else None
            raise ApiError(400, str(exc), field=first.path if first else "JobHCL") from exc
        return ok(spec.job_to_nomad(job))

    return [
        web.post("/v1/jobs", register),
        web.put("/v1/jobs", register),
        web.get("/v1/jobs", list_jobs),
        web.post("/v1/jobs/parse", parse),
        web.get("/v1/job/{job_id}", read_job),
        web.post("/v1/job/{job_id}", register),
        web.put("/v1/job/{job_id}", register),
        web.delete("/v1/job/{job_id}", deregister),
        web.get("/v1/job/{job_id}/versions", versions),
    ]
