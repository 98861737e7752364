"""The informer against a real etcd: cache and indexes follow puts and deletes, a watch
survives an etcd restart without missing events; the cache's event rules, `wait_revision`
and aggregates. A compaction answered by a re-list is test_informer_compaction.py."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.objects import Allocation
from reconciler.runtime import Informer
from reconciler.store import Store
from tests.runtime.informer_helpers import Recorder, alloc, cache_matches
from tests.waiting import wait_for


@pytest.fixture
def informer(store: Store) -> Iterator[tuple[Informer[Allocation], Recorder]]:
    inf: Informer[Allocation] = Informer(store, store.keys.allocs, Allocation)
    rec = Recorder()
    inf.add_handler(rec)
    inf.add_index("node", lambda a: [a.node_id])
    inf.add_index("job", lambda a: [a.job_id])
    yield inf, rec
    inf.stop()


def test_informer_lists_then_follows_puts_and_deletes(
    store: Store, informer: tuple[Informer[Allocation], Recorder]
) -> None:
    inf, rec = informer
    k = store.keys
    store.put(k.alloc("a000"), alloc(0))
    store.put(k.node("n1"), "not an alloc")  # another prefix: never seen
    inf.start()
    assert inf.wait_synced(10)
    assert inf.get(k.alloc("a000")) == alloc(0)
    assert rec.puts() == {k.alloc("a000")}

    store.put(k.alloc("a001"), alloc(1, node="n2"))
    store.put(k.alloc("a000"), alloc(0, node="n2"))  # moves between index values
    wait_for(lambda: inf.get(k.alloc("a000")) == alloc(0, node="n2"), message="update of a000")
    assert sorted(a.id for a in inf.by_index("node", "n2")) == ["a000", "a001"]
    assert inf.by_index("node", "n1") == []
    assert sorted(inf.keys_by_index("job", "web")) == [k.alloc("a000"), k.alloc("a001")]

    store.delete(k.alloc("a001"))
    wait_for(lambda: inf.get(k.alloc("a001")) is None, message="delete of a001")
    assert [a.id for a in inf.by_index("node", "n2")] == ["a000"]
    # handlers run just after the cache is updated: wait for them too
    wait_for(lambda: k.alloc("a001") in rec.deletes(), message="delete handler for a001")
    old_new = [(o, n) for key, o, n in rec.events if key == k.alloc("a001")]
    assert old_new[-1] == (alloc(1, node="n2"), None)
    assert cache_matches(inf, store)
    assert inf.revision >= store.get_raw(k.alloc("a000")).mod_revision  # type: ignore[union-attr]


def test_informer_sees_every_put_of_one_transaction(
    store: Store, informer: tuple[Informer[Allocation], Recorder]
) -> None:
    inf, rec = informer
    inf.start()
    assert inf.wait_synced(10)
    items = [(store.keys.alloc(f"a{i:03d}"), alloc(i, node=f"n{i % 3}")) for i in range(300)]
    store.put_many(items)  # 128 events per revision
    wait_for(lambda: len(inf.list()) == 300, message=lambda: f"300 allocs cached, have {len(inf.list())}")
    wait_for(lambda: rec.puts() == {k for k, _ in items}, message="a put handler call for every key")
    assert sum(len(inf.by_index("node", f"n{n}")) for n in range(3)) == 300
    store.delete_prefix(store.keys.allocs)
    wait_for(lambda: not inf.list(), message="every alloc deleted from the cache")
    wait_for(lambda: rec.deletes() == {k for k, _ in items}, message="a delete handler call for every key")
    assert all(not inf.by_index("node", f"n{n}") for n in range(3))


def test_index_added_after_start_covers_the_cache(store: Store) -> None:
    inf: Informer[Allocation] = Informer(store, store.keys.allocs, Allocation)
    store.put(store.keys.alloc("a000"), alloc(0, job="api"))
    inf.start()
    try:
        assert inf.wait_synced(10)
        inf.add_index("job", lambda a: [a.job_id])
        assert [a.id for a in inf.by_index("job", "api")] == ["a000"]
    finally:
        inf.stop()


def test_informer_restarts_after_stop(store: Store, informer: tuple[Informer[Allocation], Recorder]) -> None:
    """A controller that loses and regains leadership stops and starts its informers."""
    inf, rec = informer
    k = store.keys
    store.put(k.alloc("a000"), alloc(0))
    inf.start()
    assert inf.wait_synced(10)
    inf.stop()
    store.delete(k.alloc("a000"))
    store.put(k.alloc("a001"), alloc(1))
    inf.start()
    assert inf.wait_synced(10)
    assert cache_matches(inf, store)
    assert k.alloc("a000") in rec.deletes()
    assert k.alloc("a001") in rec.puts()
    store.put(k.alloc("a002"), alloc(2))
    wait_for(lambda: inf.get(k.alloc("a002")) is not None, message="watch after restart")


def test_watch_survives_etcd_restart(private_etcd: EmbeddedEtcd) -> None:
    prefix = f"/t-{uuid.uuid4().hex[:8]}/"
    store = Store([private_etcd.endpoint], prefix=prefix, retry_for=30)
    writer = Store([private_etcd.endpoint], prefix=prefix, retry_for=30)
    k = store.keys
    inf: Informer[Allocation] = Informer(store, k.allocs, Allocation)
    rec = Recorder()
    inf.add_handler(rec)
    try:
        for i in range(5):
            writer.put(k.alloc(f"a{i:03d}"), alloc(i))
        inf.start()
        assert inf.wait_synced(10)
        # written while etcd is up, seen through the watch
        for i in range(5, 10):
            writer.put(k.alloc(f"a{i:03d}"), alloc(i))
        wait_for(lambda: len(inf.list()) == 10, message="the first ten allocs")

        private_etcd.stop()
        private_etcd.start()
        # written at once after the restart, before the informer has re-watched: these
        # lie between its last seen revision and its new watch and must still arrive
        writer.delete(k.alloc("a000"))
        for i in range(10, 20):
            writer.put(k.alloc(f"a{i:03d}"), alloc(i))
        writer.put(k.alloc("a005"), alloc(5, node="n9"))

        expected_keys = {k.alloc(f"a{i:03d}") for i in range(1, 20)}
        wait_for(
            lambda: {v.key for v in inf.items()} == expected_keys,
            timeout=30,
            message=lambda: f"cache after restart; missing {expected_keys - {v.key for v in inf.items()}}",
        )
        wait_for(lambda: inf.get(k.alloc("a005")) == alloc(5, node="n9"), message="update after restart")
        assert cache_matches(inf, writer)
        wait_for(
            lambda: rec.puts() >= {k.alloc(f"a{i:03d}") for i in range(20)}, message="handler saw every put"
        )
        wait_for(lambda: rec.deletes() == {k.alloc("a000")}, message="handler saw the delete")
        # and it keeps following
        writer.put(k.alloc("a099"), alloc(99))
        wait_for(lambda: inf.get(k.alloc("a099")) is not None, message="a put after recovery")
    finally:
        inf.stop()
        store.close()
        writer.close()


def test_event_application_rules() -> None:
    """The cache's event rules, fed directly (no etcd needed: the store is never called)."""
    from reconciler import codec
    from reconciler.store import WatchEvent

    inf: Informer[Allocation] = Informer(
        Store(["http://127.0.0.1:1"], prefix="/x/"), "/x/allocs/", Allocation
    )
    rec = Recorder()
    inf.add_handler(rec)
    gen = inf._generation

    def put(i: int, rev: int, node: str = "n1") -> WatchEvent:
        return WatchEvent("put", f"/x/allocs/{i}", codec.encode(alloc(i, node=node)), rev)

    # one transaction's events split over two batches: all applied
    inf._on_watch(gen, [put(1, 10), put(2, 10)])
    inf._on_watch(gen, [put(3, 10)])
    assert len(inf.list()) == 3
    assert len(rec.events) == 3
    # a duplicate (same key, same revision) and an older put are skipped
    inf._on_watch(gen, [put(1, 10, node="dup"), put(2, 9, node="old")])
    assert len(rec.events) == 3
    assert inf.get("/x/allocs/1") == alloc(1)
    # a delete older than the cached object is skipped; a newer one applies
    inf._on_watch(gen, [WatchEvent("delete", "/x/allocs/1", None, 9)])
    assert inf.get("/x/allocs/1") is not None
    inf._on_watch(gen, [WatchEvent("delete", "/x/allocs/1", None, 11)])
    assert inf.get("/x/allocs/1") is None
    assert inf.revision == 11
    # deleting an unknown key notifies nobody
    inf._on_watch(gen, [WatchEvent("delete", "/x/allocs/9", None, 12)])
    assert len(rec.events) == 4
    # callbacks of an abandoned watch are ignored
    inf._on_watch(gen - 1, [put(5, 20)])
    assert inf.get("/x/allocs/5") is None
    # an undecodable value is skipped, not fatal
    inf._on_watch(gen, [WatchEvent("put", "/x/allocs/6", b"{not json", 21), put(7, 21)])
    assert inf.get("/x/allocs/6") is None
    assert inf.get("/x/allocs/7") is not None


