"""The restart policy as a pure decision (Nomad's restart tracker).

Every exit goes through `decide()`: a batch task that exits 0 completes; any other exit
counts one attempt within the current `interval`. While attempts remain, restart after
`delay`; past them, `mode = "fail"` gives up, `mode = "delay"` waits for the interval to
end and starts a fresh one. The tracker state (interval start, count) is returned, never
mutated, so the caller can persist it for re-attach.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from reconciler.model.job import SECOND, Lifecycle, LifecycleHook, RestartPolicy, runs_to_completion


class Action(StrEnum):
    RESTART = "restart"
    FAIL = "fail"
    COMPLETE = "complete"


@dataclass(frozen=True)
class Tracker:
    interval_start: float = 0.0
    count: int = 0


@dataclass(frozen=True)
class Decision:
    action: Action
    delay: float  # seconds
    reason: str
    tracker: Tracker


def fmt_duration(seconds: float) -> str:
    """Go-style duration text: 15s, 1m30s, 30m0s, 250ms."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    total = round(seconds)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"


def completes_on_success(job_type: str, lifecycle: Lifecycle | None) -> bool:
    """Whether a successful exit ends the task (Nomad's restart tracker): batch and sysbatch
    main tasks, prestart and poststart tasks that are not sidecars, and poststop tasks;
    service main tasks and sidecars are restarted."""
    if lifecycle is None:
        return runs_to_completion(job_type)
    return lifecycle.hook == LifecycleHook.POSTSTOP or not lifecycle.sidecar


def decide(
    policy: RestartPolicy,
    tracker: Tracker,
    *,
    now: float,
    job_type: str,
    exit_ok: bool,
    lifecycle: Lifecycle | None = None,
) -> Decision:
    if exit_ok and completes_on_success(job_type, lifecycle):
        return Decision(Action.COMPLETE, 0.0, "Task completed successfully", tracker)
    interval = policy.interval / SECOND
    delay = policy.delay / SECOND
    t = tracker
    if t.interval_start == 0.0 or now - t.interval_start > interval:
        t = Tracker(interval_start=now, count=0)
    t = replace(t, count=t.count + 1)
    if t.count <= policy.attempts:
        return Decision(Action.RESTART, delay, f"Task restarting in {fmt_duration(delay)}", t)
    if policy.mode == "delay":
        wait = max(delay, t.interval_start + interval - now)
        return Decision(
            Action.RESTART,
            wait,
            f"Exceeded allowed attempts {policy.attempts} in interval {fmt_duration(interval)}; "
            f"Task restarting in {fmt_duration(wait)}",
            Tracker(interval_start=now + wait, count=0),
        )
    return Decision(
        Action.FAIL,
        0.0,
        f"Exceeded allowed attempts {policy.attempts} in interval {fmt_duration(interval)}"
        ' and mode is "fail"',
        t,
    )
