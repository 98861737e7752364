"""Writing the catalog as the registrar would, and reading through the router: the helpers
the router tests share."""

from __future__ import annotations

import http.client
import socket

from controllers.router import Router
from reconciler.model.job import Check
from reconciler.model.services import CheckStatus, RegisteredCheck, ServiceRegistration
from reconciler.store import Store
from tests.router.backend import Backend


def register(
    store: Store,
    backend: Backend,
    alloc: str,
    tags: list[str],
    *,
    name: str = "web",
    check: str | None = "passing",
) -> None:
    checks = [RegisteredCheck(id=f"{name}-health", check=Check(path="/health"))] if check is not None else []
    reg = ServiceRegistration(
        id=f"_nomad-task-{alloc}-g-{name}-http",
        service_name=name,
        alloc_id=alloc,
        namespace="default",
        job_id="j",
        group="g",
        task="",
        node_id="n1",
        address=backend.host,
        port=backend.port,
        port_label="http",
        tags=tags,
        checks=checks,
    )
    store.put(store.keys.service(name, alloc, "http"), reg)
    if check is not None:
        set_check(store, alloc, f"{name}-health", check)


def set_check(store: Store, alloc: str, check_id: str, status: str) -> None:
    store.put(
        store.keys.check(alloc, check_id), CheckStatus(alloc_id=alloc, check_id=check_id, status=status)
    )


def targets(router: Router, path: str = "/web") -> int:
    route = router.table.lookup("", path)
    return len(route.targets) if route else -1


def get(
    conn: http.client.HTTPConnection,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, resp.read()


def exchange(port: int, data: bytes | list[bytes], timeout: float = 10.0) -> bytes:
    """Send raw bytes (a list: one write each) and read until the router closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        for part in [data] if isinstance(data, bytes) else data:
            s.sendall(part)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
        return out
