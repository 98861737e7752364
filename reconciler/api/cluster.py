"""Cluster-wide reads python-nomad and the Nomad CLI call, from the watched caches:

    GET  /v1/agent/members    GET /v1/agent/servers    GET /v1/regions
    POST /v1/search {"Prefix", "Context"}               POST /v1/validate/job {"Job": {...}}

Namespaces are objects of their own (api/namespaces.py). With ACLs on, lists and search
show only the namespaces (and their objects) the caller may read, and nodes only to a
`node` read rule, as Nomad filters them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from reconciler import __version__, spec
from reconciler.api.acl import Visible, sees_nodes, visible
from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.api.http import body_object, ok
from reconciler.api.namespaces import namespaces_of
from reconciler.api.views import answer, watched
from reconciler.api.watched import WatchedState

routes = web.RouteTableDef()

SEARCH_LIMIT = 20  # matches per context, as Nomad truncates them
# a namespace is listed to a caller holding either of these in it


def _member(request: web.Request) -> dict[str, Any]:
    ctx = request.app[CTX]
    host, _, port = (request.host or "127.0.0.1:4646").rpartition(":")
    return {
        "Name": f"{ctx.node_name}.{ctx.region}",
        "Addr": host or "127.0.0.1",
        "Port": int(port) if port.isdigit() else 4646,
        "Tags": {"region": ctx.region, "dc": ctx.datacenter, "build": __version__, "role": "nomad"},
        "Status": "alive",
        "ProtocolMin": 1,
        "ProtocolMax": 5,
        "ProtocolCur": 2,
        "DelegateMin": 2,
        "DelegateMax": 5,
        "DelegateCur": 2,
    }


@routes.get("/v1/agent/members")
async def members(request: web.Request) -> web.Response:
    """This agent (the only one whose address it knows: agents share etcd, not gossip)."""
    ctx, w = request.app[CTX], watched(request)
    body = {"ServerName": ctx.node_name, "ServerRegion": ctx.region, "ServerDC": ctx.datacenter}
    return await answer(
        request, lambda: (w.leaders.revision,), lambda: {**body, "Members": [_member(request)]}
    )


@routes.get("/v1/agent/servers")
async def servers(request: web.Request) -> web.Response:
    w = watched(request)
    return await answer(request, lambda: (w.leaders.revision,), lambda: [request.host or "127.0.0.1:4646"])


@routes.get("/v1/regions")
async def regions(request: web.Request) -> web.Response:
    w, region = watched(request), request.app[CTX].region
    return await answer(request, lambda: (w.leaders.revision,), lambda: [region])


Context = tuple[Callable[[], tuple[int, ...]], Callable[[], list[str]]]


def _contexts(w: WatchedState, shown: Visible, nodes: bool) -> dict[str, Context]:
    """Nomad's search contexts: each one's index and the ids it searches (of the namespaces
    `shown` admits; nodes only when `nodes`)."""
    return {
        "jobs": (lambda: (w.jobs.index,), lambda: [r.id for r in w.jobs.items() if shown(r.namespace)]),
        "allocs": (lambda: (w.allocs.index,), lambda: [a.id for a in w.allocs.items() if shown(a.namespace)]),
        "nodes": (lambda: (w.node_table.index,), lambda: [n.id for n in w.nodes.list()] if nodes else []),
        "evals": (lambda: (w.evals.index,), lambda: [e.id for e in w.evals.items() if shown(e.namespace)]),
        "deployment": (
            lambda: (w.deployments.index,),
            lambda: [d.id for d in w.deployments.items() if shown(d.namespace)],
        ),
        "namespaces": (
            lambda: (w.namespaces.index,),
            lambda: [n.name for n in namespaces_of(w) if shown(n.name)],
        ),
    }


@routes.post("/v1/search")
@routes.put("/v1/search")
async def search(request: web.Request) -> web.Response:
    """Ids that start with `Prefix`, per context (`all` searches every one)."""
    w = watched(request)
    body = await body_object(request)
    prefix, context = body.get("Prefix", ""), body.get("Context", "all") or "all"
    contexts = _contexts(w, visible(request), sees_nodes(request))
    if not isinstance(prefix, str) or context not in (*contexts, "all"):
        raise ApiError(400, f"Context must be one of {', '.join(['all', *contexts])}; Prefix a string")
    chosen = contexts if context == "all" else {context: contexts[context]}

    await w.fence()  # a POST's answer depends on its body: not blocking, not kept (views.answer)
    index = max(i for idx, _ in chosen.values() for i in idx())
    found = {name: sorted(i for i in ids() if i.startswith(prefix)) for name, (_, ids) in chosen.items()}
    out = {
        "Matches": {name: ids[:SEARCH_LIMIT] for name, ids in found.items()},
        "Truncations": {name: len(ids) > SEARCH_LIMIT for name, ids in found.items()},
    }
    return ok(out, index=max(index, 1))


@routes.post("/v1/validate/job")
@routes.put("/v1/validate/job")
async def validate_job(request: web.Request) -> web.Response:
    """Nomad's `Job.Validate`: the job's problems in the answer (200), not as an error."""
    w = watched(request)
    body = await body_object(request)
    raw = body.get("Job")
    errors: list[str] = []
    if not isinstance(raw, dict):
        errors = ['request body must be {"Job": {...}}']
    else:
        try:
            spec.job_from_request(body)
        except spec.SpecError as exc:
            errors = [str(e) for e in exc.errors] or [str(exc)]
        except (TypeError, ValueError) as exc:
            errors = [f"invalid job: {exc}"]
    out = {
        "DriverConfigValidated": not errors,
        "ValidationErrors": errors or None,
        "Error": "\n".join(errors),
        "Warnings": "",
    }
    return ok(out, index=max(w.jobs.index, 1))
