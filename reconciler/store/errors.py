"""The store's exceptions. Callers never see a grpc or etcd3 exception."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every failure the store reports."""


class Unavailable(StoreError):
    """etcd could not be reached (after retries). The message names the endpoints."""


class Conflict(StoreError):
    """A transaction's compare failed: someone else wrote the key first."""


class Compacted(StoreError):
    """A watch asked for a revision etcd has compacted away; re-list from `revision`."""

    def __init__(self, revision: int) -> None:
        super().__init__(f"revision compacted; oldest available is {revision}")
        self.revision = revision
