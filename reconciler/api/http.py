"""Helpers every route module shares: JSON responses, body parsing with size and shape
checks, query parameters, running store calls off the event loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from reconciler.api.errors import ApiError

T = TypeVar("T")

MAX_BODY = 4 * 1024 * 1024


def ok(data: Any, *, status: int = 200, index: int | None = None) -> web.Response:
    resp = web.Response(status=status, text=json.dumps(data), content_type="application/json")
    if index is not None:
        resp.headers["X-Nomad-Index"] = str(index)
        resp.headers["X-Nomad-KnownLeader"] = "true"
        resp.headers["X-Nomad-LastContact"] = "0"
    return resp


async def body_json(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, f"request body is {request.content_length} bytes; the limit is {MAX_BODY}")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, f"request body over the limit of {MAX_BODY} bytes") from exc
    if not raw:
        raise ApiError(400, "request body is empty; expected JSON")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from exc


def namespace(request: web.Request) -> str:
    return request.query.get("namespace", "default") or "default"


def flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true", "yes")


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking store call in a thread so the event loop keeps serving."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def ns_time(ts: float) -> int:
    """Nomad reports times as Unix nanoseconds."""
    return int(ts * 1e9)
