"""ACL enforcement for both faces of the API: who is calling, and may they call this route.

The middleware runs right after the gate. It finds the caller's token (`X-Nomad-Token`,
`Authorization: Bearer`, and on the Consul face `X-Consul-Token`), resolves it from a
watched cache of tokens and policies (`AclCache`: no etcd read per request; only a secret
the cache does not know yet is read from etcd, so a token works the moment it is created
and a deleted one stops at once), and checks the one table of routes (`reconciler.api.
acl_table`) for what the route needs. A request without a token is the anonymous caller:
the policy named `anonymous`, if there is one, applies to it. A route missing from the
table is refused, so an endpoint added without a rule fails closed (and a test lists every
registered route against the table).

Refusals are Nomad's: 403 with the plain-text body `Permission denied` (or `ACL token not
found` for an unknown secret); the needed capability is logged, not told to the caller.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from reconciler.api.acl_table import RouteKey, Rule, Source
from reconciler.api.errors import ApiError
from reconciler.api.http import MAX_BODY
from reconciler.model.acl import (
    DENY_ALL,
    MANAGEMENT,
    Acl,
    AclPolicy,
    AclToken,
    Capability,
    NeedKind,
    Scope,
    TokenType,
    allowed,
    compile_acl,
    hash_secret,
)
from reconciler.model.objects import Allocation, Deployment, Evaluation, JobRecord
from reconciler.ops.acl import token_by_secret
from reconciler.runtime import Informer
from reconciler.store import Store, StoreError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ANONYMOUS = "anonymous"
DENIED = "Permission denied"
TOKEN_HEADERS = ("X-Nomad-Token", "X-Consul-Token")


@dataclass(frozen=True)
class Caller:
    """Who made the request: their token (None: anonymous), its secret and merged rules."""

    acl: Acl
    token: AclToken | None = None
    secret: str = ""


CALLER = web.RequestKey("acl.caller", Caller)


class TokenUnknown(Exception):
    """A secret was presented that no token has."""


class AclCache:
    """Watched caches of `acl_tokens/` (indexed by secret hash) and `acl_policies/`."""

    def __init__(self, store: Store, *, name: str = "api") -> None:
        self.store = store
        self.tokens: Informer[AclToken] = Informer(
            store, store.keys.acl_tokens, AclToken, name=f"{name}:acl-tokens"
        )
        self.policies: Informer[AclPolicy] = Informer(
            store, store.keys.acl_policies, AclPolicy, name=f"{name}:acl-policies"
        )
        self.tokens.add_index("hash", lambda t: [t.secret_hash])

    def start(self, timeout: float = 30.0) -> None:
        for inf in (self.tokens, self.policies):
            inf.start()
        for inf in (self.tokens, self.policies):
            if not inf.wait_synced(timeout):
                raise StoreError(f"cache {inf.name} did not sync within {timeout:.0f}s")

    def stop(self) -> None:
        for inf in (self.tokens, self.policies):
            inf.stop()

    def wait_applied(self, inf: Informer[Any], key: str, revision: int, timeout: float = 5.0) -> bool:
        """Block until the cache shows the write of `revision` (0: the deletion of `key`), so
        that a change an ACL endpoint answered for applies to this agent's next request
        (a revoked token must not work one moment longer). Waits on the informer's
        condition, never polls."""
        if revision:
            return inf.wait_revision(revision, timeout)
        deadline = time.monotonic() + timeout
        while inf.get(key) is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            inf.wait_revision(inf.revision + 1, left)
        return True

    def _policy(self, name: str, *, direct: bool) -> AclPolicy | None:
        key = self.store.keys.acl_policy(name)
        if direct:
            got = self.store.get(key, AclPolicy)
            return got.value if got is not None else None
        return self.policies.get(key)

    def acl_of(self, policies: list[str], *, direct: bool = False) -> Acl:
        found = [p for p in (self._policy(n, direct=direct) for n in policies) if p is not None]
        return compile_acl(p.parsed for p in found) if found else DENY_ALL

    def cached(self, secret: str) -> AclToken | None:
        hits = self.tokens.by_index("hash", hash_secret(secret))
        return hits[0] if hits else None

    def caller_direct(self, secret: str) -> Caller:
        """For a secret the cache does not know (yet): read token and policies from etcd."""
        token = token_by_secret(self.store, secret)
        if token is None:
            raise TokenUnknown
        return self._caller(token, secret, direct=True)

    def _caller(self, token: AclToken, secret: str, *, direct: bool) -> Caller:
        acl = MANAGEMENT if token.type is TokenType.MANAGEMENT else self.acl_of(token.policies, direct=direct)
        return Caller(acl, token, secret)

    async def caller(self, secret: str) -> Caller:
        if not secret:
            return Caller(self.acl_of([ANONYMOUS]))
        token = self.cached(secret)
        if token is not None:
            return self._caller(token, secret, direct=False)
        return await asyncio.to_thread(self.caller_direct, secret)


ACL_CACHE = web.AppKey("acl.cache", AclCache)


def presented_secret(request: web.Request) -> str:
    for name in TOKEN_HEADERS:
        if value := request.headers.get(name, "").strip():
            return value
    auth = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


class _Namespaced(Protocol):
    @property
    def namespace(self) -> str: ...


N = TypeVar("N", bound=_Namespaced)


def _namespace_in(store: Store, prefix: str, typ: type[N], ident: str) -> str | None:
    exact = store.get(prefix + ident, typ) if "/" not in ident else None
    if exact is not None:
        return exact.value.namespace
    items, _ = store.list(prefix, typ)
    hits = [i.value for i in items if i.key[len(prefix) :].startswith(ident)]
    return hits[0].namespace if len(hits) == 1 else None


def _object_namespace(store: Store, source: Source, ident: str) -> str | None:
    """The namespace of the allocation, evaluation or deployment `ident` (full id or unique
    prefix) names; None if there is no such object (the handler answers 404)."""
    keys = store.keys
    if source is Source.ALLOC:
        return _namespace_in(store, keys.allocs, Allocation, ident)
    if source is Source.EVAL:
        return _namespace_in(store, keys.evals, Evaluation, ident)
    return _namespace_in(store, keys.deployments, Deployment, ident)


async def _body_namespace(request: web.Request) -> str:
    """`Job.Namespace` of a job body (register, plan); the handler reads the same bytes."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return "default"  # the handler refuses it with 413 before reading anything
    try:
        data = json.loads(await request.read() or b"null")
    except (ValueError, RecursionError, web.HTTPRequestEntityTooLarge):
        return "default"  # the handler answers 400/413
    job = data.get("Job") if isinstance(data, dict) else None
    ns = job.get("Namespace") if isinstance(job, dict) else None
    return ns if isinstance(ns, str) and ns else "default"


