"""The Consul face served on a free port from a background thread, over the test's etcd,
with one node registered as the node agent registers it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import consul
import pytest
from aiohttp import web

from reconciler.api.consul.app import make_consul_app
from reconciler.api.consul.context import ConsulContext
from reconciler.api.watched import WatchedState
from reconciler.model.objects import Node
from reconciler.store import Store
from tests.agent.conftest import agent  # noqa: F401 - the dev agent fixture
from tests.ports import free_port

NODE_ID = "5f0c1d2e-0000-4000-8000-00000000c0de"


class ConsulServer:
    def __init__(self, store: Store) -> None:
        self.port = free_port()
        self.watched = WatchedState(store, name="consul-test")
        self.ctx = ConsulContext(
            store=store,
            watched=self.watched,
            node_name="test-node",
            advertise="127.0.0.1:8300",
            version="test",
        )
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="consul-test-loop", daemon=True)

    def start(self) -> None:
        self.watched.start()
        self._thread.start()

        async def up() -> None:
            self._runner = web.AppRunner(make_consul_app(self.ctx), shutdown_timeout=1.0)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

        asyncio.run_coroutine_threadsafe(up(), self._loop).result(10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.run_until_complete(self._loop.shutdown_default_executor())  # the handlers' threads
        self._loop.close()
        self.watched.stop()


@pytest.fixture
def node(store: Store) -> Node:
    n = Node(id=NODE_ID, name="test-node", address="127.0.0.1", meta={"rack": "r1"})
    store.put(store.keys.node(n.id), n)
    return n


@pytest.fixture
def server(store: Store, node: Node) -> Iterator[ConsulServer]:
    s = ConsulServer(store)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def client(server: ConsulServer) -> consul.Consul:
    return consul.Consul(host="127.0.0.1", port=server.port)
