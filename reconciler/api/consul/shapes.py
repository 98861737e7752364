"""Consul's JSON shapes for the catalog, health and agent endpoints: pure functions.

Field names and nesting follow Consul's HTTP API (`/v1/catalog/service/:name` entries,
`/v1/health/service/:name` entries with `Node`, `Service` and `Checks`, check objects), so
Consul clients (py-consul, consul-template, Traefik, Prometheus' consul_sd) read them
unchanged. Every node carries Consul's `serfHealth` check: passing while the node is ready.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.model.objects import Node, NodeStatus
from reconciler.model.services import (
    ROUTE_OPTIONS_CHECK,
    CheckState,
    CheckStatus,
    ServiceRegistration,
    route_options_check_id,
)
from reconciler.store import Versioned

SERF_CHECK = "serfHealth"
CHECK_STATES = ("passing", "warning", "critical")


def node_json(node: Versioned[Node] | None, fallback_name: str = "") -> dict[str, Any]:
    if node is None:
        return {
            "ID": "",
            "Node": fallback_name,
            "Address": "",
            "Datacenter": "dc1",
            "TaggedAddresses": {},
            "Meta": {},
            "CreateIndex": 0,
            "ModifyIndex": 0,
        }
    n = node.value
    return {
        "ID": n.id,
        "Node": n.name,
        "Address": n.address,
        "Datacenter": n.datacenter,
        "TaggedAddresses": {"lan": n.address, "wan": n.address},
        "Meta": dict(n.meta),
        "CreateIndex": node.create_revision,
        "ModifyIndex": node.mod_revision,
    }


def serf_check(node: Versioned[Node] | None, name: str) -> dict[str, Any]:
    alive = node is not None and node.value.status == NodeStatus.READY
    index = node.mod_revision if node is not None else 0
    return {
        "Node": name,
        "CheckID": SERF_CHECK,
        "Name": "Serf Health Status",
        "Status": CheckState.PASSING.value if alive else CheckState.CRITICAL.value,
        "Notes": "",
        "Output": "Agent alive and reachable" if alive else "Agent not live or unreachable",
        "ServiceID": "",
        "ServiceName": "",
        "ServiceTags": [],
        "Type": "",
        "Definition": {},
        "CreateIndex": index,
        "ModifyIndex": index,
    }


def service_checks(
    reg: Versioned[ServiceRegistration], node_name: str, status: Mapping[str, Versioned[CheckStatus]]
) -> list[dict[str, Any]]:
    """The registration's checks with their last result; a check not yet run is critical,
    as a new check is in Consul."""
    r = reg.value
    out: list[dict[str, Any]] = []
    rows = [(rc.id, rc.check.name or rc.id, rc.check.type) for rc in r.checks]
    if route_options_check_id(r.service_name) in status:  # a router's word on the tags
        rows.append((route_options_check_id(r.service_name), ROUTE_OPTIONS_CHECK, "router"))
    for check_id, name, kind in rows:
        st = status.get(check_id)
        out.append(
            {
                "Node": node_name,
                "CheckID": check_id,
                "Name": name,
                "Status": (st.value.status if st is not None else CheckState.CRITICAL.value),
                "Notes": "",
                "Output": st.value.output if st is not None else "",
                "ServiceID": r.id,
                "ServiceName": r.service_name,
                "ServiceTags": list(r.tags),
                "Type": kind,
                "Definition": {},
                "CreateIndex": st.create_revision if st is not None else reg.create_revision,
                "ModifyIndex": st.mod_revision if st is not None else reg.mod_revision,
            }
        )
    return out


def agent_service_json(reg: Versioned[ServiceRegistration]) -> dict[str, Any]:
    r = reg.value
    return {
        "ID": r.id,
        "Service": r.service_name,
        "Tags": list(r.tags),
        "Meta": dict(r.meta),
        "Port": r.port,
        "Address": r.address,
        "Datacenter": r.datacenter,
        "Weights": {"Passing": 1, "Warning": 1},
        "EnableTagOverride": False,
        "CreateIndex": reg.create_revision,
        "ModifyIndex": reg.mod_revision,
    }


def catalog_service_json(reg: Versioned[ServiceRegistration], node: Versioned[Node] | None) -> dict[str, Any]:
    r = reg.value
    n = node_json(node, r.node_id)
    return {
        "ID": n["ID"],
        "Node": n["Node"],
        "Address": n["Address"],
        "Datacenter": r.datacenter,
        "TaggedAddresses": n["TaggedAddresses"],
        "NodeMeta": n["Meta"],
        "ServiceKind": "",
        "ServiceID": r.id,
        "ServiceName": r.service_name,
        "ServiceTags": list(r.tags),
        "ServiceAddress": r.address,
        "ServicePort": r.port,
        "ServiceMeta": dict(r.meta),
        "ServiceWeights": {"Passing": 1, "Warning": 1},
        "ServiceEnableTagOverride": False,
        "CreateIndex": reg.create_revision,
        "ModifyIndex": reg.mod_revision,
    }


def health_entry(
    reg: Versioned[ServiceRegistration],
    node: Versioned[Node] | None,
    status: Mapping[str, Versioned[CheckStatus]],
) -> dict[str, Any]:
    n = node_json(node, reg.value.node_id)
    return {
        "Node": n,
        "Service": agent_service_json(reg),
        "Checks": [serf_check(node, n["Node"]), *service_checks(reg, n["Node"], status)],
    }


def passing(entry: Mapping[str, Any]) -> bool:
    """Consul's `?passing`: every check of the entry, node checks included, is passing."""
    return all(c["Status"] == CheckState.PASSING.value for c in entry["Checks"])


def has_tags(tags: Iterable[str], wanted: Iterable[str]) -> bool:
    have = set(tags)
    return all(t in have for t in wanted)
