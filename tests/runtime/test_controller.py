"""The controller base class on a real etcd: every key reconciled, failures retried with
backoff until they succeed, permanent errors not retried, periodic resync, requeue, a clean
stop that leaves no thread behind, and a restart that looks at every key again."""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.runtime import Controller, PermanentError, Requeue
from reconciler.store import Store
from tests.waiting import wait_for


class Recording(Controller):
    """Reconciles node keys; how each key behaves is set per key by the test."""

    name = "recording"
    workers = 3

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.queue.base_delay = 0.002
        self.nodes = self.informer(store.keys.nodes, dict)
        self.nodes.add_handler(lambda key, old, new: self.enqueue(key))
        self.lock = threading.Lock()
        self.calls: collections.Counter[str] = collections.Counter()
        self.fail_first: dict[str, int] = {}
        self.permanent: set[str] = set()
        self.requeue: dict[str, int] = {}
        self.succeeded: collections.Counter[str] = collections.Counter()
        self.resync: list[str] = []
        self.active: collections.Counter[str] = collections.Counter()
        self.max_active = 0

    def reconcile(self, key: str) -> Requeue | None:
        with self.lock:
            self.calls[key] += 1
            n = self.calls[key]
            self.active[key] += 1
            self.max_active = max(self.max_active, self.active[key])
        try:
            if key in self.permanent:
                raise PermanentError(f"{key} is malformed")
            if n <= self.fail_first.get(key, 0):
                raise RuntimeError(f"attempt {n} fails")
            with self.lock:
                self.succeeded[key] += 1
                left = self.requeue.get(key, 0)
                if left:
                    self.requeue[key] = left - 1
                    return Requeue(0.001)
            return None
        finally:
            with self.lock:
                self.active[key] -= 1

    def resync_keys(self) -> list[str]:
        return list(self.resync)


@pytest.fixture
def ctl(store: Store) -> Iterator[Recording]:
    c = Recording(store)
    yield c
    c.stop()


def test_reconciles_every_key_once_per_change(store: Store, ctl: Recording) -> None:
    for i in range(5):
        store.put(store.keys.node(f"n{i}"), {"v": f"v{i}"})
    ctl.start()
    wait_for(lambda: len(ctl.succeeded) == 5, message="the five listed nodes reconciled")
    for i in range(5, 20):
        store.put(store.keys.node(f"n{i}"), {"v": f"v{i}"})
    wait_for(lambda: len(ctl.succeeded) == 20, message="nodes written after start reconciled")
    store.delete(store.keys.node("n0"))
    wait_for(lambda: ctl.calls[store.keys.node("n0")] == 2, message="a deleted key reconciled again")
    wait_for(ctl.queue.idle, message="queue idle")
    assert ctl.max_active == 1


def test_failing_key_is_retried_with_backoff_until_it_succeeds(store: Store, ctl: Recording) -> None:
    key = store.keys.node("flaky")
    ctl.fail_first[key] = 4
    ctl.start()
    store.put(key, {"v": "x"})
    wait_for(lambda: ctl.succeeded[key] == 1, message="flaky key to succeed")
    assert ctl.calls[key] == 5
    wait_for(ctl.queue.idle, message="queue idle")
    assert ctl.queue.failures(key) == 0  # success forgets the backoff
    assert ctl.calls[key] == 5


def test_permanent_error_is_not_retried(store: Store, ctl: Recording) -> None:
    bad, good = store.keys.node("bad"), store.keys.node("good")
    ctl.permanent.add(bad)
    ctl.start()
    store.put(bad, {"v": "x"})
    store.put(good, {"v": "y"})
    wait_for(lambda: ctl.succeeded[good] == 1, message="good key")
    wait_for(ctl.queue.idle, message="queue idle")
    assert ctl.calls[bad] == 1
    assert ctl.queue.failures(bad) == 0
    # a new change to the key is looked at again
    store.put(bad, {"v": "x2"})
    wait_for(lambda: ctl.calls[bad] == 2, message="bad key after a change")


def test_requeue_looks_again(store: Store, ctl: Recording) -> None:
    key = store.keys.node("again")
    ctl.requeue[key] = 3
    ctl.start()
    store.put(key, {"v": "x"})
    wait_for(lambda: ctl.succeeded[key] == 4, message="three requeues")
    wait_for(ctl.queue.idle, message="queue idle")
    assert ctl.calls[key] == 4


def test_periodic_resync(store: Store) -> None:
    class Resyncing(Recording):
        resync_period = 0.02

    c = Resyncing(store)
    c.resync = ["resync-key"]
    c.start()
    try:
        wait_for(lambda: c.calls["resync-key"] >= 3, message="three resyncs")
    finally:
        c.stop()


def test_stop_joins_threads_and_restart_reconciles_everything(etcd: EmbeddedEtcd, prefix: str) -> None:
    store = Store([etcd.endpoint], prefix=prefix)
    c = Recording(store)
    mine = ("recording", "informer:recording")  # this controller's workers and informers
    watchers: set[str] = set()

    def alive(names: tuple[str, ...] | set[str]) -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith(tuple(names))]

    try:
        store.put(store.keys.node("n1"), {"v": "v"})
        c.start()
        wait_for(lambda: c.succeeded[store.keys.node("n1")] == 1, message="first reconcile")
        c.stop()
        assert not alive(mine)

        # leadership regained: every key is looked at again, not only the changed ones
        store.put(store.keys.node("n2"), {"v": "v"})
        c.start()
        wait_for(lambda: c.succeeded[store.keys.node("n1")] == 2, message="unchanged key after restart")
        wait_for(lambda: c.succeeded[store.keys.node("n2")] == 1, message="new key after restart")
        # each watch has its own stream and thread, named for its prefix; they end with the watch
        watchers = {t.name for t in threading.enumerate() if t.name.startswith(f"store_watch {prefix}")}
        assert watchers
        c.stop()
        assert not alive(mine)
    finally:
        c.stop()
        store.close()
    wait_for(lambda: not alive(watchers), message=lambda: f"watch threads to end: {alive(watchers)}")


def test_start_that_cannot_sync_raises_and_leaves_no_threads() -> None:
    from tests.ports import free_port

    store = Store([f"http://127.0.0.1:{free_port()}"], prefix="/none/", retry_for=0.2, timeout=0.2)
    c = Recording(store)
    try:
        with pytest.raises(TimeoutError, match="did not sync"):
            c.start(sync_timeout=0.3)
        wait_for(
            lambda: not [t for t in threading.enumerate() if t.name.startswith("informer:recording")],
            message="informer threads to end",
        )
    finally:
        store.close()