async def request_namespace(request: web.Request, rule: Rule, store: Store) -> str:
    query = request.query.get("namespace") or "default"
    if rule.source is Source.QUERY:
        return query
    if rule.source is Source.ALL:
        return "*"
    if rule.source is Source.BODY_JOB:
        return await _body_namespace(request)
    if rule.source is Source.FIXED:
        return "default"
    found = await asyncio.to_thread(_object_namespace, store, rule.source, request.match_info[rule.param])
    return found if found is not None else query


def refuse(message: str = DENIED) -> web.Response:
    return web.Response(status=403, text=message, content_type="text/plain")


def route_key(request: web.Request) -> RouteKey | None:
    """(method, the route's pattern as registered); None for an unmatched path (404/405)."""
    resource = request.match_info.route.resource
    if resource is None:
        return None
    return ("GET" if request.method == "HEAD" else request.method, resource.canonical)


def acl_middleware(cache: AclCache, table: Mapping[RouteKey, Rule]) -> Middleware:
    @web.middleware
    async def acl(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = route_key(request)
        if key is None:
            return await handler(request)
        rule = table.get(key)
        if rule is None:
            log.warning("acl route=%s %s has no rule in the ACL table; refused", *key)
            return refuse()
        try:
            caller = await cache.caller(presented_secret(request))
        except TokenUnknown:
            return refuse("ACL token not found")
        request[CALLER] = caller
        needs = (rule.need_for(request.query), *rule.also)
        namespaced = any(n.kind in NAMESPACED for n in needs)
        ns = await request_namespace(request, rule, cache.store) if namespaced else "default"
        path = request.match_info.get(rule.param, "") if rule.param else ""  # a variable's path
        has_token = caller.token is not None
        for n in needs:
            if not allowed(caller.acl, n, has_token=has_token, namespace=ns, path=path):
                log.info("acl refused route=%s %s need=%s namespace=%s", *key, n, ns)
                return refuse()
        return await handler(request)

    return acl


NAMESPACED = frozenset({NeedKind.NAMESPACE, NeedKind.VARIABLE})


def require(request: web.Request, namespace: str, capability: str) -> None:
    """For a handler that learns the namespace only from what it parsed (the UI's pasted
    job): raise 403 unless the caller has `capability` there. No-op with ACLs off."""
    caller = request.get(CALLER)
    if caller is not None and not caller.acl.allows_namespace(namespace, (capability,)):
        raise ApiError(403, DENIED)


# --- lists that span namespaces --------------------------------------------------------------
#
# A list of every namespace (`?namespace=*`, `/v1/allocations`, `/v1/evaluations`, the Consul
# catalog, search, the event stream) is let through when the caller holds the capability in
# any namespace (`Acl.allows_namespace("*")`, Nomad's rule); its handler then keeps only the
# objects of namespaces the caller may read, as Nomad filters them. Answers are rendered
# once per state *and per caller's rules* (`view_key`), so one caller's rendering is never
# served to another whose rules differ.

Visible = Callable[[str], bool]


def everything(namespace: str) -> bool:
    return True


def visible(request: web.Request, *capabilities: str) -> Visible:
    """Which namespaces' objects this request may list (any one of `capabilities` there;
    by default `read-job`). Everything with ACLs off or for a management token."""
    caller = request.get(CALLER)
    if caller is None or caller.acl.management:
        return everything
    acl, caps = caller.acl, capabilities or (Capability.READ_JOB,)
    return lambda namespace: acl.visible(namespace, caps)


def sees_nodes(request: web.Request) -> bool:
    """May this request see nodes (a `node` read rule)? True with ACLs off."""
    caller = request.get(CALLER)
    return caller is None or caller.acl.allows_level(Scope.NODE, "read")


def view_key(request: web.Request) -> Hashable:
    """What a rendered answer depends on of the caller: None with ACLs off or for
    management (they see everything), else the fingerprint of the caller's merged rules."""
    caller = request.get(CALLER)
    return None if caller is None or caller.acl.management else caller.acl.fingerprint


@dataclass(frozen=True)
class EventAccess:
    """What a subscriber of the event stream may see: events of the namespaces `namespaces`
    admits, and events without a namespace (nodes) only with a `node` read rule."""

    namespaces: Visible = everything
    nodes: bool = True

    def allows(self, namespace: str) -> bool:
        return self.namespaces(namespace) if namespace else self.nodes


async def event_access(request: web.Request) -> EventAccess | None:
    """The caller's access to the event stream *now*: the stream asks again every second, so
    a changed policy applies and a deleted token ends the stream (Nomad re-authenticates its
    subscriptions). None once the token is gone. Everything with ACLs off."""
    caller = request.get(CALLER)
    if caller is None:
        return EventAccess()
    try:
        caller = await request.app[ACL_CACHE].caller(caller.secret)
    except TokenUnknown:
        return None
    if caller.acl.management:
        return EventAccess()
    acl = caller.acl
    return EventAccess(
        lambda ns: acl.visible(ns, (Capability.READ_JOB,)), acl.allows_level(Scope.NODE, "read")
    )


# drivers whose tasks share the host's filesystem: exec into them needs `alloc-node-exec`
# besides `alloc-exec`, as in Nomad (whose exec and java drivers chroot; here they do not
# yet, review H3, and are still treated as Nomad treats them)
NO_FS_ISOLATION = frozenset({"raw_exec"})


def task_driver(store: Store, alloc: Allocation, task: str) -> str | None:
    rec = store.get(store.keys.job_version(alloc.namespace, alloc.job_id, alloc.job_version), JobRecord)
    if rec is None:
        return None
    for group in rec.value.job.task_groups:
        if group.name == alloc.task_group:
            return next((t.driver for t in group.tasks if t.name == task), None)
    return None


async def require_node_exec(request: web.Request, alloc: Allocation, task: str) -> None:
    """`alloc exec` into a task without filesystem isolation: 403 unless the caller also
    has `alloc-node-exec` in the allocation's namespace. No-op with ACLs off."""
    caller = request.get(CALLER)
    if caller is None or caller.acl.management:
        return
    store = request.app[ACL_CACHE].store
    if await asyncio.to_thread(task_driver, store, alloc, task) in NO_FS_ISOLATION:
        require(request, alloc.namespace, Capability.ALLOC_NODE_EXEC)
