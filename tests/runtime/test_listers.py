"""`JobVersions` against a real etcd: a version is read once and then served from the
cache, the cache stays within its size, and a version not written yet is not remembered."""

from __future__ import annotations

from reconciler.model.job import Job, Task, TaskGroup
from reconciler.model.objects import JobRecord
from reconciler.runtime.listers import JobVersions
from reconciler.store import Store


def record(job_id: str, version: int) -> JobRecord:
    job = Job(
        id=job_id,
        task_groups=[TaskGroup(name="g", count=version + 1, tasks=[Task(name="t", driver="raw_exec")])],
    )
    return JobRecord(namespace="default", id=job_id, version=version, job=job, spec_hash=str(version))


def test_versions_are_read_once_and_kept(store: Store) -> None:
    k = store.keys
    store.put(k.job_version("default", "web", 0), record("web", 0))
    versions = JobVersions(store)
    assert versions.get("default", "web", 0) == record("web", 0)
    store.delete(k.job_version("default", "web", 0))  # never happens to a version; proves the cache answers
    assert versions.get("default", "web", 0) == record("web", 0)


def test_a_missing_version_is_read_again_later(store: Store) -> None:
    versions = JobVersions(store)
    assert versions.get("default", "web", 3) is None
    store.put(store.keys.job_version("default", "web", 3), record("web", 3))
    assert versions.get("default", "web", 3) == record("web", 3)


def test_the_cache_keeps_the_most_recently_used(store: Store) -> None:
    k = store.keys
    for v in range(3):
        store.put(k.job_version("default", "web", v), record("web", v))
    versions = JobVersions(store, size=2)
    versions.get("default", "web", 0)
    versions.get("default", "web", 1)
    versions.get("default", "web", 0)  # 0 is now the most recent; 1 goes next
    versions.get("default", "web", 2)
    assert len(versions) == 2
    store.delete_prefix(k.job_versions("default", "web"))
    assert versions.get("default", "web", 0) == record("web", 0)
    assert versions.get("default", "web", 2) == record("web", 2)
    assert versions.get("default", "web", 1) is None  # evicted, and gone from etcd
