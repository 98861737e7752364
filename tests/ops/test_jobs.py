"""The submission path against a real etcd: versions, evaluations, stop, purge, races."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from reconciler.model.objects import Evaluation, JobRecord
from reconciler.ops.job_stop import stop_job
from reconciler.ops.jobs import InvalidIdentifier, JobNotFound, job_history, submit_job
from reconciler.store import Store
from tests.factories import submitted_job


def evals(store: Store) -> list[Evaluation]:
    items, _ = store.list(store.keys.evals, Evaluation)
    return [i.value for i in items]


def test_first_submission_is_version_0_with_an_eval(store: Store) -> None:
    res = submit_job(store, submitted_job("web"))
    assert (res.version, res.changed) == (0, True)
    rec = store.get(store.keys.job("default", "web"), JobRecord)
    assert rec is not None
    assert rec.value.version == 0
    assert rec.value.job.id == "web"
    ev = store.get(store.keys.eval(res.eval_id), Evaluation)
    assert ev is not None
    assert ev.value.triggered_by == "job-register"
    assert ev.value.job_id == "web"


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
    assert rec is not None
    assert rec.value.stop
    assert rec.value.version == 1
    assert len(job_history(store, "default", "web")) == 2
    # resubmitting a stopped job runs it again as a new version
    res = submit_job(store, submitted_job("web"))
    assert res.changed
    assert res.version == 2
    stop_job(store, "default", "web", purge=True)
    assert store.get(store.keys.job("default", "web"), JobRecord) is None
    assert job_history(store, "default", "web") == []
    assert [e.triggered_by for e in evals(store)].count("job-deregister") == 2


def test_stopping_an_unknown_job_is_an_error(store: Store) -> None:
    with pytest.raises(JobNotFound):
        stop_job(store, "default", "nope")


@pytest.mark.parametrize(
    "bad", ["../etc", "a/b", "", "white space"], ids=lambda b: f"job id {b!r} is refused"
)
def test_identifiers_that_cannot_be_keys_are_refused_and_nothing_is_written(store: Store, bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        submit_job(store, replace(submitted_job("web"), id=bad))
    assert store.count(store.keys.prefix) == 0


def test_concurrent_submissions_never_lose_a_version(store: Store) -> None:
    errors: list[BaseException] = []

    def submit(n: int) -> None:
        try:
            submit_job(store, submitted_job("web", count=n))
        except BaseException as exc:
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
    assert current is not None
    assert current.value.version == 7


def test_check_index_submits_only_over_the_planned_version(store: Store) -> None:
    from reconciler.ops.jobs import IndexMismatch

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


def test_modify_index_is_the_revision_the_write_committed_at(store: Store) -> None:
    res = submit_job(store, submitted_job("web"))
    store.put(
        store.keys.eval("unrelated"),
        Evaluation(id="unrelated", namespace="default", job_id="x", triggered_by="x"),
    )
    cur = store.get(store.keys.job("default", "web"), JobRecord)
    assert cur is not None
    assert res.modify_index == cur.mod_revision < store.revision()
    ev = store.get(store.keys.eval(res.eval_id), Evaluation)
    assert ev is not None
    assert ev.mod_revision == res.modify_index


def test_purge_removes_job_history_and_writes_its_eval_in_one_revision(store: Store) -> None:
    for n in range(1, 4):
        submit_job(store, submitted_job("web", count=n))
    res = stop_job(store, "default", "web", purge=True)
    assert job_history(store, "default", "web") == []
    ev = store.get(store.keys.eval(res.eval_id), Evaluation)
    assert ev is not None
    assert ev.mod_revision == res.modify_index == store.revision()


def test_stopping_a_stopped_job_only_creates_an_eval(store: Store) -> None:
    submit_job(store, submitted_job("web"))
    first = stop_job(store, "default", "web")
    again = stop_job(store, "default", "web")
    assert (first.changed, again.changed, again.version) == (True, False, 1)
    assert again.eval_id != first.eval_id
    assert len(job_history(store, "default", "web")) == 2


def test_scale_writes_a_new_version_with_the_group_count(store: Store) -> None:
    from reconciler.ops.jobs import scale_job

    submit_job(store, submitted_job("web", count=1))
    res = scale_job(store, "default", "web", "web", 4)
    assert (res.version, res.changed) == (1, True)
    assert job_history(store, "default", "web")[0].job.task_groups[0].count == 4
    ev = store.get(store.keys.eval(res.eval_id), Evaluation)
    assert ev is not None
    assert ev.value.triggered_by == "job-scaling"


@pytest.mark.parametrize(
    ("group", "count", "stopped", "error"),
    [("nope", 2, False, "Rejected"), ("web", -1, False, "Rejected"), ("web", 2, True, "Rejected")],
    ids=["unknown group", "negative count", "stopped job"],
)
def test_scale_refusals_write_nothing(
    store: Store, group: str, count: int, stopped: bool, error: str
) -> None:
    from reconciler.ops import errors
    from reconciler.ops.jobs import scale_job

    submit_job(store, submitted_job("web"))
    if stopped:
        stop_job(store, "default", "web")
    before = store.revision()
    with pytest.raises(getattr(errors, error)):
        scale_job(store, "default", "web", group, count)
    assert store.revision() == before


def test_revert_makes_an_old_spec_current_as_a_new_version(store: Store) -> None:
    from reconciler.ops.errors import NotFound, Rejected
    from reconciler.ops.jobs import revert_job

    submit_job(store, submitted_job("web", count=1))
    submit_job(store, submitted_job("web", count=5))
    res = revert_job(store, "default", "web", 0)
    assert (res.version, res.changed) == (2, True)
    assert job_history(store, "default", "web")[0].job.task_groups[0].count == 1
    with pytest.raises(Rejected):
        revert_job(store, "default", "web", 1, enforce_prior_version=7)
    with pytest.raises(NotFound):
        revert_job(store, "default", "web", 42)


def test_submit_ops_writes_a_submission_inside_the_callers_transaction(store: Store) -> None:
    from reconciler.ops.jobs import submit_ops
    from reconciler.store import Txn

    submit_job(store, submitted_job("web", count=1))
    cur = store.get(store.keys.job("default", "web"), JobRecord)
    txn = Txn().put(
        store.keys.eval("mine"), Evaluation(id="mine", namespace="default", job_id="web", triggered_by="x")
    )
    sub = submit_ops(txn, store.keys, submitted_job("web", count=2), cur, now=100.0)
    assert sub.changed
    assert sub.record.version == 1
    assert sub.evaluation.create_time == 100.0
    assert store.commit(txn)
    assert [h.version for h in job_history(store, "default", "web")] == [1, 0]
    assert store.get(store.keys.eval(sub.evaluation.id), Evaluation) is not None
    stale = Txn()
    submit_ops(stale, store.keys, submitted_job("web", count=3), cur, now=101.0)
    assert not store.commit(stale)


def test_purge_deletes_the_jobs_allocations_so_a_new_job_of_that_name_has_none(store: Store) -> None:
    from reconciler.model.objects import Allocation, AllocStatus, ClientStatus
    from tests.scheduler.factories import mock_alloc, mock_status

    job = submitted_job("web")
    submit_job(store, job)
    mine = [mock_alloc(job, i, id=f"web-{i}") for i in range(3)]
    other = mock_alloc(replace(job, id="other"), 0, id="other-0")
    for a in [*mine, other]:
        store.put(store.keys.alloc(a.id), a)
        store.put(store.keys.alloc_status(a.id), mock_status(a, ClientStatus.RUNNING))
    stop_job(store, "default", "web", purge=True)
    left, _ = store.list(store.keys.allocs, Allocation)
    assert [i.value.id for i in left] == ["other-0"]
    statuses, _ = store.list(store.keys.alloc_statuses, AllocStatus)
    assert [i.value.alloc_id for i in statuses] == ["other-0"]
    submit_job(store, job)
    left, _ = store.list(store.keys.allocs, Allocation)
    assert [a.value.job_id for a in left] == ["other"]
