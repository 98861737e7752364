"""Transactions: compares on mod revisions plus puts and deletes, all or nothing.

`Txn` is a plain builder (no I/O); `Store.commit` sends it. `to_request` is the one place a
`Txn` becomes etcd3 compare and operation objects. `outcome` decides, from a read of the
transaction's keys, whether an attempt whose answer was lost (a deadline, a dropped
connection) applied: a write is never sent again before that read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from reconciler import codec

# etcd's default --max-txn-ops
MAX_TXN_OPS = 128


def encode(value: Any) -> bytes:
    """The bytes stored for `value`: bytes and str as they are, anything else as JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return codec.encode(value)


@dataclass
class Txn:
    """A transaction: every compare must hold for the writes to apply (all or nothing)."""

    compares: list[tuple[str, int]] = field(default_factory=list)  # (key, mod_revision); 0 = absent
    puts: list[tuple[str, bytes, int | None]] = field(default_factory=list)  # key, value, lease id
    deletes: list[str] = field(default_factory=list)

    def compare_mod(self, key: str, mod_revision: int) -> Txn:
        self.compares.append((key, mod_revision))
        return self

    def compare_absent(self, key: str) -> Txn:
        return self.compare_mod(key, 0)

    def put(self, key: str, value: Any, *, lease: int | None = None) -> Txn:
        self.puts.append((key, encode(value), lease))
        return self

    def delete(self, key: str) -> Txn:
        self.deletes.append(key)
        return self

    def extend(self, other: Txn) -> Txn:
        """Add `other`'s compares and writes to this transaction (one all-or-nothing unit)."""
        self.compares.extend(other.compares)
        self.puts.extend(other.puts)
        self.deletes.extend(other.deletes)
        return self

    def __len__(self) -> int:
        return len(self.compares) + len(self.puts) + len(self.deletes)


def to_request(txn: Txn, t: Any) -> tuple[list[Any], list[Any]]:
    """`txn` as etcd3 (compares, success ops), built with the client's `transactions`."""
    compares = [t.mod(k) == rev if rev else t.create(k) == 0 for k, rev in txn.compares]
    ops = [t.put(k, v, lease=lease) for k, v, lease in txn.puts] + [t.delete(k) for k in txn.deletes]
    return compares, ops


class Outcome(Enum):
    """What reading the keys of a transaction says about an attempt whose answer was lost."""

    APPLIED = "applied"  # our writes are there: report success, never send it again
    NOT_APPLIED = "not-applied"  # every compare still holds: sending it again is safe
    CONFLICT = "conflict"  # not applied, and a compare no longer holds: report the lost race


def keys_of(txn: Txn) -> list[str]:
    """Every key `txn` compares or writes, once each, in order."""
    return list(dict.fromkeys([k for k, _ in txn.compares] + [k for k, _, _ in txn.puts] + txn.deletes))


def outcome(txn: Txn, seen: Mapping[str, tuple[bytes, int] | None]) -> tuple[Outcome, int]:
    """Did `txn` apply, judged from `seen` (key -> (value, mod revision), None if absent;
    every key of `keys_of(txn)`, read at one revision after the attempt)? Returns the
    outcome and, if applied, the revision it was applied at (0 for a delete-only txn).

    Applied means every write is visible (puts hold our bytes, deleted keys are absent),
    all puts share one mod revision (one transaction wrote them) and every compared key we
    put was written after the revision we compared (so not by an earlier writer of the same
    bytes). A transaction overwritten by someone else between its apply and this read reads
    as not applied; with its compares then failing, it is reported as a conflict."""
    put_revs: set[int] = set()
    for k, value, _ in txn.puts:
        got = seen[k]
        if got is None or got[0] != value:
            break
        put_revs.add(got[1])
    else:
        if len(put_revs) <= 1 and all(seen[k] is None for k in txn.deletes):
            rev = next(iter(put_revs), 0)
            put_keys = {k for k, _, _ in txn.puts}
            if all(rev > expected for k, expected in txn.compares if k in put_keys):
                return Outcome.APPLIED, rev
    if all(_holds(seen[k], expected) for k, expected in txn.compares):
        return Outcome.NOT_APPLIED, 0
    return Outcome.CONFLICT, 0


def _holds(got: tuple[bytes, int] | None, expected: int) -> bool:
    return got is None if expected == 0 else got is not None and got[1] == expected
