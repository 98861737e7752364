"""A watch's progress against a real etcd: asked for, etcd answers with its current revision
on the watch's own stream, after every event before it; so a watcher learns that it has
seen everything up to a revision that wrote nothing under its prefix."""

from __future__ import annotations

import threading

from reconciler.store import Store, WatchEvent
from reconciler.store.errors import StoreError
from tests.waiting import wait_for


class Seen:
    """What a watch delivered, events and progress revisions, in the order it came."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.order: list[tuple[str, int]] = []

    def events(self, result: list[WatchEvent] | StoreError) -> None:
        if isinstance(result, list):
            with self.lock:
                self.order += [("event", ev.mod_revision) for ev in result]

    def progress(self, revision: int) -> None:
        with self.lock:
            self.order.append(("progress", revision))

    def progresses(self) -> list[int]:
        with self.lock:
            return [rev for kind, rev in self.order if kind == "progress"]


def test_progress_reaches_a_revision_that_wrote_nothing_under_the_prefix(store: Store) -> None:
    seen = Seen()
    watch = store.watch(
        store.keys.prefix + "watched/", store.revision() + 1, seen.events, on_progress=seen.progress
    )
    try:
        elsewhere = store.put(store.keys.prefix + "other/x", b"1")
        assert not seen.progresses()  # nothing comes unasked
        watch.request_progress()
        wait_for(lambda: any(rev >= elsewhere for rev in seen.progresses()), 10, message="a progress answer")
        assert not [kind for kind, _ in seen.order if kind == "event"]
    finally:
        watch.cancel()


def test_progress_comes_after_the_events_before_it(store: Store) -> None:
    seen = Seen()
    prefix = store.keys.prefix + "watched/"
    watch = store.watch(prefix, store.revision() + 1, seen.events, on_progress=seen.progress)
    try:
        revs = [store.put(f"{prefix}k{i}", b"v") for i in range(20)]
        watch.request_progress()
        wait_for(lambda: any(rev >= revs[-1] for rev in seen.progresses()), 10, message="a progress answer")
        with seen.lock:
            first = next(
                i for i, (kind, rev) in enumerate(seen.order) if kind == "progress" and rev >= revs[-1]
            )
            before = [rev for kind, rev in seen.order[:first] if kind == "event"]
        assert before == revs
    finally:
        watch.cancel()
