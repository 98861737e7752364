"""`dispatch_job` against a real etcd: the child, its evaluation and launch record in one
transaction, the idempotency token (also when racing), and refusals."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from reconciler.model.ids import child_parent
from reconciler.model.job import JobType, Parameterized, PayloadRule
from reconciler.model.objects import ChildLaunch, Evaluation, JobRecord
from reconciler.ops.dispatch import dispatch_job
from reconciler.ops.errors import JobNotFound, Rejected
from reconciler.ops.job_stop import stop_job
from reconciler.ops.jobs import job_history, submit_job
from reconciler.store import Store
from tests.factories import submitted_job


def parameterized(store: Store, rule: Parameterized | None = None) -> None:
    job = replace(
        submitted_job("render"),
        type=JobType.BATCH,
        parameterized=rule or Parameterized(meta_optional=["user"]),
    )
    submit_job(store, job)


def children(store: Store) -> list[JobRecord]:
    items, _ = store.list(store.keys.jobs_in("default"), JobRecord)
    return [i.value for i in items if i.value.job.parent_id == "render"]


def test_a_dispatch_submits_one_child_with_its_evaluation(store: Store) -> None:
    parameterized(store)
    res = dispatch_job(store, "default", "render", payload=b"hello", meta={"user": "ann"})
    assert child_parent(res.dispatched_job_id) == "render"
    (child,) = children(store)
    assert child.id == res.dispatched_job_id
    assert child.job.dispatched
    assert child.job.meta["user"] == "ann"
    ev = store.get(store.keys.eval(res.eval_id), Evaluation)
    assert ev is not None
    assert ev.value.job_id == child.id
    launch = store.get(store.keys.child_launch("default", "render"), ChildLaunch)
    assert launch is not None
    assert launch.mod_revision == res.index
    # the child's versions are its own: the parent's history does not list them
    assert [r.id for r in job_history(store, "default", "render")] == ["render"]
    assert [r.id for r in job_history(store, "default", child.id)] == [child.id]


def test_an_idempotency_token_dispatches_once_even_when_racing(store: Store) -> None:
    parameterized(store)
    results = []

    def go() -> None:
        results.append(dispatch_job(store, "default", "render", payload=b"", meta={}, token="once"))

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(children(store)) == 1
    assert len({r.dispatched_job_id for r in results}) == 1
    assert sum(1 for r in results if r.eval_id) == 1  # the others name the existing child
    other = dispatch_job(store, "default", "render", payload=b"", meta={}, token="twice")
    assert other.dispatched_job_id != results[0].dispatched_job_id


@pytest.mark.parametrize(
    ("rule", "payload", "meta", "field", "text"),
    [
        pytest.param(
            Parameterized(payload=PayloadRule.REQUIRED),
            b"",
            {},
            "Payload",
            "not provided but required",
            id="payload",
        ),
        pytest.param(
            Parameterized(meta_required=["user"]), b"", {}, "Meta", "required meta keys: ['user']", id="meta"
        ),
    ],
)
def test_a_dispatch_breaking_the_rules_is_refused(
    store: Store, rule: Parameterized, payload: bytes, meta: dict[str, str], field: str, text: str
) -> None:
    parameterized(store, rule)
    with pytest.raises(Rejected) as err:
        dispatch_job(store, "default", "render", payload=payload, meta=meta)
    assert err.value.field == field
    assert text in str(err.value)
    assert children(store) == []


def test_only_a_running_parameterized_job_dispatches(store: Store) -> None:
    with pytest.raises(JobNotFound):
        dispatch_job(store, "default", "render", payload=b"", meta={})
    submit_job(store, submitted_job("plain"))
    with pytest.raises(Rejected, match='"plain" is not a parameterized job'):
        dispatch_job(store, "default", "plain", payload=b"", meta={})
    parameterized(store)
    stop_job(store, "default", "render")
    with pytest.raises(Rejected, match="cannot dispatch stopped job"):
        dispatch_job(store, "default", "render", payload=b"", meta={})
