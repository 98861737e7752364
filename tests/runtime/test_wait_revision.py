"""`Informer.wait_revision` for a revision that wrote nothing under the informer's prefix:
answered by the watch's progress (etcd's progress request), not left waiting for the
prefix's next write. The scheduler relies on it to see a node change written with the
evaluation it works on (a node purge, drain or loss), with a real etcd."""

from __future__ import annotations

from reconciler.model.objects import Allocation, Node
from reconciler.runtime import Informer
from reconciler.store import Store


def test_a_revision_written_elsewhere_is_reached_without_a_write_here(store: Store) -> None:
    inf: Informer[Allocation] = Informer(store, store.keys.allocs, Allocation)
    inf.start()
    try:
        assert inf.wait_synced(10)
        elsewhere = store.put(store.keys.node("n1"), Node(id="n1", name="n1"))
        assert inf.revision < elsewhere
        assert inf.wait_revision(elsewhere, 10)
        assert inf.revision >= elsewhere
        assert inf.list() == []  # nothing under the prefix came with it
    finally:
        inf.stop()


def test_a_revision_not_yet_written_is_still_not_reached(store: Store) -> None:
    inf: Informer[Allocation] = Informer(store, store.keys.allocs, Allocation)
    inf.start()
    try:
        assert inf.wait_synced(10)
        assert not inf.wait_revision(store.revision() + 1000, 0.3)
    finally:
        inf.stop()
