"""Plan results: what a scheduler dry-run (or a real evaluation) would do to a job.

Shared by the scheduler (which fills them), the API (which renders Nomad's JSON shape) and
the CLI (which prints them in Nomad's words). Pure data plus renderers; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DesiredUpdates:
    """Per task group: how many allocations a plan places, stops, updates or leaves."""

    place: int = 0
    stop: int = 0
    in_place_update: int = 0
    destructive_update: int = 0
    ignore: int = 0
    migrate: int = 0
    canary: int = 0

    def to_nomad(self) -> dict[str, int]:
        return {
            "Place": self.place,
            "Stop": self.stop,
            "InPlaceUpdate": self.in_place_update,
            "DestructiveUpdate": self.destructive_update,
            "Ignore": self.ignore,
            "Migrate": self.migrate,
            "Canary": self.canary,
            "Preemptions": 0,
        }

    @classmethod
    def from_nomad(cls, d: dict[str, Any]) -> DesiredUpdates:
        return cls(
            place=int(d.get("Place", 0)),
            stop=int(d.get("Stop", 0)),
            in_place_update=int(d.get("InPlaceUpdate", 0)),
            destructive_update=int(d.get("DestructiveUpdate", 0)),
            ignore=int(d.get("Ignore", 0)),
            migrate=int(d.get("Migrate", 0)),
            canary=int(d.get("Canary", 0)),
        )

    def words(self) -> str:
        """`(1 create, 4 ignore)` as in Nomad's plan diff."""
        parts = []
        for n, w in (
            (self.place, "create"),
            (self.destructive_update, "create/destroy update"),
            (self.in_place_update, "in-place update"),
            (self.stop, "destroy"),
            (self.migrate, "migrate"),
            (self.canary, "canary"),
            (self.ignore, "ignore"),
        ):
            if n:
                parts.append(f"{n} {w}")
        return "(" + ", ".join(parts) + ")" if parts else ""


@dataclass
class AllocMetric:
    """Why placements failed (Nomad's AllocMetric): nodes evaluated, filtered by which
    constraint, exhausted on which dimension."""

    nodes_evaluated: int = 0
    nodes_filtered: int = 0
    nodes_in_pool: int = 0
    nodes_available: dict[str, int] = field(default_factory=dict)  # datacenter -> ready nodes
    class_filtered: dict[str, int] = field(default_factory=dict)
    constraint_filtered: dict[str, int] = field(default_factory=dict)
    nodes_exhausted: int = 0
    class_exhausted: dict[str, int] = field(default_factory=dict)
    dimension_exhausted: dict[str, int] = field(default_factory=dict)
    coalesced_failures: int = 0

    def filter_node(self, constraint: str) -> None:
        self.nodes_filtered += 1
        self.constraint_filtered[constraint] = self.constraint_filtered.get(constraint, 0) + 1

    def exhaust_node(self, dimension: str) -> None:
        self.nodes_exhausted += 1
        self.dimension_exhausted[dimension] = self.dimension_exhausted.get(dimension, 0) + 1

    def to_nomad(self) -> dict[str, Any]:
        return {
            "NodesEvaluated": self.nodes_evaluated,
            "NodesFiltered": self.nodes_filtered,
            "NodesInPool": self.nodes_in_pool,
            "NodesAvailable": dict(self.nodes_available),
            "ClassFiltered": dict(self.class_filtered) or None,
            "ConstraintFiltered": dict(self.constraint_filtered) or None,
            "NodesExhausted": self.nodes_exhausted,
            "ClassExhausted": dict(self.class_exhausted) or None,
            "DimensionExhausted": dict(self.dimension_exhausted) or None,
            "CoalescedFailures": self.coalesced_failures,
            "QuotaExhausted": None,
            "Scores": None,
            "ScoreMetaData": None,
            "AllocationTime": 0,
        }

    @classmethod
    def from_nomad(cls, d: dict[str, Any]) -> AllocMetric:
        return cls(
            nodes_evaluated=int(d.get("NodesEvaluated") or 0),
            nodes_filtered=int(d.get("NodesFiltered") or 0),
            nodes_in_pool=int(d.get("NodesInPool") or 0),
            nodes_available=dict(d.get("NodesAvailable") or {}),
            class_filtered=dict(d.get("ClassFiltered") or {}),
            constraint_filtered=dict(d.get("ConstraintFiltered") or {}),
            nodes_exhausted=int(d.get("NodesExhausted") or 0),
            class_exhausted=dict(d.get("ClassExhausted") or {}),
            dimension_exhausted=dict(d.get("DimensionExhausted") or {}),
            coalesced_failures=int(d.get("CoalescedFailures") or 0),
        )


