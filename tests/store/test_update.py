"""`Store.update`, the one optimistic read-modify-write, against a real etcd: create when
absent, change, no-op, extra writes in the same transaction, concurrent writers, and
`Conflict` once the attempts are used up."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import pytest

from reconciler.store import Conflict, Store, Txn


@dataclass
class Counter:
    n: int = 0
    schema: int = 1


def bump(cur: Counter | None) -> Counter:
    return Counter() if cur is None else replace(cur, n=cur.n + 1)


def test_creates_an_absent_key(store: Store) -> None:
    key = store.keys.node("n1")
    got = store.update(key, Counter, bump)
    assert got is not None
    assert got.value == Counter(0)
    stored = store.get(key, Counter)
    assert stored is not None
    assert stored.mod_revision == got.mod_revision == got.create_revision


def test_changes_an_existing_key_and_returns_its_new_revision(store: Store) -> None:
    key = store.keys.node("n1")
    first = store.put(key, Counter(5))
    got = store.update(key, Counter, bump)
    assert got is not None
    assert got.value == Counter(6)
    assert got.mod_revision > first
    assert got.create_revision == first
    assert store.get(key, Counter).mod_revision == got.mod_revision  # type: ignore[union-attr]


@pytest.mark.parametrize("existing", [None, Counter(3)], ids=["absent", "present"])
def test_none_from_fn_writes_nothing(store: Store, existing: Counter | None) -> None:
    key = store.keys.node("n1")
    if existing is not None:
        store.put(key, existing)
    before = store.revision()
    got = store.update(key, Counter, lambda cur: None)
    assert store.revision() == before
    assert (got.value if got else None) == existing


def test_also_writes_in_the_same_transaction(store: Store) -> None:
    key, side = store.keys.node("n1"), store.keys.eval("e1")
    got = store.update(key, Counter, bump, also=lambda new: Txn().put(side, Counter(new.n + 100)))
    assert got is not None
    extra = store.get(side, Counter)
    assert extra is not None
    assert extra.value == Counter(100)
    assert extra.mod_revision == got.mod_revision


def test_a_failing_also_compare_aborts_the_whole_write(store: Store) -> None:
    key, taken = store.keys.node("n1"), store.keys.eval("e1")
    store.put(taken, Counter())
    with pytest.raises(Conflict):
        store.update(key, Counter, bump, attempts=3, also=lambda new: Txn().compare_absent(taken))
    assert store.get(key, Counter) is None


def test_concurrent_updates_all_land(store: Store) -> None:
    key = store.keys.node("n1")
    store.put(key, Counter(0))
    threads = [
        threading.Thread(target=lambda: [store.update(key, Counter, bump, attempts=100) for _ in range(5)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get(key, Counter).value == Counter(20)  # type: ignore[union-attr]


def test_conflict_after_the_attempts_are_used_up(store: Store) -> None:
    key = store.keys.node("n1")
    store.put(key, Counter(0))
    calls = []

    def racing(cur: Counter | None) -> Counter:
        calls.append(cur)
        store.put(key, Counter(-1))  # someone else writes between our read and our write
        return bump(cur)

    with pytest.raises(Conflict):
        store.update(key, Counter, racing, attempts=4)
    assert len(calls) == 4
    assert store.get(key, Counter).value == Counter(-1)  # type: ignore[union-attr]
