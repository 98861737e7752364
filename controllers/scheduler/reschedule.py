"""When may a failed allocation be rescheduled? Pure functions of the `reschedule` policy.

Nomad's rules: attempts are counted within `interval` (unless `unlimited`); the delay grows
with the number of past reschedules by `delay_function` (constant, exponential, fibonacci)
and is capped by `max_delay`. The time counts from when the allocation failed.
"""

from __future__ import annotations

from reconciler.model.job import SECOND, ReschedulePolicy
from reconciler.model.objects import Allocation, AllocStatus


def reschedule_delay(policy: ReschedulePolicy, attempt: int) -> float:
    """Seconds to wait before reschedule number `attempt` (0-based)."""
    base = policy.delay / SECOND
    if policy.delay_function == "exponential":
        delay = base * (2.0 ** min(attempt, 62))
    elif policy.delay_function == "fibonacci":
        a, b = base, base
        for _ in range(attempt):
            a, b = b, a + b
        delay = a
    else:
        delay = base
    if policy.max_delay > 0:
        delay = min(delay, policy.max_delay / SECOND)
    return delay


def eligible(policy: ReschedulePolicy, alloc: Allocation, now: float) -> bool:
    """True if the policy allows another attempt."""
    if policy.unlimited:
        return True
    if policy.attempts <= 0:
        return False
    window = policy.interval / SECOND
    recent = [t for t in alloc.reschedule_attempts if window <= 0 or now - t < window]
    return len(recent) < policy.attempts


def failed_at(alloc: Allocation, status: AllocStatus | None) -> float:
    if status is None:
        return alloc.modify_time
    finished = [ts.finished_at for ts in status.task_states.values() if ts.finished_at]
    return max(finished) if finished else (status.modify_time or alloc.modify_time)


def next_reschedule_time(
    policy: ReschedulePolicy, alloc: Allocation, status: AllocStatus | None, now: float
) -> float | None:
    """When `alloc` (failed) should be replaced, or None if the policy forbids it."""
    if not eligible(policy, alloc, now):
        return None
    return failed_at(alloc, status) + reschedule_delay(policy, len(alloc.reschedule_attempts))
