"""Client endpoints answered by the agent that holds the allocation's directory: any agent
may be asked, and one that does not hold it forwards the request to the agent of the
allocation's node (its `HTTPAddr`), as Nomad's servers forward client requests to the
client that runs the allocation.

Rule: the directory is here -> answer locally; else, when the allocation's node registered
an HTTP address, stream that agent's answer back (status, type and body as they come, so
a followed stream stays a stream). A forwarded request carries `X-Reconciler-Forwarded`
and is never forwarded again, so two agents cannot bounce a request between them; the
caller's token goes along (the other agent checks it too).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

from reconciler.api.acl import TOKEN_HEADERS
from reconciler.api.allocations import current_alloc
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.api.views import watched
from reconciler.model.alloc_dir import AllocDir
from reconciler.model.objects import Allocation

FORWARDED = "X-Reconciler-Forwarded"
CONNECT_TIMEOUT = 10.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def node_address(request: web.Request, a: Allocation) -> str:
    """The HTTP address to forward to, or "" to answer here."""
    if request.headers.get(FORWARDED) or AllocDir(request.app[CTX].data_dir, a.id).root.is_dir():
        return ""
    w = watched(request)
    node = w.nodes.get(w.store.keys.node(a.node_id))
    return node.http_addr if node is not None else ""


async def _proxy(request: web.Request, addr: str, a: Allocation) -> web.StreamResponse:
    headers = {h: request.headers[h] for h in (*TOKEN_HEADERS, "Authorization") if h in request.headers}
    headers[FORWARDED] = "1"
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=None)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(request.method, f"http://{addr}{request.rel_url}", headers=headers) as up,
        ):
            resp = web.StreamResponse(status=up.status)
            resp.content_type = up.content_type
            for name in ("X-Nomad-Index",):
                if name in up.headers:
                    resp.headers[name] = up.headers[name]
            await resp.prepare(request)
            try:
                async for chunk in up.content.iter_any():
                    await resp.write(chunk)
                await resp.write_eof()
            except (aiohttp.ClientError, ConnectionError):
                pass  # one side went away in the middle of a stream: nothing more to send
            return resp
    except aiohttp.ClientError as exc:
        raise ApiError(502, f"the agent of node {a.node_id} at {addr} did not answer: {exc}") from None


def on_alloc_node(handler: Handler) -> Handler:
    """Serve `handler` here, or forward the request to the allocation's node agent."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        a, _ = await current_alloc(request)
        addr = node_address(request, a)
        if not addr:
            return await handler(request)
        return await _proxy(request, addr, a)

    return wrapped
