"""The web UI: static files under /ui, and /ui/plan, which parses a pasted job (HCL or
JSON), runs the scheduler's dry run and returns the plan as the CLI prints it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from reconciler import spec
from reconciler.api.context import ApiContext
from reconciler.api.errors import ApiError
from reconciler.api.http import body_json, ok, run
from reconciler.model.objects import JobRecord
from reconciler.spec.plan_render import render_plan

UI_DIR = Path(__file__).parent / "ui"
STATIC = {"app.js": "application/javascript", "style.css": "text/css"}


def parse_pasted(text: str) -> spec.Job:
    """A pasted job: JSON (Nomad's API form) if it starts with `{`, else HCL."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise ApiError(400, f"the pasted JSON is not valid: {exc}", field="JobHCL") from exc
        return spec.job_from_request(data)
    return spec.parse_job(text, filename="<pasted job>", format="hcl", env={})


def routes(ctx: ApiContext) -> list[web.RouteDef]:
    store = ctx.store

    async def index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(UI_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in STATIC:
            raise ApiError(404, f"no such file: {name}")
        return web.FileResponse(UI_DIR / name, headers={"Content-Type": STATIC[name], "Cache-Control": "no-cache"})

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/ui/")

    async def plan(request: web.Request) -> web.Response:
        data = await body_json(request)
        if not isinstance(data, dict) or not isinstance(data.get("JobHCL"), str) or not data["JobHCL"].strip():
            raise ApiError(400, "paste a job specification first", field="JobHCL")
        try:
            job = await run(parse_pasted, data["JobHCL"])  # off the event loop (review H9)
        except spec.SpecError as exc:
            raise ApiError(400, "\n".join(str(e) for e in exc.errors), field="JobHCL") from exc
        if ctx.planner is None:
            raise ApiError(501, "this agent runs no scheduler: plan needs a server or dev agent")

        def dry_run() -> dict[str, Any]:
            assert ctx.planner is not None
            cur = store.get(store.keys.job(job.namespace, job.id), JobRecord)
            old = cur.value.job if cur is not None and not cur.value.stop else None
            result = ctx.planner(store=store, job=job)
            text = render_plan(spec.diff_jobs(old, job), result.desired_tg_updates, result.failed_tg_allocs)
            return {"Text": text, "ExitCode": result.exit_code,
                    "Job": spec.job_to_nomad(job)}

        return ok(await run(dry_run))

    return [
        web.get("/", root),
        web.get("/ui", index),
        web.get("/ui/", index),
        web.get("/ui/static/{name}", static),
        web.post("/ui/plan", plan),
    ]
