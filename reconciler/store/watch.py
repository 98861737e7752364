"""Watches: every change under a prefix from a revision on, delivered to a callback.

`responses_to(callback, what)` converts etcd3's watch responses (a response, an exception,
or None when the stream simply ended) into the store's `WatchEvent`s or a `StoreError`;
`Store.watch` opens the watch and returns a `Watch` handle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import etcd3.events

from reconciler.store.errors import Compacted, StoreError, Unavailable, translate


@dataclass(frozen=True)
class WatchEvent:
    type: Literal["put", "delete"]
    key: str
    value: bytes | None
    mod_revision: int
    create_revision: int = 0
    prev_value: bytes | None = None  # only on a watch opened with `prev_kv` (the event stream's)


WatchCallback = Callable[[list[WatchEvent] | StoreError], None]


class Watch:
    """A running watch; `cancel()` stops it."""

    def __init__(self, client: Any, watch_id: Any) -> None:
        self._client = client
        self._watch_id = watch_id

    def cancel(self) -> None:
        with contextlib.suppress(Exception):  # cancelling a dead watch is fine
            self._client.cancel_watch(self._watch_id)


def _prev_value(ev: Any) -> bytes | None:
    """The value before the change, when etcd sent it (`prev_kv`) and still had it."""
    raw = getattr(ev, "_event", None)
    if raw is None or not raw.HasField("prev_kv"):
        return None
    return bytes(raw.prev_kv.value)


def to_events(resp: Any) -> list[WatchEvent]:
    """The store's events for one etcd3 watch response."""
    events: list[WatchEvent] = []
    for ev in resp.events:
        if isinstance(ev, etcd3.events.DeleteEvent):
            events.append(
                WatchEvent("delete", ev.key.decode(), None, int(ev.mod_revision), prev_value=_prev_value(ev))
            )
        else:
            events.append(
                WatchEvent(
                    "put",
                    ev.key.decode(),
                    bytes(ev.value),
                    int(ev.mod_revision),
                    int(ev.create_revision),
                    _prev_value(ev),
                )
            )
    return events


def responses_to(callback: WatchCallback, what: str) -> Callable[[Any], None]:
    """An etcd3 watch callback that hands `callback` events, `Compacted` (re-list) or
    `Unavailable` (the watch is dead; re-watch from the last revision seen)."""

    def on_response(resp: Any) -> None:
        if resp is None:
            # etcd3 passes None when the stream ended without an error: it closes the watch
            # stream itself whenever any other call on the client fails with UNAVAILABLE.
            callback(Unavailable(f"watch on {what} broke: stream closed"))
            return
        if isinstance(resp, BaseException):
            err = translate(resp)
            callback(
                err if isinstance(err, Compacted) else Unavailable(f"watch on {what} broke: {err or resp}")
            )
            return
        events = to_events(resp)
        if events:
            callback(events)

    return on_response
