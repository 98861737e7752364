"""The store's exceptions, and the one place where wire errors become them.

Callers never see a grpc or etcd3 exception: every client call goes through `Store._call`,
and every watch response through `watch`'s converter, and both translate failures with
`translate` below (python-etcd3's own `_EXCEPTIONS_BY_CODE` idea, one table).

Conflicts have one convention: `Conflict` is raised by the helpers that retry for the
caller (`Store.update`); the low-level `Store.commit` returns False so that a caller that
owns its retry policy (a controller requeueing with backoff) decides what a lost race means.
"""

from __future__ import annotations

import etcd3.exceptions as etcd_exc
import grpc


class StoreError(Exception):
    """Base class of every failure the store reports."""


class Unavailable(StoreError):
    """etcd could not be reached (after retries). The message names the endpoints."""


class Conflict(StoreError):
    """A transaction's compare failed: someone else wrote the key first."""


class NotFound(StoreError):
    """etcd does not know the object the request names (a lease that expired or was revoked)."""


class Compacted(StoreError):
    """A watch asked for a revision etcd has compacted away; re-list from `revision`."""

    def __init__(self, revision: int) -> None:
        super().__init__(f"revision compacted; oldest available is {revision}")
        self.revision = revision


# etcd3 turns these grpc codes into its own exceptions (ConnectionFailedError for
# UNAVAILABLE, ConnectionTimeoutError for DEADLINE_EXCEEDED) in most calls, but not in
# every one (lease keep-alives, watches), so both forms are listed.
_TRANSIENT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
_TRANSLATE: dict[type[BaseException], type[StoreError]] = {
    etcd_exc.ConnectionFailedError: Unavailable,  # UNAVAILABLE
    etcd_exc.ConnectionTimeoutError: Unavailable,  # DEADLINE_EXCEEDED
    etcd_exc.NoServerAvailableError: Unavailable,
    etcd_exc.WatchTimedOut: Unavailable,  # a watch request that got no answer: its stream closed
    etcd_exc.RevisionCompactedError: Compacted,
}


def describe(exc: BaseException) -> str:
    """A short human-readable reason (grpc errors hide theirs behind methods)."""
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        details = exc.details() if hasattr(exc, "details") else ""
        return f"{exc.code().name}: {details}"
    return str(exc) or type(exc).__name__


def expired_auth(exc: BaseException) -> bool:
    """etcd refused the call's auth token (it lapsed, or etcd restarted): logging in again
    fixes it, so it is transient (translated to Unavailable below)."""
    if not isinstance(exc, grpc.RpcError) or not hasattr(exc, "code"):
        return False
    details = exc.details() if hasattr(exc, "details") else ""
    return bool(exc.code() == grpc.StatusCode.UNAUTHENTICATED and "token" in (details or ""))


def translate(exc: BaseException) -> StoreError | None:
    """The store error for a wire error (`Unavailable` means "worth retrying"), or None if
    `exc` is not a wire error (a bug, or a value error raised by our own code)."""
    if isinstance(exc, StoreError):
        return exc
    for wire, ours in _TRANSLATE.items():
        if isinstance(exc, wire):
            if ours is Compacted:
                return Compacted(int(getattr(exc, "compacted_revision", 0)))
            return ours(describe(exc))
    if isinstance(exc, grpc.RpcError):
        code = exc.code() if hasattr(exc, "code") else None
        if code in _TRANSIENT_CODES or expired_auth(exc):
            return Unavailable(describe(exc))
        if code == grpc.StatusCode.NOT_FOUND:
            return NotFound(describe(exc))
        return StoreError(f"etcd request failed: {describe(exc)}")
    if isinstance(exc, etcd_exc.Etcd3Exception):
        return StoreError(f"etcd request failed: {describe(exc)}")
    return None
