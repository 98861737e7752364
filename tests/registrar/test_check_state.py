"""Table-driven tests of the check state machine and result classification."""

from __future__ import annotations

import pytest

from controllers.registrar.check_state import CheckCounter, advance, classify_exit, classify_http, initial
from reconciler.model.services import CheckState


def run(results: str, sbp: int = 0, fbc: int = 0, start: str = "", fbw: int = 0) -> str:
    """Statuses after each result; results as letters p(assing) w(arning) c(ritical)."""
    names = {"p": "passing", "w": "warning", "c": "critical"}
    state = initial(start)
    out = []
    for r in results:
        state = advance(state, CheckState(names[r]), sbp, fbc, fbw)
        out.append(state.status[0])
    return "".join(out)


@pytest.mark.parametrize(
    ("results", "sbp", "fbc", "start", "want"),
    [
        ("p", 0, 0, "", "p"),  # no thresholds: at once
        ("pc", 0, 0, "", "pc"),
        ("pw", 0, 0, "", "pw"),
        ("ppp", 3, 0, "", "ccp"),  # 3 passes in a row before passing
        ("ppcpp", 3, 0, "", "cccc" + "c"),  # a failure resets the count
        ("ppcppp", 3, 0, "", "cccccp"),
        ("pcc", 0, 3, "", "ppp"),  # 3 failures before critical
        ("pccc", 0, 3, "", "pppc"),
        ("pccpccc", 0, 3, "", "ppppppc"),  # a pass resets failures
        ("pwww", 0, 3, "", "pppw"),  # warnings count as failures and report warning
        ("", 0, 0, "passing", ""),
        ("c", 0, 2, "passing", "p"),  # initial_status passing holds until threshold
        ("cc", 0, 2, "passing", "pc"),
    ],
)
def test_thresholds(results: str, sbp: int, fbc: int, start: str, want: str) -> None:
    assert run(results, sbp, fbc, start) == want


def test_initial() -> None:
    assert initial("") == CheckCounter("critical")
    assert initial("warning").status == "warning"
    assert initial("bogus").status == "critical"


@pytest.mark.parametrize(
    ("code", "want"),
    [
        (200, "passing"),
        (204, "passing"),
        (299, "passing"),
        (301, "critical"),
        (404, "critical"),
        (429, "warning"),
        (500, "critical"),
        (503, "critical"),
    ],
)
def test_classify_http(code: int, want: str) -> None:
    assert classify_http(code) == want


@pytest.mark.parametrize(
    ("code", "want"), [(0, "passing"), (1, "warning"), (2, "critical"), (-9, "critical")]
)
def test_classify_exit(code: int, want: str) -> None:
    assert classify_exit(code) == want


@pytest.mark.parametrize(
    ("results", "fbc", "fbw", "want"),
    [
        pytest.param("pccc", 3, 1, "pwwc", id="warning-after-one-critical-after-three"),
        pytest.param("pcccc", 4, 2, "ppwwc", id="warning-after-two"),
        pytest.param("pccpc", 3, 1, "pwwpw", id="a-pass-resets-both"),
        pytest.param("pcc", 2, 0, "ppc", id="unset-means-no-warning"),
        pytest.param("pcc", 1, 3, "pcc", id="critical-threshold-first"),
    ],
)
def test_failures_before_warning(results: str, fbc: int, fbw: int, want: str) -> None:
    assert run(results, fbc=fbc, fbw=fbw) == want
