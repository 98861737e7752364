"""Job versions are collected past Nomad's six (review M8), never the current one and never
one an allocation still runs: the pure rule, table-driven, and the collector over etcd with
versions written by real submissions."""

from __future__ import annotations

import dataclasses

import pytest

from controllers.liveness.collector import GarbageCollector
from controllers.liveness.gc import versions_to_collect
from reconciler.model.gc_policy import GcThresholds
from reconciler.model.objects import Allocation, JobRecord
from reconciler.ops.jobs import submit_job
from reconciler.store import Store
from tests.factories import mock_job, submitted_job
from tests.scheduler.factories import mock_alloc
from tests.waiting import wait_for


def record(version: int, job_id: str = "web", namespace: str = "default") -> JobRecord:
    return JobRecord(namespace=namespace, id=job_id, version=version, job=mock_job(1), spec_hash=str(version))


def alloc_of(version: int, job_id: str = "web") -> Allocation:
    return mock_alloc(mock_job(1, id=job_id), 0, version=version)


CASES = [
    # (versions stored, current version, versions allocations run, collected)
    (range(6), 5, [], []),
    (range(8), 7, [], [0, 1]),
    (range(8), 7, [0], [1]),  # version 0 still runs somewhere
    (range(10), 9, [9], [0, 1, 2, 3]),
    (range(8), 1, [], [0]),  # a revert made 1 current again (as a copy, here the same number)
]


@pytest.mark.parametrize(("stored", "current", "running", "collected"), CASES)
def test_versions_to_collect(stored: range, current: int, running: list[int], collected: list[int]) -> None:
    got = versions_to_collect(
        [record(v) for v in stored],
        keep=6,
        jobs={("default", "web")},
        current=[record(current)],
        allocs=[alloc_of(v) for v in running],
    )
    assert sorted(r.version for r in got) == collected


def test_the_newest_stable_version_is_kept_for_an_auto_revert() -> None:
    versions = [dataclasses.replace(record(v), stable=v in (0, 1)) for v in range(9)]
    got = versions_to_collect(versions, keep=6, jobs={("default", "web")}, current=[record(8)])
    assert sorted(r.version for r in got) == [0, 2]


def test_each_job_keeps_its_own_history() -> None:
    versions = [record(v, "a") for v in range(7)] + [record(v, "b") for v in range(3)]
    jobs = {("default", "a"), ("default", "b")}
    got = versions_to_collect(versions, keep=6, jobs=jobs, current=[record(6, "a"), record(2, "b")])
    assert [(r.id, r.version) for r in got] == [("a", 0)]
    assert GcThresholds().versions == 6  # Nomad's JobTrackedVersions


def test_the_collector_deletes_old_versions_from_etcd(store: Store) -> None:
    for i in range(9):  # nine different specs: versions 0..8
        submit_job(store, dataclasses.replace(submitted_job("web"), meta={"rev": str(i)}))
    running = mock_alloc(submitted_job("web"), 0, id="old-one", version=1)
    store.put(store.keys.alloc(running.id), running)
    c = GarbageCollector(store, every=0, after=3600)
    c.start()
    try:
        wait_for(lambda: len(c.versions.list()) == 9 and c.allocs.list(), message="caches")
        c.collect()
    finally:
        c.stop()
    left, _ = store.list(store.keys.job_versions("default", "web"), JobRecord)
    assert sorted(v.value.version for v in left) == [1, 3, 4, 5, 6, 7, 8]
