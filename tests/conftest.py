"""Shared fixtures: a real etcd per test session (random ports, temp data dir), a fresh
key prefix per test so tests never see each other's keys, and a check that every test
stops the threads and child processes it started."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.store import Store
from tests import leaks, summaries
from tests.ports import free_port


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedEtcd]:
    server = EmbeddedEtcd(
        data_dir=Path(tmp_path_factory.mktemp("etcd")),
        client_port=free_port(),
        peer_port=free_port(),
        name="test",
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def prefix() -> str:
    return f"/t-{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def store(etcd: EmbeddedEtcd, prefix: str) -> Iterator[Store]:
    s = Store([etcd.endpoint], prefix=prefix)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a thread or a child process behind (see tests/leaks.py).
    Session and module fixtures are set up before this fixture, so theirs never count."""
    threads = set(threading.enumerate())
    kids = leaks.children()
    yield
    leaked = [f"thread {t.name!r}" for t in leaks.new_threads(threads, request.node.nodeid)]
    leaked += [
        f"child process {c.pid} ({c.command})"
        for c in sorted(leaks.new_children(kids, request.node.nodeid), key=lambda c: c.pid)
    ]
    if leaked:
        pytest.fail(f"{request.node.nodeid} leaked: " + "; ".join(leaked), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if call.when == "teardown":
        summaries.attach(report)
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    summaries.collect(report)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault figures and how many inputs each fuzz target tried (tests/summaries.py),
    printed for any run, with or without xdist workers."""
    for title, lines in summaries.sections():
        terminalreporter.section(title)
        for line in lines:
            terminalreporter.write_line(line)
