"""ACL endpoints in Nomad's paths and shapes (Nomad's `acl_endpoint.go`):

    POST /v1/acl/bootstrap            GET /v1/acl/policies     GET|POST|DELETE /v1/acl/policy/{name}
    GET  /v1/acl/tokens               POST /v1/acl/token       GET|POST|DELETE /v1/acl/token/{accessor}
    GET  /v1/acl/token/self

Who may call which is in `acl_table` (the middleware checks it); two answers depend on the
caller and are decided here: a client token sees only its own policies and itself. A
secret is in the answer only when it was just made (bootstrap, create) or presented
(`token/self`): the store holds only its hash. With ACLs off every endpoint answers 400,
as Nomad's does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from reconciler.api.acl import ACL_CACHE, CALLER, Caller
from reconciler.api.errors import ApiError
from reconciler.api.http import body_object, ok, run
from reconciler.model.acl import AclPolicy, AclToken
from reconciler.ops import acl as ops
from reconciler.store import Store, Versioned

routes = web.RouteTableDef()


def _store(request: web.Request) -> Store:
    cache = request.app.get(ACL_CACHE)
    if cache is None:
        raise ApiError(400, "ACL support disabled")
    return cache.store


async def _applied(request: web.Request, tokens: bool, key: str, revision: int = 0) -> None:
    """Answer only once this agent's cache shows the change (`AclCache.wait_applied`)."""
    cache = request.app[ACL_CACHE]
    await run(cache.wait_applied, cache.tokens if tokens else cache.policies, key, revision)


def _caller(request: web.Request) -> Caller:
    return request[CALLER]


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def token_json(v: Versioned[AclToken] | AclToken, *, secret: str = "", index: int = 0) -> dict[str, Any]:
    t = v.value if isinstance(v, Versioned) else v
    create = v.create_revision if isinstance(v, Versioned) else index
    modify = v.mod_revision if isinstance(v, Versioned) else index
    out: dict[str, Any] = {
        "AccessorID": t.accessor_id,
        "Name": t.name,
        "Type": t.type.value,
        "Policies": t.policies,
        "Roles": None,
        "Global": t.is_global,
        "CreateTime": rfc3339(t.create_time),
        "ExpirationTime": None,
        "CreateIndex": create,
        "ModifyIndex": modify,
    }
    if secret:
        out = {"AccessorID": t.accessor_id, "SecretID": secret, **out}
    return out


def policy_json(v: Versioned[AclPolicy], *, rules: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": v.value.name, "Description": v.value.description}
    if rules:
        out["Rules"] = v.value.rules
    return {**out, "CreateIndex": v.create_revision, "ModifyIndex": v.mod_revision}


@routes.post("/v1/acl/bootstrap")
@routes.put("/v1/acl/bootstrap")
async def bootstrap(request: web.Request) -> web.Response:
    issued = await run(ops.bootstrap, _store(request))  # a second time: Rejected, a 400
    return ok(token_json(issued.token, secret=issued.secret, index=issued.index), index=issued.index)


@routes.get("/v1/acl/policies")
async def list_policies(request: web.Request) -> web.Response:
    items, rev = await run(ops.list_policies, _store(request))
    caller = _caller(request)
    mine = None if caller.acl.management or caller.token is None else set(caller.token.policies)
    stubs = [policy_json(i, rules=False) for i in items if mine is None or i.value.name in mine]
    return ok(stubs, index=rev)


@routes.get("/v1/acl/policy/{name}")
async def read_policy(request: web.Request) -> web.Response:
    store, name, caller = _store(request), request.match_info["name"], _caller(request)
    if not caller.acl.management and (caller.token is None or name not in caller.token.policies):
        raise ApiError(403, "Permission denied")
    got = await run(ops.get_policy, store, name)
    return ok(policy_json(got), index=got.mod_revision)


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or (required and not value):
        raise ApiError(400, f"{name} must be {'a non-empty' if required else 'a'} string", field=name)
    return value


@routes.post("/v1/acl/policy/{name}")
@routes.put("/v1/acl/policy/{name}")
async def apply_policy(request: web.Request) -> web.Response:
    store, name = _store(request), request.match_info["name"]
    body = await body_object(request)
    if body.get("Name", name) != name:
        raise ApiError(400, "policy name in the path does not match the body", field="Name")
    written = await run(
        ops.apply_policy, store, name, _text(body, "Rules", required=True), _text(body, "Description")
    )
    await _applied(request, False, written.key, written.mod_revision)
    return ok(None, index=written.mod_revision)


@routes.delete("/v1/acl/policy/{name}")
async def delete_policy(request: web.Request) -> web.Response:
    store = _store(request)
    await run(ops.delete_policy, store, request.match_info["name"])
    await _applied(request, False, store.keys.acl_policy(request.match_info["name"]))
    return ok(None, index=None)


@routes.get("/v1/acl/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    items, rev = await run(ops.list_tokens, _store(request))
    items.sort(key=lambda i: i.value.create_time)
    return ok([token_json(i) for i in items], index=rev)


def _token_fields(body: dict[str, Any]) -> tuple[str, str, list[str]]:
    policies = body.get("Policies") or []
    if not isinstance(policies, list) or not all(isinstance(p, str) for p in policies):
        raise ApiError(400, "Policies must be a list of policy names", field="Policies")
    return _text(body, "Name"), _text(body, "Type") or "client", policies


@routes.post("/v1/acl/token")
@routes.put("/v1/acl/token")
async def create_token(request: web.Request) -> web.Response:
    store = _store(request)
    body = await body_object(request)
    name, type_, policies = _token_fields(body)
    issued = await run(ops.create_token, store, name, type_, policies, is_global=bool(body.get("Global")))
    return ok(token_json(issued.token, secret=issued.secret, index=issued.index), index=issued.index)


@routes.get("/v1/acl/token/self")
async def token_self(request: web.Request) -> web.Response:
    store, caller = _store(request), _caller(request)
    assert caller.token is not None  # the table's TOKEN rule refuses the anonymous caller
    got = await run(ops.get_token, store, caller.token.accessor_id)
    return ok(token_json(got, secret=caller.secret), index=got.mod_revision)


@routes.get("/v1/acl/token/{accessor_id}")
async def read_token(request: web.Request) -> web.Response:
    store, accessor, caller = _store(request), request.match_info["accessor_id"], _caller(request)
    if not caller.acl.management and (caller.token is None or caller.token.accessor_id != accessor):
        raise ApiError(403, "Permission denied")
    got = await run(ops.get_token, store, accessor)
    return ok(token_json(got), index=got.mod_revision)


@routes.post("/v1/acl/token/{accessor_id}")
@routes.put("/v1/acl/token/{accessor_id}")
async def update_token(request: web.Request) -> web.Response:
    store, accessor = _store(request), request.match_info["accessor_id"]
    body = await body_object(request)
    if body.get("AccessorID", accessor) != accessor:
        raise ApiError(400, "accessor id in the path does not match the body", field="AccessorID")
    name, type_, policies = _token_fields(body)
    written = await run(ops.update_token, store, accessor, name=name, type_=type_, policies=policies)
    await _applied(request, True, written.key, written.mod_revision)
    return ok(token_json(written), index=written.mod_revision)


@routes.delete("/v1/acl/token/{accessor_id}")
async def delete_token(request: web.Request) -> web.Response:
    store = _store(request)
    await run(ops.delete_token, store, request.match_info["accessor_id"])
    await _applied(request, True, store.keys.acl_token(request.match_info["accessor_id"]))
    return ok(None, index=None)
