"""`job restart`'s pure parts: the batch size (a count or a percentage) and when an
allocation counts as restarted (every task signalled after the restart began, started
again since, and running)."""

from __future__ import annotations

import click
import pytest

from reconciler.cli.restart_cmd import _restarted, parse_batch_size


@pytest.mark.parametrize(
    ("text", "total", "size"),
    [("1", 5, 1), ("3", 5, 3), ("50%", 5, 3), ("10%", 5, 1), ("100%", 5, 5), ("25%", 8, 2)],
)
def test_batch_size(text: str, total: int, size: int) -> None:
    assert parse_batch_size(text, total) == size


@pytest.mark.parametrize("text", ["0", "-1", "x", "0%", "101%", "%"])
def test_batch_size_refused(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_batch_size(text, 5)


def alloc(state: str, *events: tuple[str, int]) -> dict[str, object]:
    return {"TaskStates": {"t": {"State": state, "Events": [{"Type": t, "Time": at} for t, at in events]}}}


@pytest.mark.parametrize(
    ("a", "done"),
    [
        (alloc("running", ("Started", 1)), False),  # not signalled since the restart began
        (alloc("running", ("Started", 1), ("Restart Signaled", 5)), False),  # not started again
        (alloc("pending", ("Restart Signaled", 5), ("Started", 6)), False),  # not running
        (alloc("running", ("Started", 1), ("Restart Signaled", 5), ("Started", 6)), True),
        (alloc("running", ("Restart Signaled", 3), ("Started", 4)), False),  # an older restart
    ],
    ids=["untouched", "signalled only", "not running", "restarted", "an earlier restart"],
)
def test_restarted(a: dict[str, object], done: bool) -> None:
    assert _restarted(a, 5, set()) is done