def _nodes(n: int) -> str:
    return f"{n} node" if n == 1 else f"{n} nodes"


def describe_failure(m: AllocMetric) -> list[str]:
    """The reasons in words, one line each, in the order Nomad prints them."""
    out: list[str] = []
    if m.nodes_evaluated == 0:
        out.append("No nodes were eligible for evaluation")
    for dc, n in sorted(m.nodes_available.items()):
        if n == 0:
            out.append(f'No nodes are available in datacenter "{dc}"')
    for cls, n in sorted(m.class_filtered.items()):
        out.append(f'Class "{cls}": {_nodes(n)} excluded by filter')
    for c, n in sorted(m.constraint_filtered.items()):
        out.append(f'Constraint "{c}": {_nodes(n)} excluded by filter')
    if m.nodes_exhausted:
        out.append(f"Resources exhausted on {_nodes(m.nodes_exhausted)}")
    for cls, n in sorted(m.class_exhausted.items()):
        out.append(f'Class "{cls}" exhausted on {_nodes(n)}')
    for d, n in sorted(m.dimension_exhausted.items()):
        out.append(f'Dimension "{d}" exhausted on {_nodes(n)}')
    return out


def failure_heading(group: str, m: AllocMetric) -> str:
    n = 1 + m.coalesced_failures
    return f'Task Group "{group}" (failed to place {n} allocation{"" if n == 1 else "s"}):'


@dataclass
class PreemptedAlloc:
    """An allocation of another job the plan would evict (Nomad's `PreemptedAllocs` stub)."""

    id: str
    namespace: str
    job_id: str
    task_group: str
    job_type: str

    def to_nomad(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Namespace": self.namespace,
            "JobID": self.job_id,
            "TaskGroup": self.task_group,
            "JobType": self.job_type,
        }


@dataclass
class PlanResult:
    """A dry-run's outcome. `exit_code` follows `nomad job plan`: 0 nothing created or
    destroyed, 1 allocations created or destroyed (255, errors, is the CLI's)."""

    namespace: str
    job_id: str
    job_modify_index: int = 0
    desired_tg_updates: dict[str, DesiredUpdates] = field(default_factory=dict)
    failed_tg_allocs: dict[str, AllocMetric] = field(default_factory=dict)
    created: int = 0
    destroyed: int = 0
    warnings: list[str] = field(default_factory=list)
    diff: Any = None
    preempted: list[PreemptedAlloc] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.created or self.destroyed else 0

    def to_nomad(self) -> dict[str, Any]:
        return {
            "Annotations": {
                "DesiredTGUpdates": {g: u.to_nomad() for g, u in self.desired_tg_updates.items()},
                "PreemptedAllocs": [a.to_nomad() for a in self.preempted] or None,
            },
            "FailedTGAllocs": {g: m.to_nomad() for g, m in self.failed_tg_allocs.items()} or None,
            "JobModifyIndex": self.job_modify_index,
            "CreatedEvals": None,
            "Diff": self.diff,
            "NextPeriodicLaunch": "0001-01-01T00:00:00Z",
            "Warnings": "\n".join(self.warnings),
        }


def scheduler_dry_run(failed: dict[str, AllocMetric]) -> list[str]:
    """The `Scheduler dry-run:` block of `nomad job plan`."""
    lines = ["Scheduler dry-run:"]
    if not failed:
        lines.append("- All tasks successfully allocated.")
        return lines
    lines.append("- WARNING: Failed to place all allocations.")
    for g in sorted(failed):
        lines.append(f"  {failure_heading(g, failed[g])}")
        lines.extend(f"    * {r}" for r in describe_failure(failed[g]))
    return lines


def failure_lines(failed: dict[str, Any] | None, indent: str = "  ") -> list[str]:
    """Failed placements (Nomad's `FailedTGAllocs` JSON) as `nomad job run`/`eval status`
    print them: a heading per group, then the reasons in words."""
    lines: list[str] = []
    for group in sorted(failed or {}):
        m = AllocMetric.from_nomad((failed or {})[group])
        lines.append(indent + failure_heading(group, m))
        lines.extend(f"{indent}  * {r}" for r in describe_failure(m))
    return lines
