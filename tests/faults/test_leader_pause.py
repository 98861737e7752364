"""A leader paused (SIGSTOP) past its lease and resumed never acts beside the leader that
took over: in etcd's own order every write of the paused one comes before the first write
of its successor, and what it tries after waking is refused (its term's fence) until it
has stopped its controller. The figures: how long the standby took, and how long the
resumed leader took to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.runtime.leader import LeaderRecord
from reconciler.store import Store
from tests.faults.figures import record
from tests.waiting import wait_for

TTL = 2
PREFIX = "/pause/"


@dataclass
class Actor:
    identity: str
    log: Path
    proc: subprocess.Popen[bytes] = field(init=False)

    def start(self, etcd: EmbeddedEtcd) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 - the child owns it
        args = [
            sys.executable,
            "-m",
            "tests.faults.leader_actor",
            etcd.endpoint,
            PREFIX,
            self.identity,
            str(TTL),
        ]
        self.proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2]
        )
        out.close()

    def lines(self) -> list[tuple[float, str]]:
        rows = [line.split(" ", 2) for line in self.log.read_text().splitlines() if line[:1].isdigit()]
        return [(float(r[0]), r[2]) for r in rows if len(r) == 3]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def actors(tmp_path: Path, fault_etcd: EmbeddedEtcd) -> Iterator[tuple[Actor, Actor]]:
    a, b = Actor("a", tmp_path / "a.log"), Actor("b", tmp_path / "b.log")
    try:
        yield a, b
    finally:
        for x in (a, b):
            if hasattr(x, "proc"):
                x.stop()


def test_a_leader_paused_past_its_lease_never_acts_beside_its_successor(
    actors: tuple[Actor, Actor], fault_etcd: EmbeddedEtcd
) -> None:
    a, b = actors
    store = Store([fault_etcd.endpoint], prefix=PREFIX)
    try:

        def leader() -> str | None:
            got = store.get(store.keys.leader("actor"), LeaderRecord)
            return got.value.identity if got else None

        a.start(fault_etcd)
        wait_for(lambda: leader() == "a", 30, message="a leading")
        b.start(fault_etcd)
        wait_for(lambda: sum(w.startswith("ok") for _, w in a.lines()) >= 5, 30, message="a acting")
        paused = time.monotonic()
        os.kill(a.proc.pid, signal.SIGSTOP)
        wait_for(lambda: leader() == "b", TTL * 5, message="b taking over from the paused a")
        took_over = time.monotonic() - paused
        wait_for(lambda: any(w.startswith("ok") for _, w in b.lines()), 30, message="b acting")
        resumed = time.time()
        os.kill(a.proc.pid, signal.SIGCONT)
        wait_for(lambda: any(w == "stopped" for _, w in a.lines()), 30, message="the resumed a stopping")
        b_acts = sum(w.startswith("ok") for _, w in b.lines())
        wait_for(
            lambda: sum(w.startswith("ok") for _, w in b.lines()) > b_acts + 5, 30, message="b acting on"
        )

        acts, _ = store.list_raw(store.keys.kind("acts"))
        order = [
            store.keys.kind("acts") and i.key.split("/")[-2]
            for i in sorted(acts, key=lambda i: i.mod_revision)
        ]
        first_b = order.index("b")
        assert "a" not in order[first_b:], f"a wrote after b began leading: {''.join(order)}"
        after = [(t, w) for t, w in a.lines() if t >= resumed]
        wrote = [w for _, w in after if w.startswith("ok")]
        assert not wrote, f"the resumed a acted: {wrote}"
        stopped_at = next(t for t, w in after if w == "stopped")
        refused = [w for _, w in after if w.startswith("refused")]
        print(
            f"\nresumed a: {len(refused)} writes refused, "
            f"controller stopped {stopped_at - resumed:.2f}s after waking"
        )
        record("a paused leader: the standby leads", took_over, TTL + 1)
    finally:
        store.close()
