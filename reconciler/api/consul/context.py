"""What the Consul face's handlers share, and the responses they all give.

Every answer carries Consul's headers: `X-Consul-Index` (an etcd revision, so it only
grows), `X-Consul-KnownLeader` and `X-Consul-LastContact`. A blocking read waits on the
watched caches (`reconciler.api.blocking`) before it is answered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from reconciler.api.blocking import parse_blocking, view_key
from reconciler.api.errors import ApiError
from reconciler.api.watched import WatchedState
from reconciler.store import Store


@dataclass
class ConsulContext:
    store: Store
    watched: WatchedState
    node_name: str
    datacenter: str = "dc1"
    advertise: str = "127.0.0.1:8300"  # what /v1/status/leader names (Consul's server RPC address)
    version: str = ""


CTX: web.AppKey[ConsulContext] = web.AppKey("consul", ConsulContext)


def context(request: web.Request) -> ConsulContext:
    return request.app[CTX]


def consul_response(data: Any, index: int, *, status: int = 200) -> web.Response:
    resp = web.Response(status=status, text=json.dumps(data), content_type="application/json")
    resp.headers["X-Consul-Index"] = str(max(index, 1))
    resp.headers["X-Consul-KnownLeader"] = "true"
    resp.headers["X-Consul-LastContact"] = "0"
    return resp


def not_found(index: int) -> web.Response:
    """Consul answers a missing key or entity with an empty 404 (and still an index)."""
    resp = web.Response(status=404, text="")
    resp.headers["X-Consul-Index"] = str(max(index, 1))
    resp.headers["X-Consul-KnownLeader"] = "true"
    resp.headers["X-Consul-LastContact"] = "0"
    return resp


def check_datacenter(request: web.Request) -> None:
    dc = request.query.get("dc")
    if dc and dc != context(request).datacenter:
        raise ApiError(500, f"No path to datacenter {dc!r}")


async def block(request: web.Request, index: Callable[[], int]) -> int:
    """Hold a blocking query until `index()` passes the client's `?index=` or `?wait=` ends;
    returns the index to answer with."""
    check_datacenter(request)
    q = parse_blocking(request.query)
    if q is None or q.index == 0:
        return index()
    parts = await context(request).watched.changes.wait_past(
        ("consul", view_key(request)), lambda: (index(),), q.index, q.wait
    )
    return parts[0]


def query_flag(request: web.Request, name: str) -> bool:
    """Consul's boolean query parameters: present means true (`?passing`, `?recurse`)."""
    if name not in request.query:
        return False
    return request.query.get(name, "").lower() not in ("0", "false", "no")
