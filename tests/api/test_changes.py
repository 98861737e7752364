"""`blocking.Changes.wait_past`: blocked queries of one view wait as a group, so a change
costs one index computation per group and wakes only the queries it passed, each once
(after the group's rendering, when it starts one). Plain asyncio, no HTTP and no clock:
every step waits on a condition of the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from reconciler.api.blocking import Changes, Parts

LONG = 60.0  # a wait no test reaches


class Revisions:
    """An index function over a settable revision that counts its calls."""

    def __init__(self, rev: int) -> None:
        self.rev = rev
        self.calls = 0

    def __call__(self) -> Parts:
        self.calls += 1
        return (self.rev, 1)


async def until(cond: Callable[[], bool]) -> None:
    """Let the loop run until `cond()` (each step yields once; no clock)."""
    for _ in range(10_000):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 30))


def test_one_change_computes_one_index_for_a_thousand_waiters_and_wakes_them_all() -> None:
    async def go() -> None:
        changes, index = Changes(), Revisions(10)
        held = [asyncio.ensure_future(changes.wait_past("view", index, 10, LONG)) for _ in range(1000)]
        await until(lambda: changes.waiting == 1000)
        before = index.calls
        index.rev = 11
        changes.notify()
        got = await asyncio.gather(*held)
        assert got == [(11, 1)] * 1000
        assert index.calls - before == 1
        assert changes.waiting == 0

    run(go)


def test_a_change_that_does_not_pass_the_index_wakes_nobody() -> None:
    async def go() -> None:
        changes, index = Changes(), Revisions(10)
        held = asyncio.ensure_future(changes.wait_past("view", index, 12, LONG))
        await until(lambda: changes.waiting == 1)
        for rev in (11, 12):  # a change elsewhere (same index) and one up to, not past, 12
            index.rev = rev
            changes.notify()
            await until(lambda: not changes._pending)
            await asyncio.sleep(0)
            assert not held.done()
        index.rev = 13
        changes.notify()
        assert await held == (13, 1)

    run(go)


def test_waiters_of_one_view_at_different_indexes_wake_when_each_is_passed() -> None:
    async def go() -> None:
        changes, index = Changes(), Revisions(10)
        early = asyncio.ensure_future(changes.wait_past("view", index, 10, LONG))
        late = asyncio.ensure_future(changes.wait_past("view", index, 11, LONG))
        await until(lambda: changes.waiting == 2)
        index.rev = 11
        changes.notify()
        assert await early == (11, 1)
        assert not late.done()
        index.rev = 12
        changes.notify()
        assert await late == (12, 1)

    run(go)


def test_an_index_already_passed_answers_at_once() -> None:
    async def go() -> None:
        changes = Changes()
        assert await changes.wait_past("view", Revisions(10), 9, LONG) == (10, 1)
        assert changes.waiting == 0

    run(go)


def test_the_wait_ends_with_the_current_index() -> None:
    async def go() -> None:
        changes = Changes()
        assert await changes.wait_past("view", Revisions(10), 10, 0.0) == (10, 1)
        assert changes.waiting == 0

    run(go)


def test_the_group_renders_once_and_its_waiters_are_released_after_the_rendering() -> None:
    async def go() -> None:
        changes, index = Changes(), Revisions(10)
        loop = asyncio.get_running_loop()
        rendering: asyncio.Future[Any] = loop.create_future()
        started: list[Parts] = []

        def on_pass(parts: Parts) -> asyncio.Future[Any]:
            started.append(parts)
            return rendering

        held = [asyncio.ensure_future(changes.wait_past("v", index, 10, LONG, on_pass)) for _ in range(50)]
        await until(lambda: changes.waiting == 50)
        index.rev = 11
        changes.notify()
        await until(lambda: bool(started))
        await asyncio.sleep(0)
        assert not any(h.done() for h in held)  # held until the answer is rendered
        rendering.set_result(b"body")
        assert await asyncio.gather(*held) == [(11, 1)] * 50
        assert started == [(11, 1)]

    run(go)


def test_views_wait_apart() -> None:
    async def go() -> None:
        changes, mine, other = Changes(), Revisions(10), Revisions(10)
        a = asyncio.ensure_future(changes.wait_past("mine", mine, 10, LONG))
        b = asyncio.ensure_future(changes.wait_past("other", other, 10, LONG))
        await until(lambda: changes.waiting == 2)
        other.rev = 11
        changes.notify()
        assert await b == (11, 1)
        assert not a.done()
        a.cancel()
        await until(lambda: changes.waiting == 0)

    run(go)


def test_a_cancelled_waiter_leaves_its_group_and_the_others_still_wake() -> None:
    async def go() -> None:
        changes, index = Changes(), Revisions(10)
        gone = asyncio.ensure_future(changes.wait_past("view", index, 10, LONG))
        kept = asyncio.ensure_future(changes.wait_past("view", index, 10, LONG))
        await until(lambda: changes.waiting == 2)
        gone.cancel()  # the client went away
        await until(lambda: changes.waiting == 1)
        index.rev = 11
        changes.notify()
        assert await kept == (11, 1)
        assert changes.waiting == 0

    run(go)


def test_an_index_that_fails_wakes_the_group_to_answer_the_error() -> None:
    async def go() -> None:
        changes, index = Changes(), Revisions(10)
        broken = {"now": False}

        def fn() -> Parts:
            if broken["now"]:
                raise LookupError("gone")
            return index()

        held = asyncio.ensure_future(changes.wait_past("view", fn, 10, LONG))
        await until(lambda: changes.waiting == 1)
        broken["now"] = True
        changes.notify()
        try:
            await held
        except LookupError:
            pass
        else:
            raise AssertionError("the waiter's own index call raises")

    run(go)
