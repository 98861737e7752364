"""Nomad's client file system API over an allocation directory on this agent's node:

    GET /v1/client/fs/ls/{alloc_id}?path=/          [AllocFileInfo]
    GET /v1/client/fs/stat/{alloc_id}?path=         AllocFileInfo (with ContentType)
    GET /v1/client/fs/cat/{alloc_id}?path=          the file's bytes
    GET /v1/client/fs/readat/{alloc_id}?path=&offset=&limit=
    GET /v1/client/fs/stream/{alloc_id}?path=&offset=&origin=start|end&follow=
                                                    JSON frames {"File", "Offset", "Data"}

Like the logs API (`api/logs.py`) the files are read from this agent's data dir, or the
request goes to the agent of the allocation's node (`api/forward.py`). Every path
goes through `model.alloc_fs.resolve` (never outside the allocation directory, never its
`.state/` or a task's `secrets/`): a path that would leave it is refused with 400.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

from aiohttp import web

from reconciler.api.allocations import current_alloc
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.api.forward import on_alloc_node
from reconciler.api.http import flag, ok
from reconciler.api.reads import statuses
from reconciler.api.views import watched
from reconciler.model.alloc_dir import AllocDir, PathEscapeError
from reconciler.model.alloc_fs import MAX_READ, file_info, file_size, list_dir, read_at, resolve
from reconciler.model.ids import AllocId
from reconciler.model.objects import TaskRunState

STREAM_POLL = 0.2
HEARTBEAT_POLLS = 25  # an empty frame every ~5 s keeps proxies from closing an idle stream

routes = web.RouteTableDef()


async def _target(request: web.Request) -> tuple[AllocId, Path, Path]:
    """(allocation id, allocation root, the resolved path the query names)."""
    a, _ = await current_alloc(request)
    root = AllocDir(request.app[CTX].data_dir, a.id).root
    if not root.is_dir():
        raise ApiError(404, f"allocation {a.id} has no directory on this node")
    path = request.query.get("path", "/")
    try:
        target = resolve(root, path)
    except PathEscapeError as exc:
        raise ApiError(400, str(exc), field="path") from None
    if not target.exists():
        raise ApiError(404, f"file {path!r} not found in allocation {a.id}")
    return a.id, root, target


def _int(request: web.Request, name: str, default: int) -> int:
    try:
        return int(request.query.get(name, "") or default)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer", field=name) from None


def _regular(target: Path, path: str) -> None:
    if target.is_dir():
        raise ApiError(400, f"{path!r} is a directory", field="path")


@routes.get("/v1/client/fs/ls/{alloc_id}")
@on_alloc_node
async def ls(request: web.Request) -> web.Response:
    _, root, target = await _target(request)
    if not target.is_dir():
        raise ApiError(400, f"{request.query.get('path', '/')!r} is not a directory", field="path")
    return ok(await asyncio.to_thread(list_dir, root, target), index=None)


@routes.get("/v1/client/fs/stat/{alloc_id}")
@on_alloc_node
async def stat_file(request: web.Request) -> web.Response:
    _, _, target = await _target(request)
    return ok(file_info(target, with_type=True), index=None)


async def _raw(request: web.Request, offset: int, limit: int) -> web.Response:
    _, _, target = await _target(request)
    _regular(target, request.query.get("path", ""))
    try:
        data = await asyncio.to_thread(read_at, target, offset, limit)
    except OSError as exc:  # a symbolic link or special file swapped in
        raise ApiError(400, f"cannot read {request.query.get('path', '')!r}: {exc.strerror}") from None
    return web.Response(body=data, content_type="text/plain")


@routes.get("/v1/client/fs/cat/{alloc_id}")
@on_alloc_node
async def cat(request: web.Request) -> web.Response:
    return await _raw(request, 0, -1)


@routes.get("/v1/client/fs/readat/{alloc_id}")
@on_alloc_node
async def readat(request: web.Request) -> web.Response:
    offset, limit = _int(request, "offset", 0), _int(request, "limit", -1)
    if offset < 0:
        raise ApiError(400, "offset must not be negative", field="offset")
    return await _raw(request, offset, limit)


def _alloc_dead(request: web.Request, alloc_id: AllocId) -> bool:
    st = statuses(watched(request)).get(alloc_id)
    if st is None:
        return True
    return bool(st.task_states) and all(t.state == TaskRunState.DEAD for t in st.task_states.values())


@routes.get("/v1/client/fs/stream/{alloc_id}")
@on_alloc_node
async def stream(request: web.Request) -> web.StreamResponse:
    """Nomad's framed stream of a file from `offset` (origin `start`) or the last `offset`
    bytes (origin `end`); new bytes keep coming until the client goes away or, with
    `follow=false`, once the end is reached. It also ends when the allocation's tasks are
    all dead and nothing more was written."""
    alloc_id, _, target = await _target(request)
    path = request.query.get("path", "")
    _regular(target, path)
    origin = request.query.get("origin", "start")
    if origin not in ("start", "end"):
        raise ApiError(400, f"invalid origin {origin!r}: start or end", field="origin")
    offset = _int(request, "offset", 0)
    pos = max(0, file_size(target) - offset) if origin == "end" else max(0, offset)
    follow = flag(request, "follow") if "follow" in request.query else True
    resp = web.StreamResponse()
    resp.content_type = "application/json"
    await resp.prepare(request)
    try:
        await _stream_from(request, resp, alloc_id, target, path, pos, follow)
        await resp.write_eof()
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away
    return resp


async def _stream_from(
    request: web.Request,
    resp: web.StreamResponse,
    alloc_id: AllocId,
    target: Path,
    path: str,
    pos: int,
    follow: bool,
) -> None:
    idle = 0
    while True:
        try:
            data = await asyncio.to_thread(read_at, target, pos, MAX_READ)
        except OSError:
            return  # removed or swapped for something else: the stream ends
        if data:
            frame = {
                "File": path.lstrip("/"),
                "Offset": pos + len(data),
                "Data": base64.b64encode(data).decode(),
            }
            await resp.write(json.dumps(frame).encode() + b"\n")
            pos, idle = pos + len(data), 0
            continue
        if not follow or (idle % 5 == 4 and _alloc_dead(request, alloc_id)):
            return
        idle += 1
        if idle % HEARTBEAT_POLLS == 0:
            await resp.write(b"{}\n")
        await asyncio.sleep(STREAM_POLL)
