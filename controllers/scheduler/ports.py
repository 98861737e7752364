"""Port assignment: static ports as asked (collisions are a feasibility failure) and dynamic
ports picked from the node's range, never one already in use on the node nor one taken by
another port of the same allocation. Random picks first (seeded: replayable), then a scan."""

from __future__ import annotations

import random
from collections.abc import Collection

from reconciler.model.job import Network
from reconciler.model.objects import AllocatedPort


def static_collision(networks: list[Network], used: set[int]) -> str | None:
    """The first reserved port already in use, as Nomad words the dimension, or None."""
    seen: set[int] = set()
    for net in networks:
        for p in net.ports:
            if p.static:
                if p.static in used or p.static in seen:
                    return f"network: reserved port collision {p.label}={p.static}"
                seen.add(p.static)
    return None


def assign_ports(
    networks: list[Network], used: set[int], lo: int, hi: int, rng: random.Random, host_ip: str = ""
) -> list[AllocatedPort] | None:
    """Ports for one allocation, or None if the dynamic range has no room. `used` is not
    modified."""
    out: list[AllocatedPort] = []
    taken: set[int] = set()
    for net in networks:
        for p in net.ports:
            if p.static:
                out.append(AllocatedPort(p.label, p.static, p.to or p.static, host_ip))
                taken.add(p.static)
    for net in networks:
        for p in net.ports:
            if p.static:
                continue
            value = _pick(used, taken, lo, hi, rng)
            if value is None:
                return None
            taken.add(value)
            out.append(AllocatedPort(p.label, value, p.to or value, host_ip))
    return out


def _pick(used: set[int], taken: set[int], lo: int, hi: int, rng: random.Random) -> int | None:
    if hi < lo:
        return None
    span = hi - lo + 1
    rand = rng.random
    for _ in range(20):
        v = lo + int(rand() * span)
        if v not in used and v not in taken:
            return v
    for v in range(lo, hi + 1):
        if v not in used and v not in taken:
            return v
    return None


def port_clash(static: list[tuple[str, int]], used: Collection[int]) -> str | None:
    """`static_collision` for the placer's walk: a group's static ports, (label, value), worked
    out once, against one node's ports in use; as Nomad words the dimension, or None."""
    return next((f"network: reserved port collision {lb}={v}" for lb, v in static if v in used), None)
