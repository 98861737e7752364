"""Client (node) endpoints: task logs, allocation restart/stop/exec, and an allocation's
observed status, in Nomad's paths and shapes.

- GET  /v1/client/fs/logs/{alloc}?task=&type=stdout|stderr&follow=&offset=&origin=start|end&plain=
  Nomad's framing: without `plain`, a stream of JSON frames `{"File", "Offset", "Data"}`
  (Data base64); with `plain=true`, the raw bytes. `follow=true` keeps streaming new output
  until the task is dead or the client goes away.
- POST /v1/client/allocation/{alloc}/restart   body `{"TaskName": ""}` (optional)
- POST /v1/client/allocation/{alloc}/exec      body `{"Task", "Cmd": [...], "Timeout"}`: runs
  a command in the task's directory and environment on this agent's node; non-interactive.
- GET  /v1/client/allocation/{alloc}/status    the allocation with its TaskStates
- POST /v1/allocation/{alloc}/stop             sets desired status stop (compare-revision
  transaction) and creates an evaluation so the scheduler can replace it.

Logs and exec read this agent's data dir (`ctx.data_dir`): they serve allocations of the
local node. Allocation ids may be given as a unique prefix, as in Nomad.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from reconciler.api.context import ApiContext
from reconciler.api.errors import ApiError
from reconciler.model.alloc_dir import AllocDir, log_files, read_logs
from reconciler.model.alloc_status import client_status
from reconciler.model.evals import new_eval
from reconciler.model.ids import is_valid_name, new_id
from reconciler.model.objects import (
    Allocation,
    AllocRestartRequest,
    AllocStatus,
    DesiredStatus,
    TaskRunState,
    TaskState,
)
from reconciler.store import Store, Txn

RESTARTS_KIND = "alloc_restarts"
FOLLOW_POLL = 0.2
EXEC_TIMEOUT = 60.0
MAX_EXEC_TIMEOUT = 600.0


def _ok(data: Any) -> web.Response:
    return web.Response(text=json.dumps(data), content_type="application/json")


def _ns(ts: float) -> int:
    return int(ts * 1e9)


def resolve_alloc(store: Store, ident: str) -> Allocation:
    """A full allocation id or a unique prefix of one."""
    if not ident or not all(c.isalnum() or c == "-" for c in ident):
        raise ApiError(400, f"invalid allocation id {ident!r}")
    if is_valid_name(ident):
        got = store.get(store.keys.alloc(ident), Allocation)
        if got is not None:
            return got.value
    listed, _ = store.list(store.keys.allocs, Allocation)
    items = [v for v in listed if v.value.id.startswith(ident)]
    if not items:
        raise ApiError(404, f"allocation not found: {ident}")
    if len(items) > 1:
        raise ApiError(400, f"allocation id prefix {ident!r} matches {len(items)} allocations; give more characters")
    return items[0].value


def task_state_json(ts: TaskState) -> dict[str, Any]:
    return {
        "State": ts.state, "Failed": ts.failed, "Restarts": ts.restarts,
        "StartedAt": _iso(ts.started_at), "FinishedAt": _iso(ts.finished_at), "PID": ts.pid,
        "LastRestart": _iso(max((e.time for e in ts.events if e.type == "Restarting"), default=0.0)),
        "Events": [
            {
                "Type": e.type, "Time": _ns(e.time), "Message": e.message, "DisplayMessage": e.message,
                "ExitCode": e.exit_code or 0, "Signal": e.signal or 0, "Details": e.details,
                "FailsTask": e.details.get("fails_task") == "true",
            }
            for e in ts.events
        ],
    }


def _iso(ts: float) -> str | None:
    if not ts:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1e6):06d}Z"


def alloc_json(a: Allocation, st: AllocStatus | None) -> dict[str, Any]:
    return {
        "ID": a.id, "Namespace": a.namespace, "EvalID": a.eval_id, "Name": a.name, "NodeID": a.node_id,
        "NodeName": a.node_name, "JobID": a.job_id, "JobVersion": a.job_version, "TaskGroup": a.task_group,
        "DesiredStatus": a.desired_status, "DesiredDescription": a.desired_description,
        # the scheduler marks an allocation "lost" on the Allocation itself once its node is
        # down (its agent cannot report any more); otherwise the agent's status is the truth
        "ClientStatus": client_status(a, {a.id: st} if st else {}),
        "ClientDescription": st.client_description if st else "",
        "TaskStates": {n: task_state_json(ts) for n, ts in (st.task_states if st else {}).items()},
        "CreateTime": _ns(a.create_time), "ModifyTime": _ns(max(a.modify_time, st.modify_time if st else 0.0)),
        "DeploymentID": a.deployment_id,
        "AllocatedResources": {"Shared": {"Ports": [{"Label": p.label, "Value": p.value, "To": p.to, "HostIP": p.host_ip} for p in a.ports]}},
    }


def _status(store: Store, alloc_id: str) -> AllocStatus | None:
    got = store.get(store.keys.alloc_status(alloc_id), AllocStatus)
    return got.value if got else None


def _pick_task(adir: AllocDir, st: AllocStatus | None, task: str) -> str:
    if task:
        if not is_valid_name(task):
            raise ApiError(400, f"invalid task name {task!r}")
        return task
    names = sorted(st.task_states) if st else []
    if len(names) == 1:
        return names[0]
    raise ApiError(400, "must provide task name" + (f" (one of: {', '.join(names)})" if names else ""))


def _log_index(name: str) -> int:
    """N of `<task>.<type>.N`, -1 for anything else (no file yet)."""
    tail = name.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def stop_alloc(store: Store, alloc_id: str) -> str:
    """Mark an allocation to stop and ask the scheduler to look at its job. Returns the eval id."""
    for _ in range(10):
        got = store.get(store.keys.alloc(alloc_id), Allocation)
        if got is None:
            raise ApiError(404, f"allocation not found: {alloc_id}")
        a = got.value
        now = time.time()
        a.desired_status = DesiredStatus.STOP
        a.desired_description = "alloc was stopped by user"
        a.modify_time = now
        ev = new_eval(a.namespace, a.job_id, "alloc-stop", now=now, job_version=a.job_version)
        txn = Txn().compare_mod(store.keys.alloc(a.id), got.mod_revision).put(store.keys.alloc(a.id), a)
        txn.put(store.keys.eval(ev.id), ev)
        if store.commit(txn):
            return ev.id
    raise ApiError(409, f"allocation {alloc_id} kept changing; try again")


def run_exec(data_dir: Path, alloc_id: str, task: str, cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run `cmd` in the task's directory with the task's environment (from the spec the
    executor was started with)."""
    import subprocess

    adir = AllocDir(data_dir, alloc_id)
    spec = adir.read_launch_spec(task)
    if not spec:
        raise ApiError(404, f"task {task!r} of allocation {alloc_id} has not run on this node")
    try:
        out = subprocess.run(cmd, cwd=spec.get("cwd") or str(adir.task_dir(task)), env=spec.get("env") or {},
                             capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise ApiError(400, f"command not found: {exc.filename}") from None
    except subprocess.TimeoutExpired:
        raise ApiError(504, f"command did not finish in {timeout:g}s") from None
    return {"ExitCode": out.returncode, "Stdout": out.stdout.decode(errors="replace"),
            "Stderr": out.stderr.decode(errors="replace")}


def routes(ctx: ApiContext) -> list[web.RouteDef]:
    store = ctx.store

    async def alloc_of(request: web.Request) -> Allocation:
        return await asyncio.to_thread(resolve_alloc, store, request.match_info["alloc_id"])

    async def logs(request: web.Request) -> web.StreamResponse:
        a = await alloc_of(request)
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
        follow = q.get("follow", "").lower() in ("1", "true")
        plain = q.get("plain", "").lower() in ("1", "true")
        st = await asyncio.to_thread(_status, store, a.id)
        adir = AllocDir(ctx.data_dir, a.id)
        task = _pick_task(adir, st, q.get("task", ""))
        files = log_files(adir.logs, task, log_type)
        if not files and not follow and not adir.root.exists():
            raise ApiError(404, f"no logs for allocation {a.id} on this node")
        resp = web.StreamResponse()
        resp.content_type = "text/plain" if plain else "application/json"
        await resp.prepare(request)

        async def send(data: bytes, fname: str, off: int) -> None:
            if not data:
                return
            if plain:
                await resp.write(data)
            else:
                frame = {"File": f"alloc/logs/{fname}", "Offset": off, "Data": base64.b64encode(data).decode()}
                await resp.write(json.dumps(frame).encode() + b"\n")

        chunk = read_logs(files, origin=origin, offset=offset)
        await send(chunk.data, chunk.file, chunk.offset)
        if not follow:
            await resp.write_eof()
            return resp
        # position: the file the last chunk ended in and the offset in it
        pos_file, pos_off = chunk.file, chunk.offset
        idle = 0
        try:
            while True:
                await asyncio.sleep(FOLLOW_POLL)
                files = log_files(adir.logs, task, log_type)
                names = [f.name for f in files]
                if pos_file in names:
                    c = read_logs(files[names.index(pos_file):], origin="start", offset=pos_off)
                else:
                    # rotated away (or nothing yet): go on with the files that came after it
                    last = _log_index(pos_file)
                    c = read_logs([f for f in files if _log_index(f.name) > last], origin="start", offset=0)
                if c.data:
                    idle = 0
                    await send(c.data, c.file, c.offset)
                    pos_file, pos_off = c.file, c.offset
                    continue
                idle += 1
                if idle % 5 == 0:
                    st = await asyncio.to_thread(_status, store, a.id)
                    ts = st.task_states.get(task) if st else None
                    if ts is not None and ts.state == TaskRunState.DEAD:
                        break
            await resp.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass  # the client went away: nothing more to do
        return resp

    async def restart(request: web.Request) -> web.Response:
        a = await alloc_of(request)
        task = ""
        if request.can_read_body:
            try:
                body = json.loads(await request.read() or b"{}")
            except ValueError:
                raise ApiError(400, "request body is not valid JSON") from None
            task = str(body.get("TaskName", "") or "") if isinstance(body, dict) else ""
        st = await asyncio.to_thread(_status, store, a.id)
        if task and (st is None or task not in st.task_states):
            raise ApiError(404, f"task {task!r} not found in allocation {a.id}")
        req = AllocRestartRequest(alloc_id=a.id, task=task, time=time.time(), request_id=new_id())
        await asyncio.to_thread(store.put, store.keys.kind(RESTARTS_KIND) + a.id, req)
        return _ok({"Index": 0})

    async def stop(request: web.Request) -> web.Response:
        a = await alloc_of(request)
        eval_id = await asyncio.to_thread(stop_alloc, store, a.id)
        return _ok({"EvalID": eval_id, "Index": 0})

    async def status(request: web.Request) -> web.Response:
        a = await alloc_of(request)
        st = await asyncio.to_thread(_status, store, a.id)
        return _ok(alloc_json(a, st))

    async def exec_(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            raise ApiError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be an object")
        cmd = body.get("Cmd") or body.get("Command")
        if not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd):
            raise ApiError(400, "Cmd must be a non-empty list of strings", field="Cmd")
        timeout = body.get("Timeout", EXEC_TIMEOUT) or EXEC_TIMEOUT
        # json.loads accepts Infinity and NaN: an unbounded exec would hold an API thread forever (review H5)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_EXEC_TIMEOUT:
            raise ApiError(400, f"Timeout must be a number of seconds above 0 and at most {MAX_EXEC_TIMEOUT:g}",
                           field="Timeout")
        a = await alloc_of(request)
        st = await asyncio.to_thread(_status, store, a.id)
        task = _pick_task(AllocDir(ctx.data_dir, a.id), st, str(body.get("Task", "") or ""))
        result = await asyncio.to_thread(run_exec, ctx.data_dir, a.id, task, cmd, float(timeout))
        return _ok(result)

    return [
        web.get("/v1/client/fs/logs/{alloc_id}", logs),
        web.post("/v1/client/allocation/{alloc_id}/restart", restart),
        web.put("/v1/client/allocation/{alloc_id}/restart", restart),
        web.post("/v1/client/allocation/{alloc_id}/exec", exec_),
        web.get("/v1/client/allocation/{alloc_id}/status", status),
        web.post("/v1/allocation/{alloc_id}/stop", stop),
        web.put("/v1/allocation/{alloc_id}/stop", stop),
    ]
