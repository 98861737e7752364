"""The state store against a real etcd: typed round trips, prefixes, conditional writes,
transaction limits, leases, errors."""

from __future__ import annotations

import threading

import pytest

from reconciler.model.job import Job, Task, TaskGroup
from reconciler.model.objects import Allocation, Evaluation, JobRecord, Node, NodeResources
from reconciler.store import MAX_TXN_OPS, Store, StoreError, Txn, Unavailable
from tests.ports import free_port
from tests.waiting import wait_for


def make_job(job_id: str = "web") -> JobRecord:
    job = Job(
        id=job_id, task_groups=[TaskGroup(name="g", count=2, tasks=[Task(name="t", driver="raw_exec")])]
    )
    return JobRecord(namespace="default", id=job_id, version=0, job=job, spec_hash="h")


def test_typed_round_trips(store: Store) -> None:
    k = store.keys
    rec = make_job()
    alloc = Allocation(
        id="a1",
        namespace="default",
        job_id="web",
        job_version=0,
        task_group="g",
        name="web.g[0]",
        index=0,
        node_id="n1",
    )
    node = Node(id="n1", name="node-1", resources=NodeResources(cpu_mhz=4000, cores=2, memory_mb=2048))
    ev = Evaluation(id="e1", namespace="default", job_id="web", triggered_by="job-register")
    rev = store.put(k.job("default", "web"), rec)
    store.put(k.alloc("a1"), alloc)
    store.put(k.node("n1"), node)
    store.put(k.eval("e1"), ev)

    got = store.get(k.job("default", "web"), JobRecord)
    assert got is not None
    assert got.value == rec
    assert got.mod_revision == rev
    assert got.value.job.task_groups[0].tasks[0].name == "t"
    assert store.get(k.alloc("a1"), Allocation).value == alloc  # type: ignore[union-attr]
    assert store.get(k.node("n1"), Node).value == node  # type: ignore[union-attr]
    assert store.get(k.eval("e1"), Evaluation).value == ev  # type: ignore[union-attr]

    items, list_rev = store.list(k.allocs, Allocation)
    assert [i.value for i in items] == [alloc]
    assert list_rev >= rev
    # values are readable JSON with a schema version
    raw = store.get_raw(k.alloc("a1"))
    assert raw is not None
    assert b'"schema":1' in raw.value
    assert b'"job_id":"web"' in raw.value

    assert store.delete(k.alloc("a1")) is True
    assert store.get(k.alloc("a1"), Allocation) is None
    assert store.delete(k.alloc("a1")) is False
    assert store.list(k.allocs, Allocation)[0] == []


def test_prefixes_never_match_siblings(store: Store) -> None:
    k = store.keys
    store.put(k.job_version("default", "web", 0), make_job("web"))
    store.put(k.job_version("default", "web", 1), make_job("web"))
    store.put(k.job_version("default", "web2", 0), make_job("web2"))
    items, _ = store.list(k.job_versions("default", "web"), JobRecord)
    assert [i.value.id for i in items] == ["web", "web"]
    assert store.count(k.job_versions("default", "web")) == 2
    assert store.delete_prefix(k.job_versions("default", "web")) == 2
    assert store.count(k.job_versions("default", "web2")) == 1
    with pytest.raises(ValueError, match="must end with '/'"):
        store.list(k.prefix + "jobs", JobRecord)  # a prefix without "/" would match jobsX


def test_job_versions_list_in_version_order(store: Store) -> None:
    k = store.keys
    for v in (10, 2, 1, 0):
        store.put(k.job_version("default", "web", v), make_job())
    items, _ = store.list_raw(k.job_versions("default", "web"))
    assert [int(k.last_segment(i.key)) for i in items] == [0, 1, 2, 10]


def test_create_only_when_absent(store: Store) -> None:
    key = store.keys.eval("e1")
    assert store.create(key, "first") is True
    assert store.create(key, "second") is False
    assert store.get_raw(key).value == b"first"  # type: ignore[union-attr]


def test_replace_with_stale_revision_fails(store: Store) -> None:
    key = store.keys.node("n1")
    store.put(key, "v1")
    cur = store.get_raw(key)
    assert cur is not None
    assert store.replace(key, cur.mod_revision, "v2") is True
    assert store.replace(key, cur.mod_revision, "v3") is False  # stale
    assert store.get_raw(key).value == b"v2"  # type: ignore[union-attr]
    # replace never creates: a missing key has mod revision 0, not the one passed
    assert store.replace(store.keys.node("n2"), cur.mod_revision, "x") is False
    assert store.get_raw(store.keys.node("n2")) is None


def test_racing_writers_exactly_one_wins_each_round(store: Store) -> None:
    key = store.keys.job("default", "race")
    store.put(key, 0)
    rounds, writers = 60, 4
    wins: list[list[int]] = [[] for _ in range(rounds)]
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def writer(me: int) -> None:
        try:
            for r in range(rounds):
                cur = store.get_raw(key)
                assert cur is not None
                barrier.wait()  # everyone has read the same revision
                if store.commit(Txn().compare_mod(key, cur.mod_revision).put(key, f"{r}:{me}")):
                    wins[r].append(me)
                barrier.wait()  # round over before anyone reads again
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert all(len(w) == 1 for w in wins), wins
    last = store.get_raw(key)
    assert last is not None
    assert last.value.decode() == f"{rounds - 1}:{wins[-1][0]}"


