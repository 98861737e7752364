"""The liveness tests restart etcd: they use an etcd of their own (the runtime tests' fixture)."""

from tests.runtime.conftest import private_etcd

__all__ = ["private_etcd"]
