"""Watches: every change under a prefix from a revision on, delivered to a callback.

Each `Watch` is its own gRPC `Watch` stream with its own reading thread, opened on the
current endpoint's channel. python-etcd3's `Watcher` multiplexes every watch of a client on
one stream and creates them one at a time, each waiting up to the client timeout for etcd's
"created" answer: after an etcd restart a process's informers came back one after another,
up to 5 s each, and a creation that timed out could hand its watch to the next request
(etcd's answers are matched to requests by order). With a stream per watch, creations run
side by side, a failed one affects only itself, and cancelling is closing the stream.

`Watch.open` sends the create request and waits for the created answer, so a watch that
cannot be made raises like any other call (`Unavailable` is retried by `Store._call`,
`Compacted` means re-list). After that the callback receives lists of `WatchEvent`s, or
once a `StoreError` when the stream ends: `Compacted`, or `Unavailable` (re-watch from the
last revision seen).

`request_progress()` asks etcd where the watch stands (etcd's `WatchProgressRequest`, the
request Kubernetes' watch cache uses for its consistent reads): etcd answers a watch that
has caught up with an empty response at its current revision, after every event up to it,
and `on_progress` receives that revision. A watcher can so learn that it has seen
everything up to a revision that wrote nothing under its prefix. etcd 3.5 does not answer
a watch still catching up; ask again.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from etcd3 import etcdrpc

from reconciler.store.errors import Compacted, StoreError, Unavailable, translate

# mvccpb.Event.EventType
_DELETE = 1


@dataclass(frozen=True)
class WatchEvent:
    type: Literal["put", "delete"]
    key: str
    value: bytes | None
    mod_revision: int
    create_revision: int = 0
    prev_value: bytes | None = None  # only on a watch opened with `prev_kv` (the event stream's)


WatchCallback = Callable[[list[WatchEvent] | StoreError], None]
ProgressCallback = Callable[[int], None]


def to_events(raw_events: Any) -> list[WatchEvent]:
    """The store's events for the protobuf events of one watch response."""
    events: list[WatchEvent] = []
    for ev in raw_events:
        prev = bytes(ev.prev_kv.value) if ev.HasField("prev_kv") else None
        kv = ev.kv
        if ev.type == _DELETE:
            events.append(WatchEvent("delete", kv.key.decode(), None, int(kv.mod_revision), prev_value=prev))
        else:
            events.append(
                WatchEvent(
                    "put",
                    kv.key.decode(),
                    bytes(kv.value),
                    int(kv.mod_revision),
                    int(kv.create_revision),
                    prev,
                )
            )
    return events


def _create_request(key: bytes, range_end: bytes, start_revision: int, prev_kv: bool) -> Any:
    create = etcdrpc.WatchCreateRequest(key=key, range_end=range_end, prev_kv=prev_kv)
    if start_revision:
        create.start_revision = start_revision
    return etcdrpc.WatchRequest(create_request=create)


def _requests(first: Any, more: queue.SimpleQueue[Any]) -> Iterator[Any]:
    """The stream's requests: the create request, then progress requests until None."""
    yield first
    while (req := more.get()) is not None:
        yield req


class Watch:
    """A running watch on its own stream; `cancel()` stops it (and its thread)."""

    def __init__(
        self,
        call: Any,
        callback: WatchCallback,
        what: str,
        requests: queue.SimpleQueue[Any],
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self._call = call
        self._callback = callback
        self._requests = requests
        self._on_progress = on_progress
        self._what = what
        self._created = threading.Event()
        self._cancelled = threading.Event()
        self._open_error: BaseException | None = None  # raw when it is a wire error: see `_end`
        self._thread = threading.Thread(name=f"store_watch {what}", target=self._run, daemon=True)

    @classmethod
    def open(
        cls,
        client: Any,
        *,
        key: bytes,
        range_end: bytes,
        start_revision: int,
        callback: WatchCallback,
        prev_kv: bool = False,
        on_progress: ProgressCallback | None = None,
        timeout: float,
    ) -> Watch:
        """Open a stream on `client`'s channel and wait up to `timeout` for etcd to create the
        watch. Raises the translated error (`Unavailable` when etcd does not answer)."""
        stub = etcdrpc.WatchStub(client.channel)
        requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        call = stub.Watch(
            _requests(_create_request(key, range_end, start_revision, prev_kv), requests),
            credentials=client.call_credentials,
            metadata=client.metadata,
        )
        watch = cls(call, callback, key.decode(errors="replace"), requests, on_progress)
        watch._thread.start()
        if not watch._created.wait(timeout):
            watch.cancel()
            raise Unavailable(f"watch on {watch._what}: etcd did not answer its creation in {timeout:.1f}s")
        if watch._open_error is not None:
            raise watch._open_error
        return watch

    def request_progress(self) -> None:
        """Ask etcd for this watch's progress (answered through `on_progress`, if it has caught up)."""
        if not self._cancelled.is_set():
            self._requests.put(etcdrpc.WatchRequest(progress_request=etcdrpc.WatchProgressRequest()))

    def cancel(self) -> None:
        self._cancelled.set()
        self._close()

    def _close(self) -> None:
        self._requests.put(None)  # ends the request stream (and gRPC's thread that sends it)
        with contextlib.suppress(Exception):  # cancelling a dead stream is fine
            self._call.cancel()

    def _run(self) -> None:
        try:
            for resp in self._call:
                if not self._handle(resp):
                    return
            self._end(Unavailable(f"watch on {self._what} broke: stream closed"))
        except Exception as exc:
            err = translate(exc)
            if not isinstance(err, Compacted):
                err = Unavailable(f"watch on {self._what} broke: {err or exc}")
            self._end(err, exc)

    def _handle(self, resp: Any) -> bool:
        """Deliver one response; False when the watch is over."""
        if resp.compact_revision:
            self._end(Compacted(int(resp.compact_revision)))
            return False
        if resp.canceled:
            reason = resp.cancel_reason or "cancelled by etcd"
            self._end(StoreError(f"watch on {self._what} refused: {reason}"))
            return False
        if resp.created:
            self._created.set()
        elif self._cancelled.is_set():
            pass
        elif resp.events:
            self._callback(to_events(resp.events))
        elif self._on_progress is not None:  # no events: the answer to `request_progress`
            self._on_progress(int(resp.header.revision))
        return True

    def _end(self, err: StoreError, raw: BaseException | None = None) -> None:
        """The stream is over: before creation the error is `open`'s to raise (the wire error
        itself, so that the connection sees it: an expired login is renewed there); after it,
        the callback's (unless we cancelled the watch ourselves)."""
        self._close()
        if not self._created.is_set():
            self._open_error = raw if raw is not None else err
            self._created.set()
            return
        if not self._cancelled.is_set():
            self._cancelled.set()
            self._callback(err)