def test_put_many_crosses_the_txn_limit(store: Store) -> None:
    items = [(store.keys.alloc(f"a{i:04d}"), {"i": i, "pad": "x" * 200}) for i in range(1000)]
    before = store.revision()
    assert store.put_many(items) == 1000
    listed, rev = store.list_raw(store.keys.allocs)
    assert len(listed) == 1000
    assert sorted(i.key for i in listed) == sorted(k for k, _ in items)
    # 1000 puts in ceil(1000/128) = 8 transactions, each one revision
    assert rev - before == 8
    assert len({i.mod_revision for i in listed}) == 8


def test_commit_over_the_limit_is_refused(store: Store) -> None:
    txn = Txn()
    for i in range(MAX_TXN_OPS + 1):
        txn.put(store.keys.alloc(f"a{i}"), "x")
    with pytest.raises(StoreError, match="129 operations"):
        store.commit(txn)
    assert store.count(store.keys.allocs) == 0
    # exactly the limit is fine
    txn.puts.pop()
    assert store.commit(txn) is True
    assert store.count(store.keys.allocs) == MAX_TXN_OPS


def test_mixed_txn_compares_and_deletes(store: Store) -> None:
    k = store.keys
    store.put(k.alloc("a"), "a")
    a = store.get_raw(k.alloc("a"))
    assert a is not None
    ok = store.commit(
        Txn()
        .compare_mod(k.alloc("a"), a.mod_revision)
        .compare_absent(k.alloc("b"))
        .put(k.alloc("b"), "b")
        .delete(k.alloc("a"))
    )
    assert ok
    assert store.get_raw(k.alloc("a")) is None
    assert store.get_raw(k.alloc("b")) is not None
    # a failing compare writes nothing
    assert not store.commit(Txn().compare_absent(k.alloc("b")).put(k.alloc("c"), "c"))
    assert store.get_raw(k.alloc("c")) is None


def test_lease_revoke_deletes_keys(store: Store) -> None:
    lease = store.lease(30)
    key = store.keys.heartbeat("n1")
    store.put(key, "alive", lease=lease.id)
    assert store.get_raw(key) is not None
    assert lease.alive()
    lease.revoke()
    assert store.get_raw(key) is None
    assert not lease.alive()


def test_revoking_a_gone_lease_is_harmless(store: Store) -> None:
    """Revoke after expiry or a second revoke: etcd answers NOT_FOUND; that must not escape
    (the leader elector revokes in a finally after losing its lease)."""
    lease = store.lease(30)
    lease.revoke()
    lease.revoke()
    assert not lease.alive()


def test_lease_expiry_deletes_keys_and_refresh_reports_it(store: Store) -> None:
    lease = store.lease(1)
    key = store.keys.heartbeat("n2")
    assert store.create(key, "alive", lease=lease.id)
    lease.refresh()  # a live lease refreshes fine
    wait_for(lambda: store.get_raw(key) is None, timeout=10, message="leased key to expire")
    with pytest.raises(StoreError, match="expired"):
        lease.refresh()


def test_lease_refresh_extends_the_ttl(store: Store) -> None:
    lease = store.lease(4)
    key = store.keys.heartbeat("n3")
    store.put(key, "alive", lease=lease.id)

    def ttl() -> int:
        return int(store._call(lambda c: c.get_lease_info(lease.id)).TTL)

    wait_for(lambda: ttl() <= 2, timeout=10, message="lease TTL to drop")
    lease.refresh()
    assert ttl() >= 3  # back to (about) the granted TTL
    assert store.get_raw(key) is not None
    lease.revoke()
    with pytest.raises(StoreError):
        lease.refresh()


def test_unavailable_names_the_endpoints() -> None:
    port = free_port()
    s = Store([f"http://127.0.0.1:{port}"], retry_for=0.5, timeout=0.5)
    try:
        with pytest.raises(Unavailable) as info:
            s.get_raw("/x")
        assert f"127.0.0.1:{port}" in str(info.value)
    finally:
        s.close()


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".", "..", "x\0y", "-lead", "a b"])
def test_keys_reject_invalid_identifiers(store: Store, bad: str) -> None:
    k = store.keys
    for make in (
        lambda: k.alloc(bad),
        lambda: k.job("default", bad),
        lambda: k.job(bad, "web"),
        lambda: k.node(bad),
        lambda: k.eval(bad),
        lambda: k.leader(bad),
        lambda: k.service(bad, "a", "http"),
        lambda: k.check("a", bad),
    ):
        with pytest.raises(ValueError, match="invalid"):
            make()


def test_non_transient_errors_are_store_errors(store: Store) -> None:
    # a lease id that does not exist: etcd answers NOT_FOUND, the caller sees a StoreError
    with pytest.raises(StoreError):
        store.put(store.keys.alloc("x"), "x", lease=0x7777)


def test_one_store_shared_by_many_threads(store: Store) -> None:
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(50):
                key = store.keys.alloc(f"t{t}-{i}")
                store.put(key, {"t": t, "i": i})
                got = store.get(key, dict)
                assert got is not None
                assert got.value == {"t": t, "i": i}
                if i % 10 == 0:
                    store.list_raw(store.keys.allocs)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors
    assert store.count(store.keys.allocs) == 400
