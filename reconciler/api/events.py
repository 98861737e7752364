"""`GET /v1/event/stream`: Nomad's event stream, fed by an etcd watch.

Each subscriber gets its own etcd watch on the whole key prefix with the previous values
(`prev_kv`), opened at the revision it asked for, so resuming is etcd replaying its own
history: `index=N` streams every revision from N on (inclusive, as Nomad starts "at the
closest index"), no `index` streams from now. etcd keeps the history the agent's
auto-compaction leaves (the last 100,000 revisions); asking for a compacted revision starts
at the oldest one etcd still has, as Nomad starts "at the next available index" when the
index left its buffer. A broken watch (etcd restarting) is re-opened after the last revision
delivered, so no revision is skipped or sent twice.

The watch callback only hands raw events to the event loop; decoding, joining an
allocation with its client status and shaping the frames (`event_map`) run in a worker
thread, one batch at a time per subscriber. Frames are ndjson: `{"Index": N, "Events":
[...]}` per revision with wanted events, and `{}` as a heartbeat after HEARTBEAT seconds of
silence. A subscriber that falls MAX_PENDING batches behind is ended (it resumes with
`index=`), so a stalled client cannot hold unbounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from reconciler import codec
from reconciler.api.acl import EventAccess, event_access
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.api.event_map import KIND_TYPES, PLAN_MARKER, Change, Topics, events_for, parse_topics, wanted
from reconciler.api.http import namespace
from reconciler.model.objects import Allocation, AllocStatus
from reconciler.store import Compacted, Store, StoreError, Watch, WatchEvent

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

HEARTBEAT = 10.0  # seconds of silence before a `{}` frame
LIVENESS = 1.0  # seconds between checks that the subscriber is still connected
MAX_PENDING = 1000  # watch batches queued for one subscriber before it is ended
HEARTBEAT_FRAME = b"{}\n"


@dataclass
class Joiner:
    """One subscriber's view of allocations and their client statuses, kept from its own
    stream (an allocation's event carries both halves); a half the stream has not shown yet
    is read from etcd once."""

    store: Store
    allocs: dict[str, Allocation] = field(default_factory=dict)
    statuses: dict[str, AllocStatus] = field(default_factory=dict)

    def observe(self, c: Change) -> None:
        if c.kind == "allocs":
            self._keep(self.allocs, (c.new or c.old).id, c.new)
            if c.new is not None and c.new.id not in self.statuses:
                status = self.store.get(self.store.keys.alloc_status(c.new.id), AllocStatus)
                if status is not None:
                    self.statuses[c.new.id] = status.value
        elif c.kind == "alloc_status":
            alloc_id = (c.new or c.old).alloc_id
            self._keep(self.statuses, alloc_id, c.new)
            if c.new is not None and alloc_id not in self.allocs:
                alloc = self.store.get(self.store.keys.alloc(alloc_id), Allocation)
                if alloc is not None:
                    self.allocs[alloc_id] = alloc.value

    @staticmethod
    def _keep(into: dict[str, Any], key: str, value: Any) -> None:
        if value is None:
            into.pop(key, None)
        else:
            into[key] = value


def _decode(kind: str, raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return codec.decode(raw, KIND_TYPES[kind])
    except codec.CodecError as exc:
        log.warning("event stream kind=%s undecodable value: %s", kind, exc)
        return None


def _changes(prefix: str, events: list[WatchEvent]) -> Iterator[tuple[int, list[Change]]]:
    """The changes of each revision in a watch batch, in order, kinds the stream reads only."""
    rev, batch = 0, list[Change]()
    for ev in events:
        kind = ev.key[len(prefix) :].split("/", 1)[0]
        if kind not in KIND_TYPES and kind != PLAN_MARKER:
            continue
        if ev.mod_revision != rev and batch:
            yield rev, batch
            batch = []
        rev = ev.mod_revision
        if kind == PLAN_MARKER:
            batch.append(Change(kind))
            continue
        new = _decode(kind, ev.value) if ev.type == "put" else None
        old = _decode(kind, ev.prev_value)
        if new is not None or old is not None:
            batch.append(Change(kind, old, new, ev.create_revision))
    if batch:
        yield rev, batch


@dataclass(frozen=True)
class Subscription:
    topics: Topics
    namespace: str
    index: int  # 0: from now


def frames(
    sub: Subscription,
    joiner: Joiner,
    prefix: str,
    events: list[WatchEvent],
    access: EventAccess | None = None,
) -> bytes:
    """The ndjson frames a watch batch makes for one subscriber (empty: nothing it wants, or
    nothing its token may read: `access` drops events of namespaces it has no `read-job` in,
    and node events without a `node` read rule)."""
    access = access if access is not None else EventAccess()
    out = []
    for rev, changes in _changes(prefix, events):
        for c in changes:
            joiner.observe(c)
        picked = [
            e.to_json(rev)
            for e in events_for(changes, rev, joiner.allocs, joiner.statuses)
            if wanted(e, sub.topics, sub.namespace) and access.allows(e.namespace)
        ]
        if picked:
            out.append(json.dumps({"Index": rev, "Events": picked}).encode() + b"\n")
    return b"".join(out)


class Feed:
    """One subscriber's etcd watch, delivering batches (or the watch's error) to a queue on
    the event loop. Re-opened after an error from the revision after the last one taken."""

    def __init__(self, store: Store, start: int) -> None:
        self.store = store
        self.next_revision = start
        self.queue: asyncio.Queue[list[WatchEvent] | StoreError] = asyncio.Queue()
        self.overflowed = False
        self._loop = asyncio.get_running_loop()
        self._watch: Watch | None = None

    async def open(self) -> None:
        self.close()
        self.queue = asyncio.Queue()
        queue = self.queue

        def deliver(result: list[WatchEvent] | StoreError) -> None:  # on the etcd watch thread
            with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
                self._loop.call_soon_threadsafe(self._put, queue, result)

        self._watch = await asyncio.to_thread(
            self.store.watch, self.store.keys.prefix, self.next_revision, deliver, prev_kv=True
        )

    def _put(self, queue: asyncio.Queue[list[WatchEvent] | StoreError], item: Any) -> None:
        if queue.qsize() >= MAX_PENDING:
            self.overflowed = True
        queue.put_nowait(item)

    async def next(self, timeout: float) -> list[WatchEvent] | None:
        """The next batch; None after `timeout` seconds of silence. A broken or compacted
        watch is re-opened here, where the stream resumes."""
        while True:
            try:
                item = await asyncio.wait_for(self.queue.get(), timeout)
            except TimeoutError:
                return None
            if isinstance(item, list):
                self.next_revision = max(self.next_revision, max(ev.mod_revision for ev in item) + 1)
                return item
            if isinstance(item, Compacted):
                log.warning(
                    "event stream revision %d compacted; resuming at %d", self.next_revision, item.revision
                )
                self.next_revision = max(self.next_revision, item.revision)
            else:
                log.warning("event stream watch broke (%s); re-watching from %d", item, self.next_revision)
                await asyncio.sleep(0.2)
            await self.open()

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None


def parse_subscription(request: web.Request) -> Subscription:
    try:
        topics = parse_topics(request.query.getall("topic", []))
    except ValueError as exc:
        raise ApiError(400, str(exc), field="topic") from exc
    raw = request.query.get("index", "") or "0"
    if not raw.isdigit():
        raise ApiError(400, f"index must be a non-negative integer, got {raw!r}", field="index")
    return Subscription(topics, namespace(request, wildcard=True), int(raw))


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _pump(request: web.Request, resp: web.StreamResponse, feed: Feed, sub: Subscription) -> None:
    """Write the subscriber's frames until it goes away or falls too far behind. The queue is
    checked every LIVENESS seconds, so a client that hung up is noticed without a write."""
    store = request.app[CTX].store
    joiner = Joiner(store)
    loop = asyncio.get_running_loop()
    last_write = checked = loop.time()
    access = await event_access(request)
    while access is not None and not feed.overflowed and not _gone(request):
        batch = await feed.next(min(LIVENESS, HEARTBEAT))
        if loop.time() - checked >= LIVENESS:
            access, checked = await event_access(request), loop.time()
            if access is None:
                log.info("event stream: the subscriber's token was deleted; ending its stream")
                break
        if batch is not None:
            data = await asyncio.to_thread(frames, sub, joiner, store.keys.prefix, batch, access)
        else:
            data = HEARTBEAT_FRAME if loop.time() - last_write >= HEARTBEAT else b""
        if data:
            await resp.write(data)
            last_write = loop.time()
    if feed.overflowed:
        log.warning("event stream subscriber fell %d batches behind; ending its stream", MAX_PENDING)


@routes.get("/v1/event/stream")
async def stream(request: web.Request) -> web.StreamResponse:
    store = request.app[CTX].store
    sub = parse_subscription(request)
    start = sub.index if sub.index > 0 else await asyncio.to_thread(store.revision) + 1
    feed = Feed(store, start)
    await feed.open()
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        await resp.write(HEARTBEAT_FRAME)  # at once: the client knows it is subscribed
        await _pump(request, resp, feed, sub)
    except ConnectionResetError:
        pass  # the client went away
    finally:
        feed.close()
    return resp
