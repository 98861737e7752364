"""Namespace endpoints in Nomad's paths and shapes (`reconciler.ops.namespaces`):

    GET    /v1/namespaces?prefix=      GET /v1/namespace/{name}
    PUT|POST /v1/namespace  or  /v1/namespace/{name}   {"Name", "Description", "Meta"}
    DELETE /v1/namespace/{name}

Reads come from the namespaces cache; `default` is listed whether or not it has a key.
With ACLs on, a caller sees only the namespaces it may read jobs in (Nomad's filter).
Writes need a management token, as in Nomad.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from reconciler.api.acl import DENIED, visible
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError, not_found
from reconciler.api.http import body_object, ident, ok, run
from reconciler.api.views import answer, watched
from reconciler.api.watched import WatchedState
from reconciler.model.acl import Capability
from reconciler.model.namespaces import DEFAULT, Namespace, default_namespace
from reconciler.ops.namespaces import NamespaceSpec, delete_namespace, upsert_namespace

routes = web.RouteTableDef()

# what makes a namespace visible to a caller (in lists, reads and search)
NAMESPACE_SEEN = (Capability.READ_JOB, Capability.LIST_JOBS)


def namespaces_of(w: WatchedState) -> list[Namespace]:
    """Every namespace by name, `default` among them even before it has a key."""
    stored = {n.name: n for n in w.namespaces.items()}
    stored.setdefault(DEFAULT, default_namespace())
    return [stored[k] for k in sorted(stored)]


def namespace_json(w: WatchedState, n: Namespace) -> dict[str, Any]:
    got = w.namespaces.informer.get_versioned(w.store.keys.namespace(n.name))
    return {
        "Name": n.name,
        "Description": n.description,
        "Quota": "",
        "Capabilities": None,
        "NodePoolConfiguration": None,
        "Meta": dict(n.meta) or None,
        "CreateIndex": got.create_revision if got else 1,
        "ModifyIndex": got.mod_revision if got else 1,
    }


@routes.get("/v1/namespaces")
async def namespaces(request: web.Request) -> web.Response:
    w, prefix = watched(request), request.query.get("prefix", "")
    shown = visible(request, *NAMESPACE_SEEN)
    return await answer(
        request,
        lambda: (w.namespaces.index,),
        lambda: [
            namespace_json(w, n) for n in namespaces_of(w) if n.name.startswith(prefix) and shown(n.name)
        ],
    )


@routes.get("/v1/namespace/{name}")
async def namespace_read(request: web.Request) -> web.Response:
    w, name = watched(request), ident(request, "name")
    if not visible(request, *NAMESPACE_SEEN)(name):
        raise ApiError(403, DENIED)

    def render() -> dict[str, Any]:
        for n in namespaces_of(w):
            if n.name == name:
                return namespace_json(w, n)
        raise not_found("namespace", name)

    return await answer(request, lambda: (w.namespaces.key_index(w.store.keys.namespace(name)),), render)


def _spec(body: dict[str, Any], path_name: str | None) -> NamespaceSpec:
    name = body.get("Name") or path_name
    if not isinstance(name, str) or not name:
        raise ApiError(400, "namespace Name is required", field="Name")
    if path_name is not None and name != path_name:
        raise ApiError(400, "namespace name in the path does not match the body", field="Name")
    desc, meta = body.get("Description") or "", body.get("Meta") or {}
    if not isinstance(desc, str):
        raise ApiError(400, "Description must be a string", field="Description")
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ApiError(400, "Meta must be an object of strings", field="Meta")
    return NamespaceSpec(name, desc, meta)


@routes.post("/v1/namespace")
@routes.put("/v1/namespace")
@routes.post("/v1/namespace/{name}")
@routes.put("/v1/namespace/{name}")
async def namespace_write(request: web.Request) -> web.Response:
    """Create or update a namespace (Nomad answers no body, the index in its header)."""
    spec = _spec(await body_object(request), request.match_info.get("name"))
    out = await run(upsert_namespace, request.app[CTX].store, spec)
    return ok(None, index=out.index)


@routes.delete("/v1/namespace/{name}")
async def namespace_delete(request: web.Request) -> web.Response:
    name = ident(request, "name")
    out = await run(delete_namespace, request.app[CTX].store, name)
    return ok(None, index=out.index)
