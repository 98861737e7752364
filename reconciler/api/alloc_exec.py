"""`alloc exec` in Nomad's path, non-interactively:

    POST /v1/client/allocation/{alloc_id}/exec   body `{"Task", "Cmd": [...], "Timeout"}`

The command runs in the task's directory and environment on this agent's node, inside the
task's sandbox for an exec task. Apart from the allocation reads because it is the one
endpoint that runs something: its limits (time, output, sessions at once) and its threads
are its own.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web

from reconciler.api.acl import require_node_exec
from reconciler.api.allocations import current_alloc, pick_task
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.api.http import body_object, ok
from reconciler.model import sandbox_exec
from reconciler.model.alloc_dir import AllocDir
from reconciler.runtime.commands import run_command

EXEC_TIMEOUT = 60.0
MAX_EXEC_TIMEOUT = 600.0
MAX_EXEC_OUTPUT = 1024 * 1024  # bytes of stdout (and of stderr) an exec answer carries
MAX_EXEC_SESSIONS = 4  # exec commands running at once on one agent

routes = web.RouteTableDef()


def run_exec(data_dir: Path, alloc_id: str, task: str, cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run `cmd` in the task's directory with the task's environment (from the spec the
    executor was started with); for an exec task inside its sandbox (its namespaces,
    chroot and user: model/sandbox_exec.py), as Nomad does; bounded (review H5): at most
    MAX_EXEC_OUTPUT bytes of each stream kept (the rest is read and dropped), and the
    command's whole process group killed when it ends or times out, so nothing it started
    in the background stays behind."""
    adir = AllocDir(data_dir, alloc_id)
    spec = adir.read_launch_spec(task)
    if not spec:
        raise ApiError(404, f"task {task!r} of allocation {alloc_id} has not run on this node")
    try:  # an exec task's command runs in its sandbox (namespaces, chroot, user)
        inside = sandbox_exec.enter_argv(spec, adir.state, task, cmd)
    except LookupError as exc:
        raise ApiError(409, str(exc)) from None
    try:
        out = run_command(
            inside or cmd,
            cwd=spec.get("cwd") or str(adir.task_dir(task)),
            env=spec.get("env") or {},
            timeout=timeout,
            max_output=MAX_EXEC_OUTPUT,
        )
    except FileNotFoundError as exc:
        raise ApiError(400, f"command not found: {exc.filename}") from None
    except PermissionError as exc:
        raise ApiError(400, f"command not executable: {exc.filename}") from None
    if out.timed_out:
        raise ApiError(504, f"command did not finish in {timeout:g}s")
    return {
        "ExitCode": out.exit_code,
        "Stdout": out.stdout.decode(errors="replace"),
        "Stderr": out.stderr.decode(errors="replace"),
        "Truncated": out.truncated,
    }


class ExecSessions:
    """`alloc exec` runs in threads of its own, at most MAX_EXEC_SESSIONS at once per agent:
    commands that run long never take the threads every other endpoint reads with, and one
    past the limit is answered 429 at once rather than queued."""

    def __init__(self, limit: int = MAX_EXEC_SESSIONS) -> None:
        self.pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="alloc-exec")
        self.limit = limit
        self.active = 0

    async def run(self, *args: Any) -> dict[str, Any]:
        if self.active >= self.limit:
            raise ApiError(429, f"too many alloc exec sessions running on this agent (at most {self.limit})")
        self.active += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, run_exec, *args)
        finally:
            self.active -= 1


EXEC_SESSIONS = web.AppKey("exec_sessions", ExecSessions)


def install(app: web.Application) -> None:
    """Give the application its exec sessions, shut down with it."""
    app[EXEC_SESSIONS] = ExecSessions()

    async def shutdown(app: web.Application) -> None:
        app[EXEC_SESSIONS].pool.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(shutdown)


@routes.post("/v1/client/allocation/{alloc_id}/exec")
async def exec_(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    body = await body_object(request, optional=True)
    timeout = body.get("Timeout", EXEC_TIMEOUT) or EXEC_TIMEOUT
    # json.loads accepts Infinity and NaN: an unbounded exec would hold an API thread forever (review H5)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_EXEC_TIMEOUT
    ):
        raise ApiError(
            400,
            f"Timeout must be a number of seconds above 0 and at most {MAX_EXEC_TIMEOUT:g}",
            field="Timeout",
        )
    a, st = await current_alloc(request)
    cmd = body.get("Cmd") or body.get("Command")
    if not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd):
        raise ApiError(400, "Cmd must be a non-empty list of strings", field="Cmd")
    task = pick_task(st, str(body.get("Task", "") or ""))
    await require_node_exec(request, a, task)  # raw_exec: alloc-node-exec too (api/acl.py)
    sessions = request.app[EXEC_SESSIONS]
    return ok(await sessions.run(ctx.data_dir, a.id, task, cmd, float(timeout)), index=None)
