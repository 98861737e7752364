"""The service catalog: what `services/<name>/<alloc>/<port>` and `checks/<alloc>/<check>` hold.

Written by the service registrar of the node that runs the allocation (bound to its lease,
so a dead node's entries vanish); read by the router, the API and the CLI. A registration
carries its check definitions so that a reader can tell "healthy" (every check passing)
without looking up the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.model.ids import AllocId, NodeId
from reconciler.model.job import Check

ROUTE_OPTIONS_CHECK = "router: route options"  # the name of the check a router writes for bad tags


def route_options_check_id(service: str) -> str:
    """The key segment of the check a router writes under `checks/<alloc>/` when the
    service's `urlprefix-` tags carry options it cannot use (not one of the service's own
    checks, so it never decides health: it only shows the problem where checks are read)."""
    return f"{service}-router-route-options"


class CheckState(StrEnum):
    PASSING = "passing"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass
class RegisteredCheck:
    """One check of a registration; `id` is its key segment under `checks/<alloc>/`."""

    id: str
    check: Check


@dataclass
class ServiceRegistration:
    id: str  # Nomad-style: _nomad-task-<alloc>-<group|task>-<service>-<port>
    service_name: str
    alloc_id: AllocId
    namespace: str
    job_id: str
    group: str
    task: str  # "" for a group-level service
    node_id: NodeId
    datacenter: str = "dc1"
    address: str = "127.0.0.1"
    port: int = 0
    port_label: str = ""
    tags: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    checks: list[RegisteredCheck] = field(default_factory=list)
    canary: bool = False
    create_time: float = 0.0
    # who wrote it: "" the registrar (for an allocation); "agent" the Consul agent API
    # (`/v1/agent/service/register`, a service no job runs; kept until deregistered)
    source: str = ""
    schema: int = 1


@dataclass
class CheckStatus:
    alloc_id: AllocId
    check_id: str
    check_name: str = ""
    service_name: str = ""
    status: CheckState = CheckState.CRITICAL
    output: str = ""
    time: float = 0.0
    schema: int = 1
