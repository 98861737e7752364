"""The one translation table from wire errors to store errors, as a plain function."""

from __future__ import annotations

import etcd3.exceptions as etcd_exc
import grpc
import pytest

from reconciler.store import Compacted, NotFound, StoreError, Unavailable
from reconciler.store.errors import translate


class Rpc(grpc.RpcError):
    """A grpc error as the channel raises it (the code is behind a method)."""

    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__()
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "from the test"


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (etcd_exc.ConnectionFailedError(), Unavailable),
        (etcd_exc.ConnectionTimeoutError(), Unavailable),
        (etcd_exc.NoServerAvailableError(), Unavailable),
        (etcd_exc.WatchTimedOut(), Unavailable),
        (Rpc(grpc.StatusCode.UNAVAILABLE), Unavailable),
        (Rpc(grpc.StatusCode.DEADLINE_EXCEEDED), Unavailable),
        (Rpc(grpc.StatusCode.INVALID_ARGUMENT), StoreError),
        (Rpc(grpc.StatusCode.NOT_FOUND), NotFound),
        (etcd_exc.PreconditionFailedError(), StoreError),
        (etcd_exc.InternalServerError(), StoreError),
    ],
    ids=[
        "conn-failed",
        "conn-timeout",
        "no-server",
        "watch-timeout",
        "grpc-unavailable",
        "grpc-deadline",
        "grpc-invalid",
        "grpc-not-found",
        "precondition",
        "internal",
    ],
)
def test_wire_errors_become_store_errors(wire: BaseException, expected: type[StoreError]) -> None:
    got = translate(wire)
    assert type(got) is expected


def test_compaction_carries_the_oldest_revision() -> None:
    got = translate(etcd_exc.RevisionCompactedError(42))
    assert isinstance(got, Compacted)
    assert got.revision == 42


@pytest.mark.parametrize(
    "exc", [ValueError("bad key"), KeyError("x"), AssertionError()], ids=["value", "key", "assert"]
)
def test_our_own_errors_are_not_wire_errors(exc: BaseException) -> None:
    assert translate(exc) is None


def test_store_errors_pass_through() -> None:
    err = Unavailable("already ours")
    assert translate(err) is err
