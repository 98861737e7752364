"""Service discovery endpoints in Nomad's native shapes.

`GET /v1/services` lists service names and tags per namespace, `GET /v1/service/{name}`
the registrations of one service, `GET /v1/client/allocation/{alloc_id}/checks` the health
of an allocation's checks. All read the catalog the registrars write (`services/`, `checks/`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from reconciler.api.allocations import resolve_alloc
from reconciler.api.context import CTX
from reconciler.api.http import ident, namespace, ok, run
from reconciler.model.services import CheckState, CheckStatus, ServiceRegistration
from reconciler.store import Store, Versioned

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


def services_json(regs: list[ServiceRegistration], namespace: str | None) -> list[dict[str, Any]]:
    """Nomad's `/v1/services` shape: per namespace, each service once with the union of tags."""
    by_ns: dict[str, dict[str, set[str]]] = {}
    for r in regs:
        if namespace not in (None, "*") and r.namespace != namespace:
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


def _registrations(store: Store, prefix: str = "") -> tuple[list[Versioned[ServiceRegistration]], int]:
    return store.list(store.keys.services + prefix, ServiceRegistration)


@routes.get("/v1/services")
async def services(request: web.Request) -> web.Response:
    ns = namespace(request, wildcard=True)
    items, rev = await run(_registrations, request.app[CTX].store)
    return ok(services_json([i.value for i in items], ns), index=rev)


@routes.get("/v1/service/{name}")
async def service(request: web.Request) -> web.Response:
    name = ident(request, "name")
    ns = namespace(request, wildcard=True)
    items, rev = await run(_registrations, request.app[CTX].store, name + "/")
    rows = [registration_json(i) for i in items if ns == "*" or i.value.namespace == ns]
    tag = request.query.get("tag")
    if tag:
        rows = [r for r in rows if tag in r["Tags"]]
    return ok(sorted(rows, key=lambda r: (r["AllocID"], r["Port"])), index=rev)


@routes.get("/v1/client/allocation/{alloc_id}/checks")
async def alloc_checks(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    alloc = await run(resolve_alloc, store, request.match_info["alloc_id"])
    checks, rev = await run(store.list, store.keys.checks + alloc.id + "/", CheckStatus)
    regs = [i.value for i in (await run(_registrations, store))[0] if i.value.alloc_id == alloc.id]
    out = {}
    for c in checks:
        reg = next((r for r in regs if any(rc.id == c.value.check_id for rc in r.checks)), None)
        out[c.value.check_id] = check_json(c.value, reg)
    return ok(out, index=rev)
