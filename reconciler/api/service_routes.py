"""Service discovery endpoints in Nomad's native shapes.

`GET /v1/services` lists service names and tags per namespace, `GET /v1/service/{name}`
the registrations of one service, `GET /v1/client/allocation/{id}/checks` the health of an
allocation's checks. All read the catalog the registrars write (`services/`, `checks/`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from reconciler.api.client_routes import resolve_alloc
from reconciler.api.context import ApiContext
from reconciler.api.errors import ApiError
from reconciler.api.http import ok
from reconciler.model.ids import is_valid_name
from reconciler.model.services import CheckState, CheckStatus, ServiceRegistration
from reconciler.store import Store, Versioned

NOMAD_CHECK_STATUS: dict[str, str] = {CheckState.PASSING: "success", CheckState.WARNING: "failure", CheckState.CRITICAL: "failure"}


def registration_json(v: Versioned[ServiceRegistration]) -> dict[str, Any]:
    r = v.value
    return {
        "ID": r.id, "ServiceName": r.service_name, "Namespace": r.namespace, "NodeID": r.node_id,
        "Datacenter": r.datacenter, "JobID": r.job_id, "AllocID": r.alloc_id, "Tags": r.tags, "Address": r.address,
        "Port": r.port, "CreateIndex": v.create_revision, "ModifyIndex": v.mod_revision,
    }


def services_json(regs: list[ServiceRegistration], namespace: str | None) -> list[dict[str, Any]]:
    """Nomad's `/v1/services` shape: per namespace, each service once with the union of tags."""
    by_ns: dict[str, dict[str, set[str]]] = {}
    for r in regs:
        if namespace not in (None, "*") and r.namespace != namespace:
            continue
        by_ns.setdefault(r.namespace, {}).setdefault(r.service_name, set()).update(r.tags)
    return [
        {"Namespace": ns, "Services": [{"ServiceName": name, "Tags": sorted(tags)} for name, tags in sorted(svcs.items())]}
        for ns, svcs in sorted(by_ns.items())
    ]


def check_json(c: CheckStatus, reg: ServiceRegistration | None) -> dict[str, Any]:
    return {
        "ID": c.check_id, "Check": c.check_name or c.check_id, "Service": c.service_name,
        "Group": reg.group if reg else "", "Task": reg.task if reg else "", "Mode": "healthiness",
        "Status": NOMAD_CHECK_STATUS.get(c.status, "pending"), "Health": c.status, "Output": c.output,
        "Timestamp": int(c.time),
    }


def _list_services(store: Store) -> list[Versioned[ServiceRegistration]]:
    items, _ = store.list(store.keys.services, ServiceRegistration)
    return items


def routes(ctx: ApiContext) -> list[web.RouteDef]:
    store = ctx.store

    async def services(request: web.Request) -> web.Response:
        items = await asyncio.to_thread(_list_services, store)
        ns = request.query.get("namespace", "default") or "default"
        return ok(services_json([i.value for i in items], ns))

    async def service(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not is_valid_name(name):
            raise ApiError(400, f"invalid service name {name!r}")
        ns = request.query.get("namespace", "default") or "default"
        items, _ = await asyncio.to_thread(store.list, store.keys.services + name + "/", ServiceRegistration)
        rows = [registration_json(i) for i in items if ns == "*" or i.value.namespace == ns]
        tag = request.query.get("tag")
        if tag:
            rows = [r for r in rows if tag in r["Tags"]]
        return ok(sorted(rows, key=lambda r: (r["AllocID"], r["Port"])))

    async def alloc_checks(request: web.Request) -> web.Response:
        alloc = await asyncio.to_thread(resolve_alloc, store, request.match_info["alloc_id"])
        checks, _ = await asyncio.to_thread(store.list, store.keys.checks + alloc.id + "/", CheckStatus)
        regs = [i.value for i in await asyncio.to_thread(_list_services, store) if i.value.alloc_id == alloc.id]
        out = {}
        for c in checks:
            reg = next((r for r in regs if any(rc.id == c.value.check_id for rc in r.checks)), None)
            out[c.value.check_id] = check_json(c.value, reg)
        return ok(out)

    return [
        web.get("/v1/services", services),
        web.get("/v1/service/{name}", service),
        web.get("/v1/client/allocation/{alloc_id}/checks", alloc_checks),
    ]