def test_wait_revision_returns_once_the_write_is_cached(
    store: Store, informer: tuple[Informer[Allocation], Recorder]
) -> None:
    inf, _ = informer
    k = store.keys
    inf.start()
    assert inf.wait_synced(10)
    rev = store.put(k.alloc("a000"), alloc(0))
    assert inf.wait_revision(rev, 10)
    assert inf.get(k.alloc("a000")) == alloc(0)  # the write of that revision is in the cache
    assert inf.wait_revision(rev - 1, 0)  # already reached: no wait


def test_wait_revision_times_out_and_gives_up_on_stop(
    store: Store, informer: tuple[Informer[Allocation], Recorder]
) -> None:
    inf, _ = informer
    inf.start()
    assert inf.wait_synced(10)
    ahead = store.put(store.keys.node("n1"), "another prefix") + 1000
    assert not inf.wait_revision(ahead, 0.05)
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(inf.wait_revision(ahead, 60)))
    waiter.start()
    inf.stop()
    waiter.join(10)
    assert results == [False]


def test_a_bytes_informer_caches_raw_values(store: Store) -> None:
    inf: Informer[bytes] = Informer(store, store.keys.kind("sched_guard"), bytes)
    try:
        key = f"{store.keys.kind('sched_guard')}default/web"
        store.put(key, "token:1")  # a marker, not JSON
        inf.start()
        assert inf.wait_synced(10)
        assert inf.get(key) == b"token:1"
        rev = store.put(key, "token:2")
        assert inf.wait_revision(rev, 10)
        got = inf.get_versioned(key)
        assert got is not None
        assert got.value == b"token:2"
        assert got.mod_revision == rev
    finally:
        inf.stop()


