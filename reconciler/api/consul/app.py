"""The Consul face: a second aiohttp application on its own listener (`127.0.0.1:8500` in
dev mode, `--consul-port`), because Consul and Nomad share paths (`/v1/agent/self`,
`/v1/status/leader`) with different shapes. Errors are plain text, as Consul gives them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from reconciler.api.consul import agent_routes, catalog_routes, kv_routes
from reconciler.api.consul.context import CTX, ConsulContext
from reconciler.api.errors import OPERATION_ERRORS, ApiError, translate
from reconciler.api.http import MAX_BODY

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def consul_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return web.Response(status=exc.status, text=exc.message + "\n", headers=exc.headers)
    except OPERATION_ERRORS as exc:  # the same table as the Nomad face (etcd away: 503)
        err = translate(exc)
        return web.Response(status=err.status, text=err.message + "\n", headers=err.headers)
    except web.HTTPException:
        raise
    except Exception as exc:  # a 500 with the reason beats a dropped connection
        log.exception("consul api path=%s failed", request.path)
        return web.Response(status=500, text=f"{type(exc).__name__}: {exc}\n")


def make_consul_app(ctx: ConsulContext, *, middlewares: list[Any] | None = None) -> web.Application:
    app = web.Application(middlewares=[*(middlewares or []), consul_errors], client_max_size=MAX_BODY)
    app[CTX] = ctx
    for mod in (catalog_routes, agent_routes, kv_routes):
        app.add_routes(mod.routes)

    async def bind_loop(app: web.Application) -> None:
        ctx.watched.bind(asyncio.get_running_loop())

    app.on_startup.append(bind_loop)
    return app
