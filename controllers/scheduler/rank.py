"""Ranking feasible nodes: bin-packing score with an anti-affinity penalty, over a limited
sample (Nomad ranks max(2, ceil(log2(n))) feasible nodes per placement, not all of them).

Scores are in [0, 1] (higher is better) for the fit, and in [-1, 0) for the penalty; the
final score is the mean of the scores that apply, as Nomad normalises them.
"""

from __future__ import annotations

import math
import random

from controllers.scheduler.state import NodeState
from reconciler.model.ids import NodeId


def sample_limit(n_nodes: int, *, batch: bool = False) -> int:
    """How many fitting nodes to rank per placement: Nomad ranks 2 for batch jobs (the power
    of two choices) and max(2, ceil(log2(n))) for the others."""
    if batch or n_nodes <= 0:
        return 2
    return max(2, math.ceil(math.log2(n_nodes)))


def binpack_score(st: NodeState, cpu: int, mem: int) -> float:
    """Nomad's ScoreFit: fuller nodes score higher, so instances pack onto fewer nodes."""
    free_cpu = 1.0 - (st.cpu_used + cpu) / st.cpu_total if st.cpu_total else 0.0
    free_mem = 1.0 - (st.mem_used + mem) / st.mem_total if st.mem_total else 0.0
    total: float = 10.0**free_cpu + 10.0**free_mem  # in [2, 20]
    return (20.0 - total) / 18.0


def anti_affinity_penalty(collisions: int, desired: int) -> float:
    """-(collisions+1)/desired when the node already runs this job's group (0 otherwise)."""
    if collisions <= 0:
        return 0.0
    return -float(collisions + 1) / float(max(desired, 1))


def score(st: NodeState, cpu: int, mem: int, collisions: int, desired: int) -> float:
    fit = binpack_score(st, cpu, mem)
    if collisions <= 0:
        return fit
    return (fit + anti_affinity_penalty(collisions, desired)) / 2.0


def shuffled(node_ids: list[NodeId], seed: str) -> list[NodeId]:
    """A replayable shuffle: the same evaluation id always visits nodes in the same order."""
    out = sorted(node_ids)
    random.Random(seed).shuffle(out)
    return out
