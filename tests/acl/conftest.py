"""A real API server with ACLs on, over the session's etcd, and helpers to make tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.api.acl import AclCache
from reconciler.ops import acl as ops
from reconciler.store import Store
from tests.api.conftest import api  # noqa: F401 - the same API server, ACLs off
from tests.api.server import ApiServer, make_server


@pytest.fixture
def acl_cache(store: Store) -> Iterator[AclCache]:
    cache = AclCache(store, name="test")
    cache.start()
    yield cache
    cache.stop()


@pytest.fixture
def acl_api(store: Store, tmp_path: Path, acl_cache: AclCache) -> Iterator[ApiServer]:
    server = make_server(store, tmp_path, acl=acl_cache)
    yield server
    server.stop()


@pytest.fixture
def management(store: Store) -> str:
    """The bootstrap token's secret."""
    return ops.bootstrap(store).secret


def token_with(store: Store, name: str, rules: str) -> str:
    """The secret of a new client token holding one new policy `name` with `rules`."""
    ops.apply_policy(store, name, rules)
    return ops.create_token(store, name, "client", [name]).secret
