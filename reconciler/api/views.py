"""How every read endpoint of the Nomad API answers: one way, `answer(request, index, render)`.

- **Blocking** (`?index=N&wait=`, `reconciler.api.blocking`): held until the maximum of
  `index()` (the revisions the answer is made of, `reconciler.api.reads`) passes N or the
  wait ends; a read that does not block first waits for this agent's own writes to reach
  the caches (`WatchedState.fence`).
- **Rendered once per state**: answers are kept by (path, query, revisions), so a thousand
  clients woken by one change cost one rendering, done off the event loop.
- **Lists** (`Listing`): `prefix`, `filter` (`reconciler.api.filter`), `per_page` and
  `next_token` (the `X-Nomad-NextToken` header names the first row of the next page).
- **Headers** (`nomad_headers`): every `/v1/` response carries a numeric `X-Nomad-Index`
  (what the answer reflects, else the caches' revision), `X-Nomad-KnownLeader` and
  `X-Nomad-LastContact`, which Nomad's Go client requires.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from reconciler.api.blocking import ViewKey, parse_blocking, view_key
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.api.filter import FilterError, Predicate, compile_filter
from reconciler.api.watched import WatchedState

Index = Callable[[], tuple[int, ...]]
Row = dict[str, Any]
Rendered = tuple[bytes, str]  # body, next token

MAX_PER_PAGE = 10_000
RENDER_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Listing:
    """How a list endpoint's rows are matched and paged: `prefix` matches `prefix_field`
    (None: the endpoint has no `prefix`), and rows are ordered by `token(row)`, which a
    client passes back as `next_token`."""

    token: Callable[[Row], str]
    descending: bool = False
    prefix_field: str | None = "ID"


BY_ID = Listing(token=lambda r: str(r["ID"]))
NEWEST_FIRST = Listing(token=lambda r: f"{r['CreateTime']:020d}.{r['ID']}", descending=True)


@dataclass(frozen=True)
class ListOptions:
    prefix: str = ""
    per_page: int = 0
    next_token: str = ""
    predicate: Predicate | None = None


@functools.lru_cache(maxsize=256)
def compiled_filter(expr: str) -> Predicate:
    """`compile_filter`, once per expression: a thousand clients blocked with one `filter=`
    (a UI page each) parse it once. Predicates are pure, so they can be shared."""
    return compile_filter(expr)


def list_options(request: web.Request) -> ListOptions:
    """The list query parameters; 400 for a bad `per_page` or `filter`."""
    q = request.query
    raw = q.get("per_page", "") or "0"
    try:
        per_page = int(raw)
    except ValueError:
        per_page = -1
    if not 0 <= per_page <= MAX_PER_PAGE:
        raise ApiError(
            400, f"per_page must be an integer from 0 to {MAX_PER_PAGE}, got {raw!r}", field="per_page"
        )
    predicate = None
    if q.get("filter"):
        try:
            predicate = compiled_filter(q["filter"])
        except FilterError as exc:
            raise ApiError(400, f"failed to read filter expression: {exc}", field="filter") from None
    return ListOptions(q.get("prefix", ""), per_page, q.get("next_token", ""), predicate)


def page(rows: list[Row], listing: Listing, opts: ListOptions) -> tuple[list[Row], str]:
    """The rows `opts` selects, in `listing` order, and the next page's token ("" at the end)."""
    if opts.prefix and listing.prefix_field:
        rows = [r for r in rows if str(r.get(listing.prefix_field, "")).startswith(opts.prefix)]
    if opts.predicate is not None:
        rows = [r for r in rows if opts.predicate(r)]
    keyed = sorted(((listing.token(r), r) for r in rows), key=lambda kr: kr[0], reverse=listing.descending)
    if opts.next_token:
        t = opts.next_token
        keyed = [kr for kr in keyed if (kr[0] <= t if listing.descending else kr[0] >= t)]
    if opts.per_page and len(keyed) > opts.per_page:
        return [r for _, r in keyed[: opts.per_page]], keyed[opts.per_page][0]
    return [r for _, r in keyed], ""


