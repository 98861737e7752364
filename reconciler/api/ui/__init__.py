"""The web UI: the static files beside this module under /ui, and /ui/plan, which parses a
pasted job (HCL or JSON), runs the scheduler's dry run and returns the plan as the CLI
prints it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from reconciler import spec
from reconciler.api.acl import require
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.api.http import body_json, ok, run
from reconciler.api.parsing import parse_job_text
from reconciler.api.reads import stored_record
from reconciler.model.acl import Capability
from reconciler.model.job import Job
from reconciler.spec.plan_render import render_plan

UI_DIR = Path(__file__).parent
STATIC = {"app.js": "application/javascript", "style.css": "text/css"}

routes = web.RouteTableDef()


async def parse_pasted(text: str) -> Job:
    """A pasted job: JSON (Nomad's API form) if it starts with `{`, else HCL, parsed in a
    worker process bounded in memory and time (review H9)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, f"the pasted JSON is not valid: {exc}", field="JobHCL") from exc
        return await asyncio.to_thread(spec.job_from_request, data)
    return await parse_job_text(text, filename="<pasted job>", format="hcl", env={})


@routes.get("/")
async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/ui/")


@routes.get("/ui")
@routes.get("/ui/")
async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(UI_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@routes.get("/ui/static/{name}")
async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC:
        raise ApiError(404, f"no such file: {name}")
    return web.FileResponse(
        UI_DIR / name, headers={"Content-Type": STATIC[name], "Cache-Control": "no-cache"}
    )


@routes.post("/ui/plan")
async def plan(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    data = await body_json(request)
    if not isinstance(data, dict) or not isinstance(data.get("JobHCL"), str) or not data["JobHCL"].strip():
        raise ApiError(400, "paste a job specification first", field="JobHCL")
    try:
        job = await parse_pasted(data["JobHCL"])
    except spec.SpecError as exc:
        raise ApiError(400, "\n".join(str(e) for e in exc.errors), field="JobHCL") from exc
    require(request, job.namespace, Capability.SUBMIT_JOB)  # the namespace the pasted job names
    planner = ctx.planner
    if planner is None:
        raise ApiError(501, "this agent runs no scheduler: plan needs a server or dev agent")

    def dry_run() -> tuple[dict[str, Any], int]:
        cur, rev = stored_record(ctx.store, job.namespace, job.id)
        old = cur.job if cur is not None and not cur.stop else None
        result = planner(store=ctx.store, job=job)
        text = render_plan(spec.diff_jobs(old, job), result.desired_tg_updates, result.failed_tg_allocs)
        return {"Text": text, "ExitCode": result.exit_code, "Job": spec.job_to_nomad(job)}, rev

    out, rev = await run(dry_run)
    return ok(out, index=rev)
