"""Leader election through etcd: the leader key exists only while its holder's lease lives.

`LeaderElector.run(on_started, on_stopped)` campaigns until stopped: it creates
`leader/<name>` (a `LeaderRecord`) bound to a fresh lease if the key is absent (a
transaction), keeps the lease alive (`KeptLease`), calls `on_started` when it wins and
`on_stopped` at once when it loses (the lease is lost, or the key is gone or no longer
ours), and before the lease can have expired: a leader whose refreshes fail steps down
once less than `STEP_DOWN_MARGIN` of its TTL is left. Each term is also a `Fence`
(`LeaderElector.fence`): `LeaderElected` hands its controller a store fenced by it, so a
leader paused past its lease (SIGSTOP) that wakes up cannot write, even in the moment
before it notices: the write is refused locally (the lease's time is up) or by etcd (the
leader key is not this term's any more). Nothing a callback raises ends the election: a
failing `on_started` is logged, the lease given up (so a standby takes over at once) and
the elector campaigns again after a growing pause. Standbys watch the key: its delete
wakes them at once; they also try again every `min(1, ttl/3)` seconds in case a watch
broke silently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from reconciler.runtime.controller import Controller
from reconciler.store import Fence, KeptLease, Store, StoreError, Txn, Watch, WatchEvent

log = logging.getLogger(__name__)

# seconds a leader's lease lives without a refresh: a dead leader's standby takes over
# within it (the agent's `--leader-ttl`)
DEFAULT_LEADER_TTL = 5

# a leader steps down when less than this share of its TTL is left unrefreshed (its
# controllers are stopped, its fence closed), so that it never acts on an expired lease
STEP_DOWN_MARGIN = 0.25

# pause after a failed term (on_started raised): doubles per failure up to the TTL
FAILED_TERM_PAUSE = 0.5


@dataclass(frozen=True)
class LeaderRecord:
    """The value of `leader/<controller>`: who leads, under which lease."""

    identity: str
    lease: int
    schema: int = 1


def current_leader(store: Store, name: str) -> str | None:
    """The identity holding `leader/<name>`, or None if nobody leads."""
    got = store.get(store.keys.leader(name), LeaderRecord)
    return got.value.identity if got else None


class _Term(Enum):
    LOST = "lost"  # someone else holds the key
    SERVED = "served"  # led, then lost the lease or the key, or was stopped
    FAILED = "failed"  # won, but on_started raised


class LeaderElector:
    def __init__(self, store: Store, name: str, identity: str, *, ttl: int = DEFAULT_LEADER_TTL) -> None:
        self.store = store
        self.name = name
        self.identity = identity
        self.ttl = ttl
        self.key = store.keys.leader(name)
        self._stop = threading.Event()
        self._wake = threading.Event()  # the key was deleted, the lease lost, the watch broke, or stop
        self._watch_broken = False
        self.is_leader = threading.Event()
        self._thread: threading.Thread | None = None
        self.lease_id: int | None = None  # the lease of the current campaign
        self.fence: Fence | None = None  # the current term (while leading)
        self.margin = ttl * STEP_DOWN_MARGIN
        # leases of past terms that etcd could not be told to revoke (it was away): etcd
        # gives every lease its full TTL again when it restarts, so they are revoked as
        # soon as it answers, or our own stale key would hold everyone off for a TTL
        self._unrevoked: list[KeptLease] = []
        self.campaigns = 0  # attempts to take the key (tests and metrics)

    def leader(self) -> str | None:
        return current_leader(self.store, self.name)

    def start(self, on_started: Callable[[], None], on_stopped: Callable[[], None]) -> None:
        self._thread = threading.Thread(
            target=self.run, args=(on_started, on_stopped), name=f"leader:{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.ttl + 5)

    def run(self, on_started: Callable[[], None], on_stopped: Callable[[], None]) -> None:
        watch: Watch | None = None
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    if watch is None or self._watch_broken:
                        if watch is not None:
                            watch.cancel()
                        self._watch_broken = False
                        watch = self.store.watch(self.key, self.store.revision() + 1, self._on_key)
                    term = self._campaign(on_started, on_stopped)
                except StoreError as exc:
                    log.warning("election=%s identity=%s cannot campaign: %s", self.name, self.identity, exc)
                    self._stop.wait(1)
                    continue
                except Exception:
                    log.exception("election=%s identity=%s campaign failed", self.name, self.identity)
                    self._stop.wait(1)
                    continue
                if term is _Term.FAILED:
                    failures += 1
                    # only stop ends this pause: the delete of our own key must not wake us
                    # before the standby has had its chance
                    self._stop.wait(min(float(self.ttl), FAILED_TERM_PAUSE * 2 ** (failures - 1)))
                elif term is _Term.SERVED:
                    failures = 0
                else:
                    self._wake.wait(min(1.0, self.ttl / 3))
        finally:
            if watch is not None:
                watch.cancel()

    def _on_key(self, result: list[WatchEvent] | StoreError) -> None:
        """Watch callback: wake the campaign loop when the key is deleted or the watch broke."""
        if isinstance(result, StoreError):
            self._watch_broken = True
            self._wake.set()
        elif any(e.type == "delete" and e.key == self.key for e in result):
            self._wake.set()

    def _campaign(self, on_started: Callable[[], None], on_stopped: Callable[[], None]) -> _Term:
        self._wake.clear()
        self._unrevoked = [old for old in self._unrevoked if not old.revoke(retry_for=1.0)]
        lease = KeptLease.grant(self.store, self.ttl, name=f"leader:{self.name}")
        self.lease_id = lease.id
        self.campaigns += 1
        record = LeaderRecord(self.identity, lease.id)
        try:
            won = self.store.commit_revision(
                Txn().compare_absent(self.key).put(self.key, record, lease=lease.id)
            )
        except BaseException:
            lease.revoke(retry_for=1.0)
            raise
        if won is None:
            lease.revoke()
            return _Term.LOST
        self.fence = Fence(self.key, won, valid=lambda: lease.remaining() > self.margin)
        return self._term(lease, on_started, on_stopped)

    def _term(
        self, lease: KeptLease, on_started: Callable[[], None], on_stopped: Callable[[], None]
    ) -> _Term:
        lease.start(on_lost=self._wake.set)
        log.info("election=%s identity=%s became leader", self.name, self.identity)
        self.is_leader.set()
        try:
            on_started()
        except Exception:
            log.exception(
                "election=%s identity=%s start failed; giving up the lease", self.name, self.identity
            )
            self._step_down(lease, on_stopped)
            return _Term.FAILED
        try:
            self._hold(lease)
        except StoreError as exc:
            log.warning("election=%s identity=%s lost leadership: %s", self.name, self.identity, exc)
        except Exception:
            log.exception("election=%s identity=%s leadership check failed", self.name, self.identity)
        self._step_down(lease, on_stopped)
        return _Term.SERVED

    def _hold(self, lease: KeptLease) -> None:
        """Return when stopped; raise StoreError when the lease or the key is lost, or when
        less than the margin of the lease is left. Checks the key every ttl/3 (and at once
        when the watch sees it deleted), never retrying past that point: a leader etcd may
        have dropped must not go on leading."""
        while not self._stop.is_set():
            self._wake.wait(min(self.ttl / 3, max(0.0, lease.remaining() - self.margin)))
            self._wake.clear()
            if self._stop.is_set():
                return
            if lease.lost.is_set() or lease.remaining() <= self.margin:
                raise StoreError(f"lease not refreshed in time ({lease.remaining():.1f}s of it left)")
            holder = self.store.get(
                self.key, LeaderRecord, retry_for=max(0.0, lease.remaining() - self.margin)
            )
            if holder is None or holder.value.lease != lease.id:
                raise StoreError("leader key no longer ours")

    def _step_down(self, lease: KeptLease, on_stopped: Callable[[], None]) -> None:
        self.is_leader.clear()
        if self.fence is not None:
            self.fence.close()
        try:
            on_stopped()
        except Exception:
            log.exception("election=%s identity=%s stop failed", self.name, self.identity)
        if not lease.stop(revoke=True):
            self._unrevoked.append(lease)


class LeaderElected:
    """Runs a controller only while this process holds `leader/<name>`.

    A fresh controller is built by `factory(store)` for every term (a stopped controller's
    queue and informers are not reused), given the store fenced by the term, so its writes
    stop the moment the term ends. When the lease is lost its controller is stopped on a
    thread of its own: stopping waits for informers that may be retrying against an etcd
    that is away, and the election must not wait with it (the fence already keeps the old
    controller from writing). This is how every cluster controller (scheduler,
    deployments, liveness, gc) runs in an agent.
    """

    def __init__(
        self,
        store: Store,
        name: str,
        identity: str,
        factory: Callable[[Store], Controller],
        *,
        ttl: int = DEFAULT_LEADER_TTL,
    ) -> None:
        self.elector = LeaderElector(store, name, identity, ttl=ttl)
        self.store = store
        self.factory = factory
        self.controller: Controller | None = None
        self._lock = threading.Lock()
        self._stopping: list[threading.Thread] = []

    def _started(self) -> None:
        fence = self.elector.fence
        assert fence is not None, "on_started runs within a term"
        with self._lock:
            self.controller = self.factory(self.store.fenced(fence))
            self.controller.start()

    def _stopped(self) -> None:
        with self._lock:
            controller, self.controller = self.controller, None
            self._stopping = [t for t in self._stopping if t.is_alive()]
            if controller is not None:
                t = threading.Thread(
                    target=controller.stop, name=f"stopping:{self.elector.name}", daemon=True
                )
                t.start()
                self._stopping.append(t)

    def start(self) -> None:
        self.elector.start(self._started, self._stopped)

    def stop(self) -> None:
        self.elector.stop()
        self._stopped()
        for t in self._stopping:
            t.join(self.store.retry_for + 10)
