from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.store import Store
from tests.api.server import ApiServer, make_server


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[ApiServer]:
    server = make_server(store, tmp_path)
    yield server
    server.stop()
