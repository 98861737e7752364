"""A fenced store view (one leader term): its writes carry the term, so they are refused
locally once the term is closed or invalid, and by etcd once the leader key is another
term's, even when the local test still passed (a leader paused between check and send)."""

from __future__ import annotations

import pytest

from reconciler.store import Fence, Fenced, Store, Txn


def term(store: Store, lease: int | None = None) -> Fence:
    key = store.keys.leader("x")
    rev = store.commit_revision(Txn().compare_absent(key).put(key, b"me", lease=lease))
    assert rev is not None
    return Fence(key, rev)


def test_a_fenced_write_applies_while_the_term_holds(store: Store) -> None:
    fenced = store.fenced(term(store))
    fenced.put(store.keys.node("n1"), {"v": 1})
    assert fenced.update(store.keys.node("n1"), dict, lambda v: {"v": 2}) is not None
    got = store.get(store.keys.node("n1"), dict)
    assert got is not None
    assert got.value == {"v": 2}


def test_etcd_refuses_a_write_once_the_leader_key_is_another_terms(store: Store) -> None:
    fence = term(store)
    fenced = store.fenced(fence)
    store.delete(fence.key)
    term(store)  # somebody else's term
    with pytest.raises(Fenced, match="no longer at revision"):
        fenced.put(store.keys.node("n1"), b"v")
    assert store.get_raw(store.keys.node("n1")) is None
    assert fence.closed


def test_a_closed_or_invalid_term_refuses_before_sending(store: Store) -> None:
    valid = [True]
    fence = Fence(store.keys.leader("x"), 1, valid=lambda: valid[0])
    fenced = store.fenced(fence)
    valid[0] = False
    with pytest.raises(Fenced, match="is over"):
        fenced.commit(Txn().put(store.keys.node("n1"), b"v"))
    assert store.get_raw(store.keys.node("n1")) is None


def test_a_lost_race_under_a_holding_term_is_a_conflict_not_a_fence(store: Store) -> None:
    fenced = store.fenced(term(store))
    key = store.keys.node("n1")
    store.put(key, b"v")
    assert fenced.replace(key, 1, b"w") is False  # a stale revision: the caller's race


def test_closing_a_view_leaves_the_store_open(store: Store) -> None:
    store.fenced(term(store)).close()
    store.retrying_for(1.0).close()
    assert store.ping() > 0
