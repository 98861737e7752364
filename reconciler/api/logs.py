"""Task logs of an allocation on this agent's node (Nomad's client `fs` endpoint), and the
snapshot of its data another node's agent takes over (`ephemeral_disk { migrate }`):

    GET /v1/client/fs/logs/{alloc_id}?task=&type=stdout|stderr&follow=&offset=&origin=start|end&plain=
    GET /v1/client/allocation/{alloc_id}/snapshot   a tar of alloc/data and each <task>/local

Without `plain`, a stream of JSON frames `{"File", "Offset", "Data"}` (Data base64); with
`plain=true`, the raw bytes. `follow=true` keeps streaming new output until the task is
dead or the client goes away. Logs are read from this agent's data dir (`ctx.data_dir`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from reconciler.api.allocations import current_alloc, pick_task
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.api.http import flag
from reconciler.api.reads import statuses
from reconciler.api.views import watched
from reconciler.api.watched import WatchedState
from reconciler.model.alloc_dir import AllocDir, LogChunk, log_files, read_logs
from reconciler.model.ids import AllocId
from reconciler.model.objects import TaskRunState

FOLLOW_POLL = 0.2
SNAPSHOT_CHUNK = 1 << 16

routes = web.RouteTableDef()


def _log_index(name: str) -> int:
    """N of `<task>.<type>.N`, -1 for anything else (no file yet)."""
    tail = name.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _read_after(logs: Path, task: str, log_type: str, pos_file: str, pos_off: int) -> LogChunk:
    """What was written after position (`pos_file`, `pos_off`), across rotations."""
    files = log_files(logs, task, log_type)
    names = [f.name for f in files]
    if pos_file in names:
        return read_logs(files[names.index(pos_file) :], origin="start", offset=pos_off)
    # rotated away (or nothing yet): go on with the files that came after it
    last = _log_index(pos_file)
    return read_logs([f for f in files if _log_index(f.name) > last], origin="start", offset=0)


def _task_dead(w: WatchedState, alloc_id: AllocId, task: str) -> bool:
    st = statuses(w).get(alloc_id)
    ts = st.task_states.get(task) if st else None
    return ts is not None and ts.state == TaskRunState.DEAD


@dataclass(frozen=True)
class _LogQuery:
    log_type: str
    origin: str
    offset: int
    follow: bool
    plain: bool


def _query(request: web.Request) -> _LogQuery:
    q = request.query
    log_type = q.get("type", "stdout")
    if log_type not in ("stdout", "stderr"):
        raise ApiError(400, f"invalid log type {log_type!r}: stdout or stderr", field="type")
    origin = q.get("origin", "start")
    if origin not in ("start", "end"):
        raise ApiError(400, f"invalid origin {origin!r}: start or end", field="origin")
    try:
        offset = int(q.get("offset", "0") or 0)
    except ValueError:
        raise ApiError(400, "offset must be an integer", field="offset") from None
    return _LogQuery(log_type, origin, offset, flag(request, "follow"), flag(request, "plain"))


Send = Callable[[LogChunk], Awaitable[None]]


def _sender(resp: web.StreamResponse, plain: bool) -> Send:
    """Writes a chunk as raw bytes (`plain`) or as one JSON frame."""

    async def send(chunk: LogChunk) -> None:
        if not chunk.data:
            return
        if plain:
            await resp.write(chunk.data)
        else:
            frame = {
                "File": f"alloc/logs/{chunk.file}",
                "Offset": chunk.offset,
                "Data": base64.b64encode(chunk.data).decode(),
            }
            await resp.write(json.dumps(frame).encode() + b"\n")

    return send


@routes.get("/v1/client/fs/logs/{alloc_id}")
async def logs(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    a, st = await current_alloc(request)
    lq = _query(request)
    adir = AllocDir(ctx.data_dir, a.id)
    task = pick_task(st, request.query.get("task", ""))
    files = log_files(adir.logs, task, lq.log_type)
    if not files and not lq.follow and not adir.root.exists():
        raise ApiError(404, f"no logs for allocation {a.id} on this node")
    resp = web.StreamResponse()
    resp.content_type = "text/plain" if lq.plain else "application/json"
    await resp.prepare(request)
    send = _sender(resp, lq.plain)
    chunk = read_logs(files, origin=lq.origin, offset=lq.offset)
    await send(chunk)
    try:
        if lq.follow:
            await _follow(send, watched(request), a.id, adir.logs, task, lq.log_type, chunk)
        await resp.write_eof()
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away: nothing more to do
    return resp


async def _follow(
    send: Send, w: WatchedState, alloc_id: AllocId, logs_dir: Path, task: str, log_type: str, last: LogChunk
) -> None:
    """Send what is written after `last` until the task is dead."""
    pos_file, pos_off = last.file, last.offset  # where the last chunk ended
    idle = 0
    while True:
        await asyncio.sleep(FOLLOW_POLL)
        c = _read_after(logs_dir, task, log_type, pos_file, pos_off)
        if c.data:
            idle = 0
            await send(c)
            pos_file, pos_off = c.file, c.offset
            continue
        idle += 1
        if idle % 5 == 0 and _task_dead(w, alloc_id, task):
            return


@routes.get("/v1/client/allocation/{alloc_id}/snapshot")
async def snapshot(request: web.Request) -> web.StreamResponse:
    """The allocation's data as a tar (Nomad's alloc snapshot, read by the node agent of a
    replacement with `ephemeral_disk { migrate = true }`): built into an anonymous temporary
    file off the event loop, then streamed. 404 when the allocation has no directory here."""
    ctx = request.app[CTX]
    a, _ = await current_alloc(request)
    adir = AllocDir(ctx.data_dir, a.id)
    if not adir.root.is_dir():
        raise ApiError(404, f"allocation {a.id} has no directory on this node")
    with tempfile.TemporaryFile() as tmp:
        await asyncio.to_thread(adir.write_snapshot, tmp)
        tmp.seek(0)
        resp = web.StreamResponse()
        resp.content_type = "application/x-tar"
        await resp.prepare(request)
        while chunk := await asyncio.to_thread(tmp.read, SNAPSHOT_CHUNK):
            await resp.write(chunk)
        await resp.write_eof()
    return resp
