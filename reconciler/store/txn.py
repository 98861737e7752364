"""Transactions: compares on mod revisions plus puts and deletes, all or nothing.

`Txn` is a plain builder (no I/O); `Store.commit` sends it. `to_request` is the one place a
`Txn` becomes etcd3 compare and operation objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
