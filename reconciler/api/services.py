"""Service discovery endpoints in Nomad's native shapes.

`GET /v1/services` lists service names and tags per namespace, `GET /v1/service/{name}`
the registrations of one service, `GET /v1/client/allocation/{alloc_id}/checks` the health
of an allocation's checks. All read the catalog the registrars write (`services/`, `checks/`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from reconciler.api.acl import Visible, visible
from reconciler.api.allocations import find_alloc
from reconciler.api.http import ident, namespace
from reconciler.api.views import BY_ID, answer, watched
from reconciler.api.watched import WatchedState
from reconciler.model.services import CheckState, CheckStatus, ServiceRegistration
from reconciler.store import Versioned

NOMAD_CHECK_STATUS: dict[str, str] = {
    CheckState.PASSING: "success",
    CheckState.WARNING: "failure",
    CheckState.CRITICAL: "failure",
}

routes = web.RouteTableDef()


def registration_json(v: Versioned[ServiceRegistration]) -> dict[str, Any]:
    r = v.value
    return {
        "ID": r.id,
        "ServiceName": r.service_name,
        "Namespace": r.namespace,
        "NodeID": r.node_id,
        "Datacenter": r.datacenter,
        "JobID": r.job_id,
        "AllocID": r.alloc_id,
        "Tags": r.tags,
        "Address": r.address,
        "Port": r.port,
        "CreateIndex": v.create_revision,
        "ModifyIndex": v.mod_revision,
    }


def services_json(
    regs: list[ServiceRegistration], namespace: str | None, shown: Visible = lambda ns: True
) -> list[dict[str, Any]]:
    """Nomad's `/v1/services` shape: per namespace, each service once with the union of tags
    (only namespaces `shown` admits: the caller's read-job ones)."""
    by_ns: dict[str, dict[str, set[str]]] = {}
    for r in regs:
        if (namespace not in (None, "*") and r.namespace != namespace) or not shown(r.namespace):
            continue
        by_ns.setdefault(r.namespace, {}).setdefault(r.service_name, set()).update(r.tags)
    return [
        {
            "Namespace": ns,
            "Services": [{"ServiceName": name, "Tags": sorted(tags)} for name, tags in sorted(svcs.items())],
        }
        for ns, svcs in sorted(by_ns.items())
    ]


def check_json(c: CheckStatus, reg: ServiceRegistration | None) -> dict[str, Any]:
    return {
        "ID": c.check_id,
        "Check": c.check_name or c.check_id,
        "Service": c.service_name,
        "Group": reg.group if reg else "",
        "Task": reg.task if reg else "",
        "Mode": "healthiness",
        "Status": NOMAD_CHECK_STATUS.get(c.status, "pending"),
        "Health": c.status,
        "Output": c.output,
        "Timestamp": int(c.time),
    }


def _registrations(w: WatchedState, name: str | None = None) -> list[Versioned[ServiceRegistration]]:
    inf = w.services
    if name is None:
        return inf.items()
    return [v for k in inf.keys_by_index("name", name) if (v := inf.get_versioned(k)) is not None]


@routes.get("/v1/services")
async def services(request: web.Request) -> web.Response:
    w, ns, shown = watched(request), namespace(request, wildcard=True), visible(request)
    return await answer(
        request,
        lambda: (w.service_table.index,),
        lambda: services_json([i.value for i in _registrations(w)], ns, shown),
    )


SERVICE_ORDER = dataclasses.replace(BY_ID, token=lambda r: f"{r['AllocID']}/{r['Port']:05d}/{r['ID']}")


@routes.get("/v1/service/{name}")
async def service(request: web.Request) -> web.Response:
    w, name = watched(request), ident(request, "name")
    ns, shown = namespace(request, wildcard=True), visible(request)
    tag = request.query.get("tag")

    def render() -> list[dict[str, Any]]:
        rows = [
            registration_json(i)
            for i in _registrations(w, name)
            if (ns == "*" or i.value.namespace == ns) and shown(i.value.namespace)
        ]
        return [r for r in rows if tag in r["Tags"]] if tag else rows

    return await answer(request, lambda: (w.service_table.scope_index("name", name),), render, SERVICE_ORDER)


@routes.get("/v1/client/allocation/{alloc_id}/checks")
async def alloc_checks(request: web.Request) -> web.Response:
    w, alloc_ident = watched(request), request.match_info["alloc_id"]

    def render() -> dict[str, Any]:
        alloc = find_alloc(w, alloc_ident)
        regs = [r for r in w.services.by_index("node", alloc.node_id) if r.alloc_id == alloc.id]
        out = {}
        for c in sorted(w.checks.by_index("alloc", alloc.id), key=lambda c: c.check_id):
            reg = next((r for r in regs if any(rc.id == c.check_id for rc in r.checks)), None)
            out[c.check_id] = check_json(c, reg)
        return out

    def index() -> tuple[int, ...]:
        return (w.check_table.scope_index("alloc", alloc_ident), w.service_table.index, w.allocs.index)

    return await answer(request, index, render)
