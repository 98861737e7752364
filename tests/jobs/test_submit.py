"""The submission path against a real etcd: versions, evaluations, stop, purge, races."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from reconciler.jobs import job_history, stop_job, submit_job
from reconciler.jobs.submit import InvalidIdentifier, JobNotFound
from reconciler.model.objects import Evaluation, JobRecord
from reconciler.store import Store
from tests.factories import submitted_job


def evals(store: Store) -> list[Evaluation]:
    items, _ = store.list(store.keys.evals, Evaluation)
    return [i.value for i in items]


def test_first_submission_is_version_0_with_an_eval(store: Store) -> None:
    res = submit_job(store, submitted_job("web"))
    assert (res.version, res.changed) == (0, True)
    rec = store.get(store.keys.job("default", "web"), JobRecord)
    assert rec is not None and rec.value.version == 0 and rec.value.job.id == "web"
    ev = store.get(store.keys.eval(res.eval_id), Evaluation)
    assert ev is not None and ev.value.triggered_by == "job-register" and ev.value.job_id == "web"


def test_unchanged_spec_makes_no_new_version_but_a_new_eval(store: Store) -> None:
    first = submit_job(store, submitted_job("web"))
    again = submit_job(store, submitted_job("web"))
    assert (again.version, again.changed) == (0, False)
    assert again.eval_id != first.eval_id
    assert len(job_history(store, "default", "web")) == 1
    assert len(evals(store)) == 2


def test_a_changed_spec_is_a_new_version_and_history_keeps_both(store: Store) -> None:
    submit_job(store, submitted_job("web", count=1))
    res = submit_job(store, submitted_job("web", count=3))
    assert (res.version, res.changed) == (1, True)
    history = job_history(store, "default", "web")
    assert [h.version for h in history] == [1, 0]
    assert [h.job.task_groups[0].count for h in history] == [3, 1]


def test_stop_keeps_history_and_purge_removes_it(store: Store) -> None:
    submit_job(store, submitted_job("web"))
    stop_job(store, "default", "web")
    rec = store.get(store.keys.job("default", "web"), JobRecord)
    assert rec is not None and rec.value.stop and rec.value.version == 1
    assert len(job_history(store, "default", "web")) == 2
    # resubmitting a stopped job runs it again as a new version
    res = submit_job(store, submitted_job("web"))
    assert res.changed and res.version == 2
    stop_job(store, "default", "web", purge=True)
    assert store.get(store.keys.job("default", "web"), JobRecord) is None
    assert job_history(store, "default", "web") == []
    assert [e.triggered_by for e in evals(store)].count("job-deregister") == 2


def test_stopping_an_unknown_job_is_an_error(store: Store) -> None:
    with pytest.raises(JobNotFound):
        stop_job(store, "default", "nope")


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", "white space"], ids=lambda b: f"job id {b!r} is refused")
def test_identifiers_that_cannot_be_keys_are_refused_and_nothing_is_written(store: Store, bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        submit_job(store, replace(submitted_job("web"), id=bad))
    assert store.count(store.keys.prefix) == 0


def test_concurrent_submissions_never_lose_a_version(store: Store) -> None:
    errors: list[BaseException] = []

    def submit(n: int) -> None:
        try:
            submit_job(store, submitted_job("web", count=n))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    versions = [h.version for h in job_history(store, "default", "web")]
    assert sorted(versions) == list(range(8))
    current = store.get(store.keys.job("default", "web"), JobRecord)
    assert current is not None and current.value.version == 7


def test_check_index_submits_only_over_the_planned_version(store: Store) -> None:
    from reconciler.jobs.submit import IndexMismatch

    with pytest.raises(IndexMismatch):
        submit_job(store, submitted_job("web"), enforce_index=5)
    assert store.get(store.keys.job("default", "web"), JobRecord) is None
    submit_job(store, submitted_job("web"), enforce_index=0)
    cur = store.get(store.keys.job("default", "web"), JobRecord)
    assert cur is not None
    with pytest.raises(IndexMismatch):
        submit_job(store, submitted_job("web", count=2), enforce_index=0)
    res = submit_job(store, submitted_job("web", count=2), enforce_index=cur.mod_revision)
    assert res.version == 1