class Counts:
    """An aggregate: allocations per node, kept from the informer's changes."""

    def __init__(self) -> None:
        self.per_node: dict[str, int] = {}
        self.resets = 0

    def reset(self, items: Mapping[str, Allocation]) -> None:
        self.resets += 1
        self.per_node = {}
        for a in items.values():
            self.per_node[a.node_id] = self.per_node.get(a.node_id, 0) + 1

    def change(self, key: str, old: Allocation | None, new: Allocation | None) -> None:
        if old is not None:
            self.per_node[old.node_id] -= 1
        if new is not None:
            self.per_node[new.node_id] = self.per_node.get(new.node_id, 0) + 1


def test_an_aggregate_reflects_a_revision_once_the_cache_does(store: Store) -> None:
    """Updated under the informer's lock: `wait_revision` returning is enough, no handler to
    wait for (the scheduler's node usage relies on this)."""
    k = store.keys
    store.put(k.alloc("a000"), alloc(0))
    inf: Informer[Allocation] = Informer(store, k.allocs, Allocation)
    counts = Counts()
    inf.start()
    try:
        assert inf.wait_synced(10)
        inf.add_aggregate(counts)  # added after start: covers the cache at once
        assert counts.per_node == {"n1": 1}
        for i in range(1, 40):
            rev = store.put(k.alloc(f"a{i:03d}"), alloc(i, node=f"n{i % 2}"))
            assert inf.wait_revision(rev, 10)
            assert sum(counts.per_node.values()) == i + 1
        store.delete(k.alloc("a000"))
        rev = store.put(k.alloc("a999"), alloc(999))  # a later revision: the delete is applied
        assert inf.wait_revision(rev, 10)
        assert counts.per_node == {"n0": 19, "n1": 21}
        assert counts.resets == 1
    finally:
        inf.stop()
