"""The user's allocation operations: stop one (the scheduler then replaces it, as Nomad's
`alloc stop` does) and ask its node agent to restart or signal its tasks."""

from __future__ import annotations

import signal
import time
from dataclasses import replace

from reconciler.model import evals
from reconciler.model.ids import AllocId, new_id
from reconciler.model.objects import (
    Allocation,
    AllocRestartRequest,
    AllocSignalRequest,
    DesiredStatus,
    JobRecord,
)
from reconciler.ops.errors import AllocNotFound
from reconciler.store import Store, Txn


def stop_alloc(store: Store, alloc_id: str) -> tuple[str, int]:
    """Set the allocation's desired status to stop and create an evaluation for its job, in
    one transaction; returns the eval id and the revision it committed at."""
    eval_ids: list[str] = []

    def fn(cur: Allocation | None) -> Allocation:
        if cur is None:
            raise AllocNotFound(f"allocation not found: {alloc_id}")
        return replace(
            cur,
            desired_status=DesiredStatus.STOP,
            desired_description="alloc was stopped by user",
            modify_time=time.time(),
        )

    def also(a: Allocation) -> Txn:
        rec = store.get(store.keys.job(a.namespace, a.job_id), JobRecord)
        ev = evals.new_eval(
            a.namespace,
            a.job_id,
            "alloc-stop",
            record=rec.value if rec else None,
            job_version=a.job_version,
            now=a.modify_time,
        )
        eval_ids.append(ev.id)
        return Txn().put(store.keys.eval(ev.id), ev)

    got = store.update(store.keys.alloc(alloc_id), Allocation, fn, also=also)
    assert got is not None  # fn raises for an absent allocation
    return eval_ids[-1], got.mod_revision


def restart_alloc(store: Store, alloc_id: str, task: str = "", *, failure: str = "") -> int:
    """Ask the allocation's node agent to restart its tasks (all, or `task`); the agent
    consumes the request. `failure` (a reason) makes it count against the restart policy, as
    an unhealthy check's restart does. Returns the revision of the write."""
    req = AllocRestartRequest(
        alloc_id=AllocId(alloc_id),
        task=task,
        time=time.time(),
        request_id=new_id(),
        failure=bool(failure),
        reason=failure,
    )
    return store.put(store.keys.alloc_restart(alloc_id), req)


def signal_name(name: str) -> str:
    """Nomad's signal names: `SIGHUP` (case-insensitive; `HUP` too); ValueError otherwise."""
    s = name.strip().upper()
    s = s if s.startswith("SIG") else "SIG" + s
    if s not in signal.Signals.__members__ or s.startswith("SIG_"):
        raise ValueError(f"invalid signal {name!r}")
    return s


def signal_alloc(store: Store, alloc_id: str, sig: str, task: str = "") -> int:
    """Ask the allocation's node agent to send `sig` (a name `signal_name` accepts) to its
    tasks (all, or `task`); returns the revision of the write."""
    req = AllocSignalRequest(
        alloc_id=AllocId(alloc_id), signal=signal_name(sig), task=task, time=time.time(), request_id=new_id()
    )
    return store.put(store.keys.alloc_signal(alloc_id), req)
