"""Builds the aiohttp application from the resource modules and serves it.

Every resource module exposes a module-level `routes` (`web.RouteTableDef`); handlers find
the `ApiContext` in `request.app[CTX]`. The error middleware renders `ApiError` and the
operations' refusals (`errors.translate`) as JSON, and any other failure as a 500 with its
reason.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from reconciler.api import (
    acl_routes,
    agent,
    alloc_client,
    alloc_exec,
    allocations,
    cluster,
    deployments,
    evaluations,
    fs,
    jobs,
    launches,
    logs,
    namespaces,
    node_pools,
    nodes,
    operator,
    services,
    system,
    ui,
    unserved,
    views,
)
from reconciler.api import events as event_stream
from reconciler.api import metrics as metrics_api
from reconciler.api.acl import ACL_CACHE, AclCache, acl_middleware
from reconciler.api.acl_table import NOMAD_ROUTES
from reconciler.api.audit import audit_middleware
from reconciler.api.context import CTX, ApiContext
from reconciler.api.errors import OPERATION_ERRORS, ApiError, translate
from reconciler.api.gate import GateSettings, add_cors, gate_middleware
from reconciler.api.http import MAX_BODY

log = logging.getLogger(__name__)

RESOURCES = [
    jobs,
    launches,
    allocations,
    alloc_client,
    alloc_exec,
    logs,
    fs,
    deployments,
    evaluations,
    node_pools,  # before nodes: /v1/node/pools is not a node's ID
    nodes,
    services,
    agent,
    acl_routes,
    cluster,
    namespaces,
    operator,
    system,
    ui,
    unserved,
]
OBSERVING = [event_stream, metrics_api]  # the event stream and the metrics (docs/events.md, docs/metrics.md)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except OPERATION_ERRORS as exc:
        return translate(exc).response()
    except web.HTTPException as exc:
        if exc.status >= 400:
            return ApiError(exc.status, exc.reason).response()
        raise
    except Exception as exc:  # a 500 with the reason beats a dropped connection
        log.exception("api path=%s failed", request.path)
        return ApiError(500, f"{type(exc).__name__}: {exc}").response()


def make_app(
    ctx: ApiContext, gate: GateSettings | None = None, acl: AclCache | None = None
) -> web.Application:
    """`acl`: the token cache when ACLs are on (every route is then checked against
    `acl_table.NOMAD_ROUTES`); None serves every caller, as an agent without `--acl`."""
    gate = gate or GateSettings()
    # the audit line sees the final status (after errors) and the caller (set by acl)
    middlewares = [metrics_api.middleware, gate_middleware(gate), audit_middleware, errors_middleware]
    if acl is not None:
        middlewares.append(acl_middleware(acl, NOMAD_ROUTES))
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app.on_response_prepare.append(add_cors)
    app[CTX] = ctx
    if acl is not None:
        app[ACL_CACHE] = acl
    views.install(app)
    alloc_exec.install(app)  # alloc exec's own bounded threads
    for resource in [*RESOURCES, *OBSERVING]:
        app.add_routes(resource.routes)
    return app
