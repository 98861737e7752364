"""Client-side allocation endpoints of Nomad that act on the tasks' processes:

    GET  /v1/client/allocation/{alloc_id}/stats    AllocResourceUsage (model/alloc_stats.py)
    POST /v1/client/allocation/{alloc_id}/signal   {"Signal": "SIGHUP", "Task": "web"}

Stats are read on this agent's node from the allocation's `.state/` and the tasks' cgroups
and /proc (like the logs API, from `ctx.data_dir`). A signal is a request the allocation's
node agent consumes (`ops.allocs.signal_alloc`), as a restart is.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from reconciler.api.allocations import current_alloc
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.api.forward import on_alloc_node
from reconciler.api.http import body_object, ok, run
from reconciler.model.alloc_dir import AllocDir
from reconciler.model.alloc_stats import alloc_usage
from reconciler.model.objects import TaskRunState
from reconciler.ops.allocs import signal_alloc, signal_name

routes = web.RouteTableDef()


@routes.get("/v1/client/allocation/{alloc_id}/stats")
@on_alloc_node
async def stats(request: web.Request) -> web.Response:
    a, st = await current_alloc(request)
    adir = AllocDir(request.app[CTX].data_dir, a.id)
    if not adir.root.is_dir():
        raise ApiError(404, f"allocation {a.id} has no directory on this node")
    tasks = sorted(st.task_states) if st else []
    return ok(await asyncio.to_thread(alloc_usage, adir, tasks), index=None)


@routes.post("/v1/client/allocation/{alloc_id}/signal")
@routes.put("/v1/client/allocation/{alloc_id}/signal")
async def signal(request: web.Request) -> web.Response:
    """As Nomad: `Signal` defaults to SIGKILL, an unknown one is a 400; `Task` (optional)
    must be one of the allocation's tasks, and a task that is not running cannot be sent
    one (400, "Task not running")."""
    a, st = await current_alloc(request)
    body = await body_object(request, optional=True)
    raw = str(body.get("Signal", "") or "SIGKILL")
    try:
        sig = signal_name(raw)
    except ValueError as exc:
        raise ApiError(400, str(exc), field="Signal") from None
    task = str(body.get("Task", "") or "")
    states = st.task_states if st else {}
    if task and task not in states:
        raise ApiError(404, f"task {task!r} not found in allocation {a.id}")
    running = [n for n, ts in states.items() if ts.state == TaskRunState.RUNNING and (not task or n == task)]
    if not running:
        raise ApiError(400, "Task not running" if task else f"no task of allocation {a.id} is running")
    rev = await run(signal_alloc, request.app[CTX].store, a.id, sig, task)
    return ok({"Index": rev}, index=rev)
