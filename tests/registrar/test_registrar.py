"""The registrar against real etcd, with real backends (an HTTP server the test turns
unhealthy and healthy again) and real script processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controllers.registrar import Registrar
from reconciler.model.job import Check, Job, Service, Task, TaskGroup
from reconciler.model.objects import AllocatedPort, Allocation, AllocStatus, JobRecord, Node
from reconciler.model.services import CheckStatus, ServiceRegistration
from reconciler.store import Store
from tests.router.backend import Backend
from tests.waiting import wait_for

MS = 1_000_000
ALLOC = "0a1b2c3d-0000-4000-8000-000000000001"


def fast(**kw: object) -> Check:
    return Check(interval=50 * MS, timeout=1000 * MS, **kw)  # type: ignore[arg-type]


def make_job(checks: list[Check], tags: list[str] | None = None) -> Job:
    return Job(
        id="todo",
        task_groups=[
            TaskGroup(
                name="web",
                services=[Service(name="todo", port="http", tags=tags or ["urlprefix-/todo"], checks=checks)],
                tasks=[Task(name="server", driver="raw_exec", env={"GREETING": "hi"})],
            )
        ],
    )


def put_alloc(
    store: Store, node: Node, port: int, *, desired: str = "run", client_status: str = "running"
) -> None:
    store.put(
        store.keys.alloc(ALLOC),
        Allocation(
            id=ALLOC,
            namespace="default",
            job_id="todo",
            job_version=0,
            task_group="web",
            name="todo.web[0]",
            index=0,
            node_id=node.id,
            desired_status=desired,
            ports=[AllocatedPort(label="http", value=port)],
        ),
    )
    store.put(
        store.keys.alloc_status(ALLOC),
        AllocStatus(alloc_id=ALLOC, node_id=node.id, client_status=client_status),
    )


def put_job(store: Store, job: Job) -> None:
    store.put(
        store.keys.job_version("default", job.id, 0),
        JobRecord(namespace="default", id=job.id, version=0, job=job, spec_hash="x"),
    )


def service(store: Store) -> ServiceRegistration | None:
    got = store.get(store.keys.service("todo", ALLOC, "http"), ServiceRegistration)
    return got.value if got else None


def check(store: Store, check_id: str) -> CheckStatus | None:
    got = store.get(store.keys.check(ALLOC, check_id), CheckStatus)
    return got.value if got else None


def check_is(store: Store, check_id: str, status: str) -> bool:
    c = check(store, check_id)
    return c is not None and c.status == status


@pytest.fixture
def node() -> Node:
    return Node(id="0a1b2c3d-0000-4000-8000-0000000000ff", name="n1", address="127.0.0.1")


@pytest.fixture
def backend() -> Iterator[Backend]:
    with Backend("a") as b:
        yield b


@pytest.fixture
def registrar(store: Store, node: Node, tmp_path: Path) -> Iterator[Registrar]:
    r = Registrar(store, node, data_dir=tmp_path, lease_ttl=3)
    r.start()
    yield r
    r.stop()


def test_register_check_health_and_deregister(store, node, backend, registrar) -> None:
    put_job(store, make_job([fast(name="alive", path="/health", failures_before_critical=2)]))
    put_alloc(store, node, backend.port)
    reg = wait_for(lambda: service(store), message="registration")
    assert (reg.address, reg.port, reg.tags, reg.node_id) == (
        "127.0.0.1",
        backend.port,
        ["urlprefix-/todo"],
        node.id,
    )
    wait_for(lambda: check_is(store, "todo-alive", "passing"), message="check passing")

    # steady: many probes, no writes
    key = store.keys.check(ALLOC, "todo-alive")
    rev = store.get(key, CheckStatus).mod_revision
    probes = len(backend.requests)
    wait_for(lambda: len(backend.requests) >= probes + 5, message="more probes")
    assert store.get(key, CheckStatus).mod_revision == rev

    backend.healthy = False
    c = wait_for(
        lambda: check(store, "todo-alive") if check_is(store, "todo-alive", "critical") else None,
        message="critical",
    )
    assert "500" in c.output
    backend.health_status = 429
    wait_for(lambda: check_is(store, "todo-alive", "warning"), message="warning on 429")
    backend.healthy = True
    wait_for(lambda: check_is(store, "todo-alive", "passing"), message="passing again")

    # the allocation leaves running: service and checks go
    store.put(
        store.keys.alloc_status(ALLOC), AllocStatus(alloc_id=ALLOC, node_id=node.id, client_status="complete")
    )
    wait_for(lambda: service(store) is None and check(store, "todo-alive") is None, message="deregistered")
    probes = len(backend.requests)
    # and comes back with it
    store.put(
        store.keys.alloc_status(ALLOC), AllocStatus(alloc_id=ALLOC, node_id=node.id, client_status="running")
    )
    wait_for(lambda: service(store) is not None and check_is(store, "todo-alive", "passing"))
    assert len(backend.requests) > probes

    # desired stop: gone
    put_alloc(store, node, backend.port, desired="stop")
    wait_for(
        lambda: service(store) is None and check(store, "todo-alive") is None, message="deregistered on stop"
    )


def test_tcp_and_script_checks(store, node, backend, registrar, tmp_path) -> None:
    task_dir = tmp_path / "allocs" / ALLOC / "server"
    task_dir.mkdir(parents=True)
    put_job(
        store,
        make_job(
            [
                fast(name="port", type="tcp"),
                fast(
                    name="script",
                    type="script",
                    command="/bin/sh",
                    task="server",
                    args=[
                        "-c",
                        'test -f ready || exit 2; [ "$GREETING" = hi ] || exit 3; '
                        "test -f warn && exit 1; exit 0",
                    ],
                ),
            ]
        ),
    )
    put_alloc(store, node, backend.port)
    wait_for(lambda: check_is(store, "todo-port", "passing"), message="tcp passing")
    wait_for(lambda: check_is(store, "todo-script", "critical"), message="script critical")
    (task_dir / "ready").write_text("")
    wait_for(lambda: check_is(store, "todo-script", "passing"), message="script passing (cwd + env)")
    (task_dir / "warn").write_text("")
    wait_for(lambda: check_is(store, "todo-script", "warning"), message="script warning on exit 1")
    backend.server.server_close()  # port closed: tcp connect fails
    wait_for(lambda: check_is(store, "todo-port", "critical"), message="tcp critical")


def test_registrations_live_and_die_with_the_lease(store, node, backend, tmp_path) -> None:
    put_job(store, make_job([]))
    put_alloc(store, node, backend.port)
    r = Registrar(store, node, data_dir=tmp_path, lease_ttl=3)
    r.start()
    try:
        wait_for(lambda: service(store), message="registration")
        lease = r._lease
        assert lease is not None
        lease.revoke()  # as if the lease expired (agent paused, etcd restarted)
        wait_for(
            lambda: r._lease is not None and r._lease.id != lease.id and service(store) is not None,
            timeout=15,
            message="re-registered under a new lease",
        )
    finally:
        r.stop()
    assert service(store) is None  # a stopped registrar leaves nothing behind


def test_other_nodes_allocations_ignored(store, node, backend, registrar) -> None:
    put_job(store, make_job([]))
    other = Node(id="0a1b2c3d-0000-4000-8000-0000000000ee", name="n2")
    put_alloc(store, other, backend.port)
    # a second allocation on our node proves the registrar is working
    store.put(
        store.keys.alloc("mine-1"),
        Allocation(
            id="mine-1",
            namespace="default",
            job_id="todo",
            job_version=0,
            task_group="web",
            name="todo.web[1]",
            index=1,
            node_id=node.id,
            ports=[AllocatedPort(label="http", value=backend.port)],
        ),
    )
    store.put(
        store.keys.alloc_status("mine-1"),
        AllocStatus(alloc_id="mine-1", node_id=node.id, client_status="running"),
    )
    wait_for(lambda: store.get(store.keys.service("todo", "mine-1", "http"), ServiceRegistration) is not None)
    assert service(store) is None


def test_http_check_sends_method_headers_and_path(store, node, backend, registrar) -> None:
    put_job(
        store,
        make_job(
            [
                fast(
                    name="probe",
                    path="/health?deep=1&alloc=${NOMAD_ALLOC_INDEX}",
                    method="POST",
                    header={"X-Probe": ["yes"], "Authorization": ["Bearer ${NOMAD_JOB_ID}"]},
                )
            ]
        ),
    )
    put_alloc(store, node, backend.port)
    wait_for(lambda: check_is(store, "todo-probe", "passing"), message="passing")
    req = next(r for r in backend.requests if str(r["path"]).startswith("/health"))
    headers = req["headers"]
    assert req["method"] == "POST"
    assert req["path"] == "/health?deep=1&alloc=0"
    assert isinstance(headers, dict)
    assert headers["X-Probe"] == "yes"
    assert headers["Authorization"] == "Bearer todo"
