"""Pure functions over task states: the allocation's client status, and task events as
Nomad names them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from reconciler.model.objects import ClientStatus, TaskEvent, TaskRunState, TaskState

if TYPE_CHECKING:
    from controllers.driver_runner.handles import ExitResult

# Nomad's task event types
RECEIVED = "Received"
SETUP = "Task Setup"
DOWNLOADING = "Downloading Artifacts"
ARTIFACT_FAILED = "Failed Artifact Download"
TEMPLATE_FAILED = "Template Failure"
SETUP_FAILURE = "Setup Failure"
VALIDATION_FAILED = "Failed Validation"
DRIVER_FAILURE = "Driver Failure"
STARTED = "Started"
TERMINATED = "Terminated"
RESTARTING = "Restarting"
RESTART_SIGNALED = "Restart Signaled"
NOT_RESTARTING = "Not Restarting"
KILLING = "Killing"
WAITING_SHUTDOWN_DELAY = "Waiting for shutdown delay"
DEREGISTERED = "Services deregistered"
KILLED = "Killed"
SIBLING_FAILED = "Sibling Task Failed"
LEADER_DEAD = "Leader Task Dead"
MAIN_DEAD = "Main Tasks Dead"
REATTACHED = "Reattached"
TEMPLATE_RERENDER = "Template Re-rendered"
SIGNALING = "Signaling"

MAX_EVENTS = 10


def event(
    kind: str,
    message: str = "",
    *,
    exit_code: int | None = None,
    sig: int | None = None,
    details: dict[str, str] | None = None,
    now: float | None = None,
) -> TaskEvent:
    return TaskEvent(
        type=kind,
        time=time.time() if now is None else now,
        message=message,
        exit_code=exit_code,
        signal=sig,
        details=details or {},
    )


def terminated(res: ExitResult) -> TaskEvent:
    """The event of a task's exit, with its code, signal and whether it ran out of memory."""
    msg = f"Exit Code: {res.exit_code}" + (f", Signal: {res.signal}" if res.signal else "")
    if res.oom_killed:
        msg += ", OOM Killed"
    if res.message:
        msg += f" ({res.message})"
    details = {"exit_code": str(res.exit_code), "signal": str(res.signal)}
    if res.oom_killed:
        details["oom_killed"] = "true"
    return event(TERMINATED, msg, exit_code=res.exit_code, sig=res.signal or None, details=details)


def client_status(states: dict[str, TaskState]) -> ClientStatus:
    """pending until every task started; running while any runs; once all are dead, failed if
    any failed, else complete."""
    if not states:
        return ClientStatus.PENDING
    vals = list(states.values())
    if all(s.state == TaskRunState.DEAD for s in vals):
        return ClientStatus.FAILED if any(s.failed for s in vals) else ClientStatus.COMPLETE
    if any(s.failed for s in vals):
        return ClientStatus.FAILED
    if any(s.state == TaskRunState.RUNNING for s in vals):
        return ClientStatus.RUNNING
    return ClientStatus.PENDING


def describe(status: str, states: dict[str, TaskState]) -> str:
    if status == ClientStatus.FAILED:
        failed = sorted(n for n, s in states.items() if s.failed)
        return f"Failed tasks: {', '.join(failed)}"
    if status == ClientStatus.COMPLETE:
        return "All tasks have completed"
    if status == ClientStatus.RUNNING:
        return "Tasks are running"
    return "No tasks have started"
