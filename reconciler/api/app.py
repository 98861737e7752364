"""Builds the aiohttp application from the route modules and serves it.

Route modules are found by name; one that is not installed in this build is skipped, so the
API grows as controllers land without this file changing shape.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from reconciler.api.context import ApiContext
from reconciler.api.errors import ApiError
from reconciler.api.gate import GateSettings, add_cors, gate_middleware
from reconciler.api.http import MAX_BODY

log = logging.getLogger(__name__)

ROUTE_MODULES = [
    "reconciler.api.job_routes",
    "reconciler.api.agent_routes",
    "reconciler.api.sched_routes",
    "reconciler.api.client_routes",
    "reconciler.api.deployment_routes",
    "reconciler.api.service_routes",
    "reconciler.api.ui_routes",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status >= 400:
            return web.Response(
                status=exc.status, text=json.dumps({"error": exc.reason}), content_type="application/json"
            )
        raise
    except Exception as exc:  # noqa: BLE001 - a 500 with the reason beats a dropped connection
        log.exception("api path=%s failed", request.path)
        return web.Response(
            status=500, text=json.dumps({"error": f"{type(exc).__name__}: {exc}"}), content_type="application/json"
        )


def make_app(ctx: ApiContext, gate: GateSettings | None = None) -> web.Application:
    gate = gate or GateSettings()
    app = web.Application(middlewares=[gate_middleware(gate), errors_middleware], client_max_size=MAX_BODY)
    app.on_response_prepare.append(add_cors)
    for name in ROUTE_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        app.add_routes(mod.routes(ctx))
    return app
