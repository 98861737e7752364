"""Endpoints Nomad's clients call (python-nomad's `nomad.api`, read against our routes) that
this agent does not serve yet: each answers 501 with a message naming the endpoint and
what it waits for, so a client fails with a reason instead of a bare 404. Listed in
docs/api.md. (ACLs, the event stream and metrics are other modules' business.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from reconciler.api.errors import ApiError

routes = web.RouteTableDef()

# (methods, path, what it needs): one row per endpoint
UNSERVED: list[tuple[tuple[str, ...], str, str]] = [
    (("POST", "PUT"), "/v1/node/{node_id}/evaluate", "a node evaluate operation"),
    (("POST", "PUT"), "/v1/node/{node_id}/purge", "a node purge operation"),
    (("POST", "PUT"), "/v1/node/pools", "node pools as objects (a pool exists once a node registers in it)"),
    (
        ("POST", "PUT", "DELETE"),
        "/v1/node/pool/{name}",
        "node pools as objects (a pool exists once a node registers in it)",
    ),
    (("POST", "PUT"), "/v1/deployment/allocation-health/{dep_id}", "manual allocation health"),
    (("GET",), "/v1/client/allocation/{alloc_id}/stats", "per-task cgroup statistics"),
    (("POST", "PUT"), "/v1/client/allocation/{alloc_id}/signal", "signalling tasks"),
    (("GET",), "/v1/client/allocation/{alloc_id}/gc", "client-side garbage collection"),
    (("GET", "PUT"), "/v1/client/gc", "client-side garbage collection"),
    (("GET",), "/v1/client/stats", "host statistics"),
    (("GET",), "/v1/client/fs/ls/{alloc_id}", "the allocation file system API"),
    (("GET",), "/v1/client/fs/stat/{alloc_id}", "the allocation file system API"),
    (("GET",), "/v1/client/fs/cat/{alloc_id}", "the allocation file system API"),
    (("GET",), "/v1/client/fs/readat/{alloc_id}", "the allocation file system API"),
    (("GET",), "/v1/client/fs/stream/{alloc_id}", "the allocation file system API"),
    (("POST", "PUT"), "/v1/agent/join", "gossip membership (agents share etcd instead)"),
    (("POST", "PUT"), "/v1/agent/servers", "gossip membership (agents share etcd instead)"),
    (("POST", "PUT"), "/v1/agent/force-leave", "gossip membership (agents share etcd instead)"),
    (("POST", "PUT", "DELETE"), "/v1/namespace", "namespaces as objects of their own"),
    (("POST", "PUT", "DELETE"), "/v1/namespace/{name}", "namespaces as objects of their own"),
    (("GET",), "/v1/operator/raft/configuration", "Raft (the cluster's state is in etcd)"),
    (("DELETE",), "/v1/operator/raft/peer", "Raft (the cluster's state is in etcd)"),
    (("GET",), "/v1/scaling/policies", "scaling policies"),
    (("GET",), "/v1/scaling/policy/{policy_id}", "scaling policies"),
    (("POST", "PUT"), "/v1/search/fuzzy", "fuzzy search"),
    (("GET", "POST", "PUT"), "/v1/sentinel/policies", "Sentinel (Nomad Enterprise)"),
    (("GET", "POST", "PUT", "DELETE"), "/v1/sentinel/policy/{name}", "Sentinel (Nomad Enterprise)"),
    (("GET",), "/v1/vars", "variables"),
    (("GET", "POST", "PUT", "DELETE"), "/v1/var/{path}", "variables"),
    (("PUT", "POST"), "/v1/system/reconcile/summaries", "stored job summaries (ours are computed on read)"),
]


def _refuse(path: str, needs: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        raise ApiError(501, f"{request.method} {path} is not implemented by this agent: it needs {needs}")

    return handler


for _methods, _path, _needs in UNSERVED:
    for _method in _methods:
        routes.route(_method, _path)(_refuse(_path, _needs))
