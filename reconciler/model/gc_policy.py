"""How long finished work is kept before the garbage collector deletes it: Nomad's server
options and defaults (`eval_gc_threshold`, `deployment_gc_threshold`, `job_gc_threshold`,
`node_gc_threshold`, and the 6 job versions Nomad tracks). Set on the agent
(`--job-gc-threshold 4h`, `server { job_gc_threshold = "4h" }`); the rules that use them
are `controllers/liveness/gc.py`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GcThresholds:
    """Seconds an object must have been finished (unchanged) before it goes. `eval` is also
    the allocations' threshold, as in Nomad."""

    eval: float = 3600.0
    deployment: float = 3600.0
    job: float = 4 * 3600.0
    node: float = 24 * 3600.0
    versions: int = 6


# an operator's `system gc`: every threshold at 0, as Nomad's forced collection
FORCED = GcThresholds(eval=0.0, deployment=0.0, job=0.0, node=0.0)
