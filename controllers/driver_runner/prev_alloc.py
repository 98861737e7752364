"""An allocation replacing another one of a group with `ephemeral_disk { sticky }` or
`{ migrate }` first waits for its previous allocation to end, then takes over its data
(Nomad's client/allocwatcher): `alloc/data` and each task's `local/`.

- Previous allocation on this node (`sticky`, or `migrate`, which implies it): wait until
  its runner has finished, then rename its directories into the new allocation's
  (`AllocDir.take_over`).
- On another node, and `migrate = true`: wait until the store says it is terminal on its
  client (complete, failed or lost), then fetch a tar of its data from that node's agent,
  `GET http://<node HTTPAddr>/v1/client/allocation/<id>/snapshot`, unpacked under this
  allocation's `.state/` and taken over from there.
- Nothing to take over (the previous allocation was garbage-collected, its node is down,
  disconnected or unreachable, the snapshot failed): the tasks start with empty directories
  and each gets a `Task Setup` event saying why. (Nomad fails the allocation on a snapshot
  error; here the replacement runs, as it would if the old node were gone.)

`handover_kind` is the pure decision; `PrevAllocs` does the waiting and the copying.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from reconciler.model.alloc_dir import AllocDir, read_snapshot
from reconciler.model.alloc_status import client_terminal
from reconciler.model.ids import AllocId
from reconciler.model.job import TaskGroup
from reconciler.model.objects import Allocation, AllocStatus, Node, NodeStatus
from reconciler.store import Store, StoreError

log = logging.getLogger(__name__)

POLL = 0.5  # seconds between looks at a remote previous allocation
SNAPSHOT_TIMEOUT = 60.0
DONE_MARK = "handover.done"  # in .state/: the hand-over happened (an agent restart skips it)


class Handover(StrEnum):
    NONE = "none"  # nothing to wait for or take over
    LOCAL = "local"  # the previous allocation's directory is on this node
    REMOTE = "remote"  # fetch it from the previous node's agent
    GONE = "gone"  # there was data to take over, but it cannot be had


@dataclass(frozen=True)
class Decision:
    kind: Handover
    why: str = ""  # for GONE: the task event's message


def handover_kind(
    alloc: Allocation,
    group: TaskGroup,
    node_id: str,
    prev: Allocation | None,
    prev_node: Node | None,
    *,
    local_dir: bool,
) -> Decision:
    """What the new allocation does about its previous one (module docstring). `prev` and
    `prev_node` are the store's records (None: deleted); `local_dir` whether the previous
    allocation's directory exists on this node."""
    disk = group.ephemeral_disk
    if not alloc.previous_allocation or not (disk.sticky or disk.migrate):
        return Decision(Handover.NONE)
    short = alloc.previous_allocation[:8]
    if prev is None:
        if local_dir:
            return Decision(Handover.LOCAL)
        return Decision(
            Handover.GONE, f"previous allocation {short} was garbage-collected; data not migrated"
        )
    if prev.node_id == node_id:
        return Decision(Handover.LOCAL)
    if not disk.migrate:
        return Decision(Handover.NONE)  # sticky alone keeps data only on the same node
    # a disconnected node is cut off: its data cannot be fetched (its allocation is unknown)
    if (
        prev_node is None
        or prev_node.status in (NodeStatus.DOWN, NodeStatus.DISCONNECTED)
        or not prev_node.http_addr
    ):
        name = prev_node.name if prev_node else prev.node_id[:8]
        return Decision(
            Handover.GONE, f"node {name} of previous allocation {short} is gone; data not migrated"
        )
    return Decision(Handover.REMOTE)


class _Runner(Protocol):
    all_done: threading.Event


