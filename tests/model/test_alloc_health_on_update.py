"""A check's `on_update` decides how it counts for an allocation's health (deployments,
migrations): require_healthy (the default), ignore_warnings, ignore. Table-driven."""

from __future__ import annotations

import pytest

from reconciler.model.alloc_health import checks_passing, expected_checks
from reconciler.model.job import Check, Service, Task, TaskGroup
from reconciler.model.services import CheckState, CheckStatus

P, W, C = CheckState.PASSING, CheckState.WARNING, CheckState.CRITICAL


def group(*rules: str) -> TaskGroup:
    checks = [Check(name=f"c{i}", on_update=rule) for i, rule in enumerate(rules)]
    return TaskGroup(name="g", tasks=[Task(name="t", services=[Service(name="web", checks=checks)])])


def statuses(*states: CheckState) -> list[CheckStatus]:
    return [
        CheckStatus(alloc_id="a", check_id=f"c{i}", check_name=f"c{i}", service_name="web", status=s)
        for i, s in enumerate(states)
    ]


@pytest.mark.parametrize(
    ("rules", "states", "passing"),
    [
        pytest.param(("require_healthy",), (P,), True, id="healthy"),
        pytest.param(("require_healthy",), (W,), False, id="warning-fails-by-default"),
        pytest.param(("ignore_warnings",), (W,), True, id="ignore-warnings-passes-a-warning"),
        pytest.param(("ignore_warnings",), (C,), False, id="ignore-warnings-not-critical"),
        pytest.param(("require_healthy", "ignore"), (P, C), True, id="ignored-check-not-counted"),
        pytest.param(("require_healthy", "ignore"), (P,), True, id="ignored-check-not-waited-for"),
        pytest.param(("require_healthy", "require_healthy"), (P,), False, id="a-missing-status-waits"),
        pytest.param(("ignore",), (), True, id="only-ignored"),
    ],
)
def test_on_update(rules: tuple[str, ...], states: tuple[CheckState, ...], passing: bool) -> None:
    assert checks_passing(group(*rules), statuses(*states)) is passing


def test_ignored_checks_are_not_expected() -> None:
    assert expected_checks(group("require_healthy", "ignore", "ignore_warnings")) == 2
