"""The health check state machine, as Consul runs it (pure, table-tested).

A check's reported status moves only after enough consecutive results agree:
`success_before_passing` passes in a row to become passing, `failures_before_critical`
non-passing results in a row to become warning/critical (0 or 1: at once), and with
`failures_before_warning` below that threshold, that many to report warning first. The
counters are what make a flapping backend stay out of (or in) the router's table until it
settles.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model.services import CheckState


@dataclass(frozen=True)
class CheckCounter:
    status: CheckState = CheckState.CRITICAL
    successes: int = 0
    failures: int = 0


def initial(initial_status: str) -> CheckCounter:
    if initial_status in (CheckState.PASSING, CheckState.WARNING):
        return CheckCounter(status=CheckState(initial_status))
    return CheckCounter()


def advance(
    state: CheckCounter,
    result: CheckState,
    success_before_passing: int,
    failures_before_critical: int,
    failures_before_warning: int = 0,
) -> CheckCounter:
    """The state after one probe `result` (passing | warning | critical)."""
    if result == CheckState.PASSING:
        successes = state.successes + 1
        status = CheckState.PASSING if successes >= max(success_before_passing, 1) else state.status
        return CheckCounter(status=status, successes=successes, failures=0)
    failures = state.failures + 1
    if failures >= max(failures_before_critical, 1):
        status = result
    elif 0 < failures_before_warning <= failures:
        status = CheckState.WARNING
    else:
        status = state.status
    return CheckCounter(status=status, successes=0, failures=failures)


def classify_http(code: int) -> CheckState:
    """Consul's rule: 2xx passing, 429 Too Many Requests warning, anything else critical."""
    if 200 <= code < 300:
        return CheckState.PASSING
    if code == 429:
        return CheckState.WARNING
    return CheckState.CRITICAL


def classify_exit(code: int) -> CheckState:
    """Script checks: exit 0 passing, 1 warning, anything else (or a timeout) critical."""
    return CheckState.PASSING if code == 0 else CheckState.WARNING if code == 1 else CheckState.CRITICAL
