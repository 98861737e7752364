"""`txn.outcome`: did a transaction whose answer was lost apply? Decided from a read of its
keys, as a plain function (the real-etcd version of the situation is in test_lost_answers)."""

from __future__ import annotations

import pytest

from reconciler.store import Txn
from reconciler.store.txn import Outcome, keys_of, outcome

J, E, V, D = "/r/jobs/default/web", "/r/evals/e1", "/r/job_versions/default/web/1", "/r/old"

# a job update: compare the job at revision 5, put it, put an evaluation and a version record
UPDATE = Txn().compare_mod(J, 5).put(J, b"job-v1").put(E, b"eval").compare_absent(V).put(V, b"job-v1")
# compare a key we do not write (the eval is the only effect)
ONLY_EVAL = Txn().compare_mod(J, 5).put(E, b"eval")
DELETE = Txn().compare_mod(J, 5).delete(J).delete(D)
UNCONDITIONAL = Txn().put(E, b"eval").put(V, b"job-v1")

Seen = dict[str, tuple[bytes, int] | None]


@pytest.mark.parametrize(
    ("txn", "seen", "expected"),
    [
        (UPDATE, {J: (b"job-v1", 9), E: (b"eval", 9), V: (b"job-v1", 9)}, (Outcome.APPLIED, 9)),
        (UPDATE, {J: (b"job-v0", 5), E: None, V: None}, (Outcome.NOT_APPLIED, 0)),
        (UPDATE, {J: (b"job-other", 7), E: None, V: None}, (Outcome.CONFLICT, 0)),
        # applied, then the job was overwritten by someone else: reads as a conflict
        (UPDATE, {J: (b"job-other", 12), E: (b"eval", 9), V: (b"job-v1", 9)}, (Outcome.CONFLICT, 0)),
        # the same bytes already stored at the compared revision: not our write
        (Txn().compare_mod(J, 5).put(J, b"same"), {J: (b"same", 5)}, (Outcome.NOT_APPLIED, 0)),
        # our bytes, but written by two different transactions: not ours
        (UPDATE, {J: (b"job-v1", 9), E: (b"eval", 10), V: (b"job-v1", 9)}, (Outcome.CONFLICT, 0)),
        (ONLY_EVAL, {J: (b"job", 5), E: (b"eval", 8)}, (Outcome.APPLIED, 8)),
        (ONLY_EVAL, {J: (b"job", 5), E: None}, (Outcome.NOT_APPLIED, 0)),
        (ONLY_EVAL, {J: (b"job", 6), E: None}, (Outcome.CONFLICT, 0)),
        (DELETE, {J: None, D: None}, (Outcome.APPLIED, 0)),
        (DELETE, {J: (b"job", 5), D: None}, (Outcome.NOT_APPLIED, 0)),
        (DELETE, {J: (b"job", 6), D: (b"x", 2)}, (Outcome.CONFLICT, 0)),
        (UNCONDITIONAL, {E: (b"eval", 4), V: (b"job-v1", 4)}, (Outcome.APPLIED, 4)),
        (UNCONDITIONAL, {E: None, V: (b"job-v1", 2)}, (Outcome.NOT_APPLIED, 0)),
    ],
    ids=[
        "update-applied",
        "update-not-applied",
        "update-lost-race",
        "update-applied-then-overwritten",
        "same-bytes-at-compared-revision",
        "puts-at-different-revisions",
        "eval-only-applied",
        "eval-only-not-applied",
        "eval-only-lost-race",
        "delete-applied",
        "delete-not-applied",
        "delete-lost-race",
        "unconditional-applied",
        "unconditional-half-visible",
    ],
)
def test_outcome(txn: Txn, seen: Seen, expected: tuple[Outcome, int]) -> None:
    assert set(seen) == set(keys_of(txn))
    assert outcome(txn, seen) == expected


def test_keys_of_lists_each_key_once() -> None:
    assert keys_of(UPDATE) == [J, V, E]
