"""An audit line for every write to the API (review L3: no trail of who submitted what).

Each POST, PUT, DELETE or PATCH, answered or refused, logs one structured line on the
`reconciler.api.audit` logger: method, path, status, the caller's token accessor
(`anonymous` without a token, `-` with ACLs off) and the client address. Reads are not
logged (the UI polls them). Secrets never appear: only the accessor, which is public.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from reconciler.api.acl import CALLER

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WRITES = frozenset({"POST", "PUT", "DELETE", "PATCH"})


def _who(request: web.Request) -> str:
    caller = request.get(CALLER)
    if caller is None:
        return "-"
    return caller.token.accessor_id if caller.token is not None else "anonymous"


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in WRITES:
        return await handler(request)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        log.info(
            "audit method=%s path=%s status=%d accessor=%s remote=%s",
            request.method,
            request.path,
            status,
            _who(request),
            request.remote or "-",
        )