class PrevAllocs:
    """The agent's side of hand-overs: the store to read the previous allocation, its status
    and its node from, and this node's runners (a local previous allocation's)."""

    def __init__(self, store: Store, data_dir: Path, runner: Callable[[AllocId], _Runner | None]) -> None:
        self.store = store
        self.data_dir = data_dir
        self.runner = runner

    def decide(self, alloc: Allocation, group: TaskGroup, node_id: str) -> Decision:
        if not alloc.previous_allocation or not (group.ephemeral_disk.sticky or group.ephemeral_disk.migrate):
            return Decision(Handover.NONE)
        if (AllocDir(self.data_dir, alloc.id).state / DONE_MARK).exists():
            return Decision(Handover.NONE)  # done before this agent restarted
        prev = self._get_alloc(alloc.previous_allocation)
        prev_node = self._get_node(prev.node_id) if prev is not None and prev.node_id != node_id else None
        local = AllocDir(self.data_dir, alloc.previous_allocation).root.is_dir()
        return handover_kind(alloc, group, node_id, prev, prev_node, local_dir=local)

    def _get_alloc(self, alloc_id: str) -> Allocation | None:
        v = self.store.get(self.store.keys.alloc(alloc_id), Allocation)
        return v.value if v else None

    def _get_node(self, node_id: str) -> Node | None:
        v = self.store.get(self.store.keys.node(node_id), Node)
        return v.value if v else None

    def hand_over(self, alloc: Allocation, tasks: list[str], d: Decision, cancelled: threading.Event) -> str:
        """Wait for the previous allocation, take its data over; the task event's message
        ("" when there is nothing to say). Returns early (with "") when `cancelled` is set."""
        prev_id = alloc.previous_allocation
        dest = AllocDir(self.data_dir, alloc.id)
        if d.kind == Handover.GONE:
            message = d.why
        elif d.kind == Handover.LOCAL:
            if not self._wait_local(prev_id, cancelled):
                return ""
            moved = dest.take_over(AllocDir(self.data_dir, prev_id).root, tasks)
            message = f"Moved {', '.join(moved) or 'nothing'} from previous allocation {prev_id[:8]}"
        else:
            node = self._wait_remote(prev_id, cancelled)
            if cancelled.is_set():
                return ""
            message = self._fetch(node, prev_id, dest, tasks)
        (dest.state / DONE_MARK).touch()
        log.info("alloc=%s previous=%s handover=%s: %s", alloc.id, prev_id, d.kind, message)
        return message

    def _wait_local(self, prev_id: AllocId, cancelled: threading.Event) -> bool:
        """Until the previous allocation's runner has finished (no runner: nothing runs)."""
        while not cancelled.is_set():
            r = self.runner(prev_id)
            if r is None or r.all_done.wait(POLL):
                return True
        return False

    def _wait_remote(self, prev_id: AllocId, cancelled: threading.Event) -> Node | None:
        """Until the previous allocation is terminal on its client; its node then (None:
        the allocation or its node was deleted meanwhile)."""
        while not cancelled.is_set():
            try:
                prev = self._get_alloc(prev_id)
                if prev is None:
                    return None
                st = self.store.get(self.store.keys.alloc_status(prev_id), AllocStatus)
                if client_terminal(prev, {prev_id: st.value} if st else {}):
                    return self._get_node(prev.node_id)
            except StoreError as exc:
                log.warning("previous=%s not read: %s", prev_id, exc)
            cancelled.wait(POLL)
        return None

    def _fetch(self, node: Node | None, prev_id: AllocId, dest: AllocDir, tasks: list[str]) -> str:
        if node is None or not node.http_addr:
            return f"previous allocation {prev_id[:8]} or its node is gone; data not migrated"
        url = f"http://{node.http_addr}/v1/client/allocation/{urllib.parse.quote(prev_id)}/snapshot"
        staging = dest.state / "previous"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            with urllib.request.urlopen(url, timeout=SNAPSHOT_TIMEOUT) as resp:
                read_snapshot(resp, staging)
            moved = dest.take_over(staging, tasks)
        except (OSError, ValueError, tarfile.TarError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            return f"data of previous allocation {prev_id[:8]} not migrated from node {node.name}: {reason}"
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        what = ", ".join(moved) or "nothing"
        return f"Migrated {what} from previous allocation {prev_id[:8]} on node {node.name}"
