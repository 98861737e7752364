"""Soft placement preferences, scored as Nomad's ranking stages do (pure): `affinity` and
`spread`.

Each gives a node one more score in [-1, 1], averaged with the fit and the anti-affinity
penalty (see `rank`):

- affinity: the weights of the affinities the node matches, over the sum of all weights'
  magnitudes (job, group and task affinities together). Always scored once there is one.
- spread, with targets: per spread, (desired - used) / desired times the spread's share of
  the total weight, where desired is the target's percentage of `count`, values no target
  names share what the targets leave (or get -1 when they leave nothing), and `used`
  counts this placement too. Without targets (even spread): +1 for a value no instance
  uses yet, the shortfall from the least used value otherwise, -1 when all are even. A
  node without the attribute gets -1. Scored only when not 0.

While a group has affinities or spreads, every feasible node is ranked (up to
`max(count, PREFERENCE_LIMIT)`), not a small sample: a preference needs to see the nodes
it prefers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from controllers.scheduler.feasibility import constraint_ok
from controllers.scheduler.state import NodeState
from reconciler.model.job import Affinity, Constraint, Job, Spread, TaskGroup
from reconciler.model.objects import Node
from reconciler.model.taskenv import resolve

PREFERENCE_LIMIT = 100
IMPLICIT = "*"  # the values no target names


def affinities_for(job: Job, group: TaskGroup) -> list[Affinity]:
    out = list(job.affinities) + list(group.affinities)
    for t in group.tasks:
        out.extend(t.affinities)
    return out


def affinity_score(affinities: Iterable[Affinity], node: Node) -> float:
    affs = list(affinities)
    total = sum(abs(a.weight) for a in affs)
    if not total:
        return 0.0
    matched = sum(a.weight for a in affs if constraint_ok(Constraint(a.attribute, a.operator, a.value), node))
    return matched / total


@dataclass(frozen=True)
class SpreadRule:
    """One spread of a group, ready to score: its attribute, weight share and desired counts."""

    attribute: str
    share: float  # weight / the sum of the group's spread weights
    desired: Mapping[str, float]  # value (or IMPLICIT) -> desired count; empty: even spread

    def key(self, value: str) -> str:
        """The value as counted: a value no target names counts as IMPLICIT."""
        return value if not self.desired or value in self.desired else IMPLICIT


def spread_rules(job: Job, group: TaskGroup) -> list[SpreadRule]:
    spreads: list[Spread] = list(group.spreads) + list(job.spreads)
    weights = sum(s.weight for s in spreads)
    rules = []
    for s in spreads:
        desired = {t.value: t.percent / 100 * group.count for t in s.targets}
        total = sum(desired.values())
        if 0 < total < group.count:
            desired[IMPLICIT] = group.count - total
        rules.append(SpreadRule(s.attribute, s.weight / weights if weights else 0.0, desired))
    return rules


def spread_usage(rule: SpreadRule, states: Iterable[NodeState], key: tuple[str, str]) -> dict[str, int]:
    """How many of the group's allocations (running and planned) each value has."""
    used: dict[str, int] = {}
    for st in states:
        n = st.groups.get(key, 0)
        if n:
            value = resolve(rule.attribute, st.node)
            if value is not None:
                k = rule.key(value)
                used[k] = used.get(k, 0) + n
    return used


def _even(used: Mapping[str, int], current: int) -> float:
    if not used:
        return 0.0
    low, high = min(used.values()), max(used.values())
    if current != low:
        return (low - current) / low if low else -1.0
    if low == high:
        return -1.0
    return (high - low) / low if low else 1.0


def spread_score(rules: Iterable[SpreadRule], usage: list[dict[str, int]], node: Node) -> float:
    """The node's spread score; `usage[i]` is `spread_usage` of rule i."""
    total = 0.0
    for rule, used in zip(rules, usage, strict=True):
        value = resolve(rule.attribute, node)
        if value is None:
            total -= 1.0
            continue
        k = rule.key(value)
        if not rule.desired:
            total += _even(used, used.get(k, 0))
            continue
        desired = rule.desired.get(k)
        if not desired:
            total -= 1.0
            continue
        total += (desired - (used.get(k, 0) + 1)) / desired * rule.share
    return total
