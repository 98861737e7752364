"""The request helpers every resource module uses, and only these: JSON responses with
their index, the request's namespace and identifiers (validated), body parsing with the
size check, and running blocking store calls off the event loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from aiohttp import web

from reconciler.api.errors import ApiError, not_found
from reconciler.model.ids import is_valid_job_id, is_valid_name

T = TypeVar("T")

MAX_BODY = 4 * 1024 * 1024


def ok(data: Any, *, index: int | None, status: int = 200) -> web.Response:
    """A JSON response. `index` is the store revision the answer reflects (None where there
    is none: static answers, parsing); it becomes Nomad's `X-Nomad-Index` (`views.nomad_headers`
    gives the caches' revision to an answer without one, and the leader headers to all)."""
    resp = web.Response(status=status, text=json.dumps(data), content_type="application/json")
    if index is not None:
        resp.headers["X-Nomad-Index"] = str(index)
    return resp


async def body_json(request: web.Request) -> Any:
    """The request body as JSON; 413 over MAX_BODY, 400 if empty or not JSON."""
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
    except RecursionError:  # nested deeper than the parser goes: not a job (review L2)
        raise ApiError(400, "request body is not valid JSON: nested too deeply") from None


async def body_object(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; with `optional`, no body at all is `{}`."""
    if optional and (request.content_length == 0 or not request.can_read_body):
        return {}
    body = await body_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


def count_field(body: dict[str, Any], name: str) -> int:
    """A body's field that must be a non-negative integer (a count, a version), or a 400
    naming it (a JSON boolean is not a number here, though Python's bool is an int)."""
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ApiError(400, f"{name} must be a non-negative integer", field=name)
    return value


def namespace(request: web.Request, *, wildcard: bool = False) -> str:
    """The `namespace` query parameter (default "default"); "*" only where `wildcard`."""
    ns = request.query.get("namespace", "default") or "default"
    if wildcard and ns == "*":
        return ns
    if not is_valid_name(ns):
        raise ApiError(400, f"invalid namespace {ns!r}", field="namespace")
    return ns


def ident(request: web.Request, name: str, *, field: str = "") -> str:
    """A path parameter that names an object; 400 unless it can be a key segment."""
    value = request.match_info[name]
    if not is_valid_name(value):
        raise ApiError(400, f"invalid identifier {value!r}", field=field or name)
    return value


def job_ident(request: web.Request) -> str:
    """The `{job_id}` path parameter: a name, or a launched child's `<parent>/periodic-<t>`
    (sent as `web%2Fperiodic-1700000000`, as Nomad's clients escape it); 400 otherwise."""
    value = request.match_info["job_id"]
    if not is_valid_job_id(value):
        raise ApiError(400, f"invalid identifier {value!r}", field="JobID")
    return value


def flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true", "yes")


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking store call in a thread so the event loop keeps serving."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def ns_time(ts: float) -> int:
    """Nomad reports times as Unix nanoseconds."""
    return int(ts * 1e9)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


H = TypeVar("H", bound=_HasId)


def by_id_or_prefix(items: Sequence[H], ident: str, what: str) -> H:
    """Exact id, or a unique prefix (users type the 8 characters the CLI shows)."""
    exact = [i for i in items if i.id == ident]
    if exact:
        return exact[0]
    pref = [i for i in items if i.id.startswith(ident)]
    if len(pref) == 1:
        return pref[0]
    if len(pref) > 1:
        raise ApiError(400, f"{what} prefix {ident!r} matches {len(pref)} {what}s; give more characters")
    raise not_found(what, ident)
