"""The invariants a cluster must keep through every fault (issue 13), as pure functions of
one consistent view of etcd (`View`, everything under the cluster's prefix read at one
revision) and the time: no I/O, table-tested in `test_rules.py`, applied after every
revision by `invariants.InvariantChecker`.

Each rule returns the violations it finds as sentences a failing test prints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.model.alloc_status import is_terminal
from reconciler.model.ids import AllocId
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    EvalStatus,
    Evaluation,
    JobRecord,
    Node,
    NodeStatus,
)
from reconciler.model.services import ServiceRegistration


@dataclass
class View:
    """The cluster's objects at one revision (decoded from etcd)."""

    revision: int = 0
    allocs: dict[AllocId, Allocation] = field(default_factory=dict)
    statuses: dict[AllocId, AllocStatus] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    jobs: dict[tuple[str, str], JobRecord] = field(default_factory=dict)
    versions: dict[tuple[str, str], set[int]] = field(default_factory=dict)  # job -> versions stored
    evals: dict[str, Evaluation] = field(default_factory=dict)
    services: list[ServiceRegistration] = field(default_factory=list)

    def live(self) -> list[Allocation]:
        """Allocations the cluster still runs or means to run (Nomad's non-terminal)."""
        return [a for a in self.allocs.values() if not is_terminal(a, self.statuses)]

    def counted(self) -> list[Allocation]:
        """The live allocations that count toward their group: not the `unknown` ones
        waiting for a disconnected node (their replacements stand in for them, and a
        reconnect keeps one copy: `disconnect` in docs/scheduler.md)."""
        return [a for a in self.live() if a.client_status != ClientStatus.UNKNOWN]


def duplicate_names(view: View) -> list[str]:
    """Two live allocations with one name (job.group[index]); a canary shares its name with
    the instance it will replace, as in Nomad, so canaries are not counted (nor `unknown`
    allocations: see `View.counted`)."""
    by_name: dict[tuple[str, str, str], list[AllocId]] = defaultdict(list)
    for a in view.counted():
        if not a.canary:
            by_name[(a.namespace, a.job_id, a.name)].append(a.id)
    return [
        f"two live allocations named {name!r} of job {ns}/{job}: {', '.join(sorted(ids))}"
        for (ns, job, name), ids in sorted(by_name.items())
        if len(ids) > 1
    ]


def over_count(view: View) -> list[str]:
    """More live allocations in a group than its count plus its canaries plus the update's
    max_parallel (the most a rolling update or a drain may have in flight)."""
    live: dict[tuple[str, str, str], int] = defaultdict(int)
    for a in view.counted():
        live[(a.namespace, a.job_id, a.task_group)] += 1
    out = []
    for (ns, job_id, group), n in sorted(live.items()):
        record = view.jobs.get((ns, job_id))
        if record is None:
            continue
        tg = record.job.group(group)
        if tg is None:
            continue
        update = record.job.update_for(tg)
        limit = tg.count + (update.canary + update.max_parallel if update else 0)
        if n > limit:
            out.append(f"group {ns}/{job_id}.{group} has {n} live allocations; at most {limit} allowed")
    return out


def over_capacity(view: View) -> list[str]:
    """A node given more CPU or memory than it has (nodes that report their resources)."""
    cpu: dict[str, int] = defaultdict(int)
    mem: dict[str, int] = defaultdict(int)
    for a in view.live():
        cpu[a.node_id] += a.cpu
        mem[a.node_id] += a.memory
    out = []
    for nid, node in sorted(view.nodes.items()):
        res = node.resources
        if res.cpu_mhz and cpu[nid] > res.cpu_mhz:
            out.append(f"node {node.name} given {cpu[nid]} MHz of its {res.cpu_mhz}")
        if res.memory_mb and mem[nid] > res.memory_mb:
            out.append(f"node {node.name} given {mem[nid]} MB of its {res.memory_mb}")
    return out


def lost_versions(view: View) -> list[str]:
    """A job whose current version has no version record (a job version lost)."""
    return [
        f"job {ns}/{job_id} is at version {rec.version}, whose record is gone"
        for (ns, job_id), rec in sorted(view.jobs.items())
        if rec.version not in view.versions.get((ns, job_id), set())
    ]


def dead_targets(view: View, targets: Iterable[str]) -> set[str]:
    """Router targets (`address:port`) whose allocation is stopped, lost or unknown, or whose
    node is down or disconnected, or that no registration stands for at all: traffic sent
    there cannot be served."""
    by_address = {f"{s.address}:{s.port}": s for s in view.services}
    dead = set()
    for target in targets:
        svc = by_address.get(target)
        alloc = view.allocs.get(svc.alloc_id) if svc else None
        node = view.nodes.get(alloc.node_id) if alloc else None
        away = node is not None and node.status in (NodeStatus.DOWN, NodeStatus.DISCONNECTED)
        if alloc is None or is_terminal(alloc, view.statuses) or alloc.client_status or away:
            dead.add(target)
    return dead


def stale_routes(dead_since: dict[str, float], now: float, *, lease: float) -> list[str]:
    """Targets the router has kept routing to for longer than `lease` after they died."""
    return [
        f"the router still sends traffic to {t}, dead for {now - since:.1f}s (lease {lease:.0f}s)"
        for t, since in sorted(dead_since.items())
        if now - since > lease
    ]


def stuck_evals(view: View, now: float, *, within: float) -> list[str]:
    """Evaluations still pending `within` seconds after they were due (never completed)."""
    return [
        f"evaluation {e.id[:8]} ({e.triggered_by}, job {e.job_id}) pending for {now - due:.0f}s"
        for e in sorted(view.evals.values(), key=lambda e: e.id)
        if e.status == EvalStatus.PENDING and now - (due := max(e.create_time, e.wait_until)) > within
    ]


def instant_rules(view: View) -> list[str]:
    """Every rule that must hold at every revision, whatever the time."""
    return [*duplicate_names(view), *over_count(view), *over_capacity(view), *lost_versions(view)]
