"""Decisions that come in batches: a generator yields each batch of new allocations as soon
as it is decided and returns the whole result at the end.

This is how a big plan is written while it is still being placed without the decision
doing any I/O: `decide` only yields; whoever runs it (the controller) commits each batch
before asking for the next one. `drain` runs such a generator to its result, and `drained`
makes the all-at-once function of a batch generator function.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, ParamSpec, TypeVar

B = TypeVar("B")
R = TypeVar("R")
P = ParamSpec("P")


def drain(stream: Generator[B, None, R], each: Callable[[B], None] | None = None) -> R:
    """Run `stream` to the end, handing every batch to `each` (if given); its result."""
    while True:
        try:
            batch = next(stream)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if each is not None:
            each(batch)


def drained(batches: Callable[P, Generator[Any, None, R]]) -> Callable[P, R]:
    """`batches`' all-at-once form: the same arguments, the generator's result."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return drain(batches(*args, **kwargs))

    return run
