"""A deployment's allocation health: the compact stored form (`Deployment.healthy_alloc_ids`,
`unhealthy_alloc_ids`, `passing_since`) to and from the per-allocation working form
(`AllocHealth`) the deployment controller judges with."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.model.objects import AllocHealth, Deployment


def health_of(dep: Deployment, alloc_id: str) -> bool | None:
    """True healthy, False unhealthy, None undecided."""
    if alloc_id in dep.healthy_alloc_ids:
        return True
    if alloc_id in dep.unhealthy_alloc_ids:
        return False
    return None


def health_map(dep: Deployment) -> dict[str, AllocHealth]:
    out = {a: AllocHealth(healthy=True) for a in dep.healthy_alloc_ids}
    out.update({a: AllocHealth(healthy=False) for a in dep.unhealthy_alloc_ids})
    for a, since in dep.passing_since.items():
        out.setdefault(a, AllocHealth(passing_since=since))
    return out


def store_health(dep: Deployment, health: Mapping[str, AllocHealth]) -> None:
    """Write `health` into `dep` (a copy the caller owns) in the compact form."""
    dep.healthy_alloc_ids = sorted(a for a, h in health.items() if h.healthy is True)
    dep.unhealthy_alloc_ids = sorted(a for a, h in health.items() if h.healthy is False)
    dep.passing_since = {
        a: h.passing_since for a, h in sorted(health.items()) if h.healthy is None and h.passing_since
    }