class Renders:
    """Rendered answers by (path, query, revisions), least recently used first out past
    `max_bytes`; concurrent requests for one key share one rendering."""

    def __init__(self, max_bytes: int = RENDER_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._done: OrderedDict[Any, Rendered] = OrderedDict()
        self._size = 0
        self._pending: dict[Any, asyncio.Future[Rendered]] = {}

    async def get(self, key: Any, make: Callable[[], Rendered]) -> Rendered:
        hit = self._done.get(key)
        if hit is not None:
            self._done.move_to_end(key)
            return hit
        fut = self.start(key, make)
        assert fut is not None
        return await asyncio.shield(fut)

    def start(self, key: Any, make: Callable[[], Rendered]) -> asyncio.Future[Rendered] | None:
        """Begin rendering `key` unless it is kept or under way; its rendering (None when
        kept). Blocked queries start theirs as soon as a change passes their index."""
        if key in self._done:
            return None
        fut = self._pending.get(key)
        if fut is None:
            fut = asyncio.ensure_future(self._render(key, make))
            fut.add_done_callback(_retrieved)  # a failed one is rendered again by each caller
            self._pending[key] = fut
        return fut

    async def _render(self, key: Any, make: Callable[[], Rendered]) -> Rendered:
        try:
            out = await asyncio.to_thread(make)
        finally:
            self._pending.pop(key, None)
        self._done[key] = out
        self._size += len(out[0])
        while self._size > self.max_bytes and self._done:
            _, (body, _) = self._done.popitem(last=False)
            self._size -= len(body)
        return out


def _retrieved(fut: asyncio.Future[Rendered]) -> None:
    if not fut.cancelled():
        fut.exception()


RENDERS = web.AppKey("renders", Renders)


def watched(request: web.Request) -> WatchedState:
    w = request.app[CTX].watched
    assert w is not None, "make_app starts a WatchedState when the context has none"
    return w


async def hold(
    request: web.Request,
    index: Index,
    on_pass: Callable[[tuple[int, ...]], Any] | None = None,
    key: ViewKey | None = None,
) -> tuple[int, ...]:
    """Block as the request asks (or fence, when it does not block); the revisions to answer
    at. Blocked queries of one view (`key`, default the request's) wait as one group."""
    w = watched(request)
    q = parse_blocking(request.query)
    if q is None or q.index == 0:
        await w.fence()
        return index()
    view = ("nomad", key if key is not None else view_key(request))
    return await w.changes.wait_past(view, index, q.index, q.wait, on_pass)


async def answer(
    request: web.Request, index: Index, render: Callable[[], Any], listing: Listing | None = None
) -> web.Response:
    """The JSON answer of a GET endpoint: blocked, rendered once per state, paged. (Only GET:
    the answer is kept by path and query, so it must not depend on a body.)"""
    opts = list_options(request) if listing is not None else None
    key = view_key(request)
    _, path, query = key
    renders = request.app[RENDERS]

    def make() -> Rendered:
        data = render()
        token = ""
        if listing is not None and opts is not None:
            data, token = page(data, listing, opts)
        return json.dumps(data).encode(), token

    parts = await hold(request, index, lambda parts: renders.start((path, query, parts), make), key)
    body, token = await renders.get((path, query, parts), make)
    resp = web.Response(body=body, content_type="application/json")
    resp.headers["X-Nomad-Index"] = str(max(*parts, 1))
    if token:
        resp.headers["X-Nomad-NextToken"] = token
    return resp


async def nomad_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: the headers Nomad's clients require on every `/v1/` answer."""
    w = request.app[CTX].watched
    if w is None or not request.path.startswith("/v1/"):
        return
    if not response.headers.get("X-Nomad-Index", "").isdigit():
        response.headers["X-Nomad-Index"] = str(max(w.progress(), 1))
    known, last = w.leader()
    response.headers["X-Nomad-KnownLeader"] = "true" if known else "false"
    response.headers["X-Nomad-LastContact"] = str(last)


def install(app: web.Application) -> None:
    """Wire the read side into the application: the render cache, the headers, and a
    WatchedState of its own when the context brings none (started with the application)."""
    ctx = app[CTX]
    app[RENDERS] = Renders()
    app.on_response_prepare.append(nomad_headers)
    owned = ctx.watched is None

    async def start(app: web.Application) -> None:
        if ctx.watched is None:
            ctx.watched = WatchedState(ctx.store)
            await asyncio.to_thread(ctx.watched.start)
        ctx.watched.bind(asyncio.get_running_loop())

    async def stop(app: web.Application) -> None:
        if owned and ctx.watched is not None:
            await asyncio.to_thread(ctx.watched.stop)
            ctx.watched = None

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
