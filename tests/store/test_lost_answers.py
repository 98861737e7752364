"""A write whose answer is lost is read back before it is sent again, against a real etcd
behind a proxy that loses the answer (the request applied) or the request (it did not)."""

from __future__ import annotations

from collections.abc import Iterator

import etcd3
import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.ids import new_id
from reconciler.store import Store, Txn
from tests.store.lossy_proxy import LossyProxy
from tests.store.test_update import Counter, bump


@pytest.fixture
def proxy(etcd: EmbeddedEtcd) -> Iterator[LossyProxy]:
    p = LossyProxy(int(etcd.endpoint.rsplit(":", 1)[1]))
    yield p
    p.stop()


@pytest.fixture
def lossy(proxy: LossyProxy, prefix: str) -> Iterator[Store]:
    s = Store([proxy.endpoint], prefix=prefix, retry_for=15)
    yield s
    s.close()


def test_an_applied_write_whose_answer_was_lost_is_reported_applied(
    lossy: Store, store: Store, proxy: LossyProxy, etcd: EmbeddedEtcd
) -> None:
    marker = lossy.keys.eval(new_id())
    before = lossy.revision()
    proxy.lose("answers")
    revision = lossy.commit_revision(Txn().compare_absent(marker).put(marker, Counter(7)))
    assert proxy.cuts == 1
    assert proxy.dropped > 0
    got = store.get(marker, Counter)
    assert got is not None
    assert got.value == Counter(7)
    assert revision == got.mod_revision == got.create_revision
    # applied once, by the first attempt: the marker's only version is the one reported (the
    # session's etcd is shared, so other keys may have moved the global revision meanwhile)
    meta = etcd3.client(etcd.host, etcd.client_port).get(marker)[1]
    assert meta.version == 1
    assert meta.mod_revision > before


def test_a_write_whose_request_was_lost_is_sent_again(lossy: Store, store: Store, proxy: LossyProxy) -> None:
    marker = lossy.keys.eval(new_id())
    lossy.revision()
    proxy.lose("requests")
    assert lossy.commit(Txn().compare_absent(marker).put(marker, Counter(3)))
    assert proxy.cuts == 1
    assert proxy.dropped > 0
    got = store.get(marker, Counter)
    assert got is not None
    assert got.value == Counter(3)


def test_update_through_a_lost_answer_applies_its_change_once(
    lossy: Store, store: Store, proxy: LossyProxy
) -> None:
    key, side = lossy.keys.node("n1"), lossy.keys.eval(new_id())
    store.put(key, Counter(0))

    def bump_then_lose_the_answer(cur: Counter | None) -> Counter:
        if not proxy.cuts:
            proxy.lose("answers")  # of the write that follows this read
        return bump(cur)

    got = lossy.update(key, Counter, bump_then_lose_the_answer, also=lambda new: Txn().put(side, new))
    assert proxy.cuts == 1
    assert got is not None
    assert got.value == Counter(1)
    assert store.get(key, Counter).value == Counter(1)  # type: ignore[union-attr]
    assert store.get(side, Counter).mod_revision == got.mod_revision  # type: ignore[union-attr]


def test_a_put_whose_answer_was_lost_is_not_written_twice(
    lossy: Store, store: Store, proxy: LossyProxy
) -> None:
    key = lossy.keys.node("n1")
    before = lossy.revision()
    proxy.lose("answers")
    revision = lossy.put(key, Counter(1))
    assert proxy.cuts == 1
    got = store.get(key, Counter)
    assert got is not None
    assert got.value == Counter(1)
    # written once, and that write reported: a second put would have moved the mod revision
    # past the create revision (the shared etcd's own revision also moves with other writers)
    assert revision > before
    assert got.create_revision == got.mod_revision == revision


def test_a_delete_whose_answer_was_lost_reports_the_key_deleted(
    lossy: Store, store: Store, proxy: LossyProxy
) -> None:
    key = lossy.keys.node("n1")
    store.put(key, Counter(1))
    lossy.revision()
    proxy.lose("answers")
    assert lossy.delete(key) is True
    assert proxy.cuts == 1
    assert store.get_raw(key) is None
