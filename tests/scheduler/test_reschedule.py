"""Reschedule delays and attempts, per delay function."""

from __future__ import annotations

import pytest

from controllers.scheduler.reschedule import eligible, reschedule_delay
from reconciler.model.job import HOUR, SECOND, ReschedulePolicy
from tests.scheduler.factories import mock_alloc, mock_job


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("constant", [30, 30, 30, 30, 30]),
        ("exponential", [30, 60, 120, 240, 480]),
        ("fibonacci", [30, 30, 60, 90, 150]),
    ],
    ids=["constant delays do not grow", "exponential delays double", "fibonacci delays add the last two"],
)
def test_delay_functions(function: str, expected: list[int]) -> None:
    p = ReschedulePolicy(delay=30 * SECOND, delay_function=function, max_delay=HOUR)
    assert [reschedule_delay(p, n) for n in range(5)] == expected


def test_max_delay_caps_the_delay() -> None:
    p = ReschedulePolicy(delay=30 * SECOND, delay_function="exponential", max_delay=100 * SECOND)
    assert reschedule_delay(p, 10) == 100


def test_attempts_are_counted_within_the_interval() -> None:
    p = ReschedulePolicy(attempts=2, interval=60 * SECOND, unlimited=False)
    job = mock_job(1)
    assert eligible(p, mock_alloc(job, 0, reschedule_attempts=[100.0]), 120.0)
    assert not eligible(p, mock_alloc(job, 0, reschedule_attempts=[100.0, 110.0]), 120.0)
    assert eligible(p, mock_alloc(job, 0, reschedule_attempts=[10.0, 20.0]), 120.0)


def test_unlimited_is_always_eligible() -> None:
    p = ReschedulePolicy(unlimited=True)
    assert eligible(p, mock_alloc(mock_job(1), 0, reschedule_attempts=[1.0] * 100), 2.0)
