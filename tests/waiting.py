"""Wait on a condition with a deadline instead of sleeping.

Tests synchronise with background threads and processes by polling a condition: a fixed
sleep is either too long (slow suite) or too short (flaky suite); a deadline is neither.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not become true before the deadline (an AssertionError, so pytest
    reports it as a test failure with the message)."""


def wait_for(
    cond: Callable[[], T],
    timeout: float = 10,
    interval: float = 0.01,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Call ``cond`` until it returns something truthy and return that value.

    Raises WaitTimeout after ``timeout`` seconds. ``message`` (a string, or a callable for a
    message built from state at failure time) says what was awaited. Exceptions raised by
    ``cond`` propagate: a condition that cannot be evaluated is a bug, not a "not yet".
    """
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise WaitTimeout(f"timed out after {timeout}s waiting for {text}")
        time.sleep(interval)
