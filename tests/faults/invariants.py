"""The invariant checker that runs through every fault test: it watches everything under
the cluster's prefix (one informer, so a broken watch resumes from its revision across an
etcd restart), rebuilds a `rules.View` whenever the revision moves on (at most `CHECKS_PER_S`
times a second, each view one whole number of watch responses, so never half a
transaction), applies `rules.instant_rules`, and polls the router's table for targets that
stay dead longer than the lease. `stop()` adds the evaluations that never completed, and
`assert_clean()` fails the test with every violation seen.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable

from reconciler import codec
from reconciler.model.ids import AllocId
from reconciler.model.objects import Allocation, AllocStatus, Evaluation, JobRecord, Node, NodeStatus
from reconciler.model.services import ServiceRegistration
from reconciler.runtime import Informer
from reconciler.store import Keys, Store
from tests.faults import rules

log = logging.getLogger(__name__)

CHECKS_PER_S = 20
EVAL_DEADLINE = 30.0  # seconds an evaluation may stay pending before it "never completes"


def build_view(keys: Keys, items: list[tuple[str, bytes]], revision: int) -> rules.View:
    """Decode the objects the rules read from raw (key, value) pairs of the whole prefix."""
    view = rules.View(revision=revision)
    for key, raw in items:
        if key.startswith(keys.allocs):
            a = codec.decode(raw, Allocation)
            view.allocs[a.id] = a
        elif key.startswith(keys.alloc_statuses):
            st = codec.decode(raw, AllocStatus)
            view.statuses[AllocId(keys.last_segment(key))] = st
        elif key.startswith(keys.nodes):
            n = codec.decode(raw, Node)
            view.nodes[n.id] = n
        elif key.startswith(keys.job_versions_all):
            ns, job_id, version = key[len(keys.job_versions_all) :].split("/")
            view.versions.setdefault((ns, job_id), set()).add(int(version))
        elif key.startswith(keys.jobs):
            rec = codec.decode(raw, JobRecord)
            view.jobs[(rec.namespace, rec.id)] = rec
        elif key.startswith(keys.evals):
            e = codec.decode(raw, Evaluation)
            view.evals[e.id] = e
        elif key.startswith(keys.services):
            view.services.append(codec.decode(raw, ServiceRegistration))
    return view


class InvariantChecker:
    """`with InvariantChecker(store, routes=...) as checker: <fault>` then `assert_clean()`.

    `routes` returns the router's targets (`address:port`); None skips the route rule."""

    def __init__(
        self, store: Store, *, routes: Callable[[], list[str]] | None = None, lease: float = 10.0
    ) -> None:
        self.store = store
        self.routes = routes
        self.lease = lease
        self.violations: dict[str, float] = {}  # sentence -> first seen (monotonic)
        self.checks = 0
        self.view = rules.View()
        self.down: set[str] = set()  # names of the nodes seen down
        self._dead_since: dict[str, float] = {}
        self._inf: Informer[bytes] = Informer(store, store.keys.prefix, bytes, name="invariants")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="invariants", daemon=True)

    def __enter__(self) -> InvariantChecker:
        self._inf.start()
        assert self._inf.wait_synced(30), "the invariant checker's informer never synced"
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(30)
        self._inf.stop()
        self._see(rules.stuck_evals(self.view, time.time(), within=EVAL_DEADLINE))

    def assert_clean(self) -> None:
        self.stop()
        print(f"\ninvariants: {self.checks} checks up to revision {self.view.revision}", flush=True)
        assert self.checks > 0, "the invariant checker never ran"
        assert not self.violations, f"{len(self.violations)} invariant violations: {list(self.violations)}"

    def _see(self, found: list[str]) -> None:
        for sentence in found:
            if sentence not in self.violations:
                log.error("invariant violated: %s", sentence)
                self.violations[sentence] = time.monotonic()

    def _run(self) -> None:
        seen = 0
        while not self._stop.is_set():
            self._inf.wait_revision(seen + 1, timeout=0.2)
            revision = self._inf.revision
            if revision != seen:
                seen = revision
                items = [(i.key, i.value) for i in self._inf.items()]
                self.view = build_view(self.store.keys, items, revision)
                self._see(rules.instant_rules(self.view))
                self.down |= {n.name for n in self.view.nodes.values() if n.status == NodeStatus.DOWN}
                self.checks += 1
            self._check_routes()
            self._stop.wait(1 / CHECKS_PER_S)

    def _check_routes(self) -> None:
        if self.routes is None:
            return
        try:
            targets = self.routes()
        except OSError:
            return  # the router is not answering (a fault of its own): nothing routed
        now = time.monotonic()
        dead = rules.dead_targets(self.view, targets)
        self._dead_since = {t: self._dead_since.get(t, now) for t in dead}
        self._see(rules.stale_routes(self._dead_since, now, lease=self.lease))


def router_targets(admin_port: int, path: str) -> Callable[[], list[str]]:
    """The targets the router at `admin_port` sends `path` to, read from its `/routes`."""

    def read() -> list[str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/routes", timeout=2) as resp:
            rows = json.loads(resp.read())
        return [t for r in rows if r["path"] == path for t in r["targets"]]

    return read
