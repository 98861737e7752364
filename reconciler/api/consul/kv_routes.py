"""Consul's KV store on etcd: `/v1/kv/:key`, stored under `kv/<key>`.

GET answers `[{Key, Value (base64), Flags, LockIndex, CreateIndex, ModifyIndex}]` or an
empty 404, with `?recurse` (every key under the prefix), `?keys` (key names, rolled up at
`?separator`), `?raw` (the bare value), and blocking on `?index=`. PUT stores the request
body (`?flags=`, `?cas=`: 0 creates only if absent, N writes only if the key's ModifyIndex is
N) and answers `true` or `false`. DELETE removes a key or, with `?recurse`, a prefix (`?cas=`
as for PUT). Reads come from the watched cache; a write is answered once that cache holds
it, so a client reads its own writes.
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from reconciler.api.consul.context import block, consul_response, context, not_found, query_flag
from reconciler.api.errors import ApiError
from reconciler.api.http import MAX_BODY, run
from reconciler.model.kv import KVEntry
from reconciler.store import MAX_TXN_OPS, Txn, Versioned
from reconciler.store.keys import kv_key

routes = web.RouteTableDef()

# Consul's own limit on a value
MAX_VALUE = 512 * 1024


def _key(request: web.Request, *, prefix: bool = False) -> str:
    try:
        return kv_key(request.match_info.get("key", ""), prefix=prefix)
    except ValueError as exc:
        raise ApiError(400, str(exc), field="key") from exc


def _int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"{name} must be an unsigned integer, got {raw!r}", field=name) from exc
    if value < 0:
        raise ApiError(400, f"{name} must be an unsigned integer, got {raw!r}", field=name)
    return value


def entry_json(user_key: str, item: Versioned[KVEntry]) -> dict[str, Any]:
    return {
        "LockIndex": 0,
        "Key": user_key,
        "Flags": item.value.flags,
        "Value": item.value.value or None,
        "CreateIndex": item.create_revision,
        "ModifyIndex": item.mod_revision,
    }


def rolled_up(keys: list[str], prefix: str, separator: str) -> list[str]:
    """Consul's `?keys&separator=/`: names under `prefix`, each cut after the first separator
    that follows the prefix (a folder listing), without duplicates, sorted."""
    if not separator:
        return sorted(keys)
    out = set()
    for k in keys:
        rest = k[len(prefix) :]
        cut = rest.find(separator)
        out.add(k if cut < 0 else prefix + rest[: cut + len(separator)])
    return sorted(out)


@routes.get("/v1/kv/{key:.*}")
async def kv_get(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    kv = ctx.watched.kv
    keys = ctx.store.keys
    recurse, names = query_flag(request, "recurse"), "keys" in request.query
    key = _key(request, prefix=recurse or names)
    index = await block(request, lambda: ctx.watched.index_of(kv))
    if recurse or names:
        found = sorted(
            (keys.kv_user_key(i.key), i) for i in kv.items() if keys.kv_user_key(i.key).startswith(key)
        )
        if not found:
            return not_found(index)
        if names:
            return consul_response(
                rolled_up([k for k, _ in found], key, request.query.get("separator", "")), index
            )
        return consul_response([entry_json(k, i) for k, i in found], index)
    item = kv.get_versioned(keys.kv(key))
    if item is None:
        return not_found(index)
    if query_flag(request, "raw"):
        resp = web.Response(
            body=base64.b64decode(item.value.value or ""), content_type="application/octet-stream"
        )
        resp.headers["X-Consul-Index"] = str(index)
        return resp
    return consul_response([entry_json(key, item)], index)


async def _commit(request: web.Request, txn: Txn) -> bool:
    """Commit; once it applied, wait (briefly) until the cache shows it: a client that
    reads right after its write must see it."""
    ctx = context(request)
    kv = ctx.watched.kv
    if txn.puts:
        rev = await run(ctx.store.commit_revision, txn)
        if rev is None:
            return False
        await ctx.watched.changes.wait_until(lambda: kv.revision >= rev, 5.0)
        return True
    if not await run(ctx.store.commit, txn):
        return False
    await ctx.watched.changes.wait_until(lambda: all(kv.get_versioned(k) is None for k in txn.deletes), 5.0)
    return True


def _guard(txn: Txn, etcd_key: str, cas: int | None) -> Txn:
    if cas is not None:
        txn.compare_mod(etcd_key, cas)  # 0: the key must be absent
    return txn


@routes.put("/v1/kv/{key:.*}")
async def kv_put(request: web.Request) -> web.Response:
    ctx = context(request)
    key = _key(request)
    if request.content_length is not None and request.content_length > MAX_VALUE:
        raise ApiError(413, f"Value exceeds {MAX_VALUE} byte limit")
    body = await request.read()
    if len(body) > min(MAX_VALUE, MAX_BODY):
        raise ApiError(413, f"Value exceeds {MAX_VALUE} byte limit")
    for unsupported in ("acquire", "release"):
        if unsupported in request.query:
            raise ApiError(400, f"{unsupported}: KV locks (sessions) are not supported", field=unsupported)
    etcd_key = ctx.store.keys.kv(key)
    entry = KVEntry(value=base64.b64encode(body).decode() if body else "", flags=_int(request, "flags") or 0)
    done = await _commit(request, _guard(Txn(), etcd_key, _int(request, "cas")).put(etcd_key, entry))
    return consul_response(done, ctx.watched.index_of(ctx.watched.kv))


@routes.delete("/v1/kv/{key:.*}")
async def kv_delete(request: web.Request) -> web.Response:
    ctx = context(request)
    recurse = query_flag(request, "recurse")
    key = _key(request, prefix=recurse)
    keys = ctx.store.keys
    if recurse:
        doomed = [i.key for i in ctx.watched.kv.items() if keys.kv_user_key(i.key).startswith(key)]
        if not doomed:
            return consul_response(True, ctx.watched.index_of(ctx.watched.kv))
        # Consul's prefix is a raw prefix ("app/conf" takes "app/config"), so the keys are
        # deleted by name, in transactions of etcd's size
        for start in range(0, len(doomed), MAX_TXN_OPS):
            txn = Txn()
            for k in doomed[start : start + MAX_TXN_OPS]:
                txn.delete(k)
            await _commit(request, txn)
        return consul_response(True, ctx.watched.index_of(ctx.watched.kv))
    etcd_key = keys.kv(key)
    cas = _int(request, "cas")
    if cas is None and ctx.watched.kv.get_versioned(etcd_key) is None:
        return consul_response(True, ctx.watched.index_of(ctx.watched.kv))
    done = await _commit(request, _guard(Txn(), etcd_key, cas).delete(etcd_key))
    return consul_response(done, ctx.watched.index_of(ctx.watched.kv))
