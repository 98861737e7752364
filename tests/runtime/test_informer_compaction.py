"""A compaction against the test's own etcd (compacting the shared one would disturb other
tests): an informer whose watch broke while etcd was changed and compacted past its
revision re-lists, so its cache, indexes and handlers end as etcd is and it keeps
following; and the store's watch reports a compacted start revision as `Compacted`."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.objects import Allocation
from reconciler.runtime import Informer
from reconciler.store import Compacted, Store, StoreError, Watch, WatchCallback
from tests.runtime.informer_helpers import Recorder, alloc, cache_matches
from tests.waiting import wait_for


class GatedStore(Store):
    """A real Store whose `watch` waits at a gate the test controls, so the test can change
    (and compact) etcd between an informer's broken watch and its re-watch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()
        self.compacted_seen = 0

    def watch(self, prefix: str, start_revision: int, callback: WatchCallback, **kw: Any) -> Watch:
        if not self.gate.is_set():
            self.waiting.set()
            self.gate.wait()
        return super().watch(prefix, start_revision, callback, **kw)


def test_informer_relists_after_compaction(private_etcd: EmbeddedEtcd) -> None:
    prefix = f"/t-{uuid.uuid4().hex[:8]}/"
    store = GatedStore([private_etcd.endpoint], prefix=prefix, retry_for=30)
    writer = Store([private_etcd.endpoint], prefix=prefix)
    k = store.keys
    inf: Informer[Allocation] = Informer(store, k.allocs, Allocation)
    inf.add_index("node", lambda a: [a.node_id])
    rec = Recorder()
    inf.add_handler(rec)
    try:
        for i in range(6):
            writer.put(k.alloc(f"a{i:03d}"), alloc(i))
        inf.start()
        assert inf.wait_synced(10)
        seen_rev = inf.revision

        store.gate.clear()
        store.close()  # breaks the informer's watch stream; its re-watch waits at the gate
        wait_for(store.waiting.is_set, message="the informer to try to re-watch")

        writer.delete(k.alloc("a000"))
        writer.delete(k.alloc("a001"))
        writer.put(k.alloc("a002"), alloc(2, node="n7"))
        writer.put(k.alloc("a010"), alloc(10))
        now = writer.revision()
        writer.compact(now)
        assert now > seen_rev + 1
        store.gate.set()

        wait_for(lambda: cache_matches(inf, writer), timeout=15, message="cache to match etcd after re-list")
        wait_for(lambda: rec.deletes() == {k.alloc("a000"), k.alloc("a001")}, message="deletes delivered")
        assert [a.id for a in inf.by_index("node", "n7")] == ["a002"]
        assert inf.revision >= now
        wait_for(lambda: k.alloc("a010") in rec.puts(), message="put of a010 delivered")
        writer.put(k.alloc("a011"), alloc(11))
        wait_for(lambda: inf.get(k.alloc("a011")) is not None, message="watch after re-list")
    finally:
        store.gate.set()
        inf.stop()
        store.close()
        writer.close()


def test_store_watch_reports_compaction(private_etcd: EmbeddedEtcd) -> None:
    store = Store([private_etcd.endpoint], prefix="/c/")
    try:
        first = store.put("/c/x", "1")
        store.put("/c/x", "2")
        store.put("/c/x", "3")
        store.compact(store.revision())
        got: list[Any] = []

        def cb(r: Any) -> None:
            got.append(r)

        try:
            w = store.watch("/c/", first, cb)
        except Compacted as exc:
            got.append(exc)
        else:
            wait_for(lambda: got, message="a compaction report")
            w.cancel()
        assert isinstance(got[0], Compacted)
        assert isinstance(got[0], StoreError)
        assert got[0].revision > first
    finally:
        store.close()
