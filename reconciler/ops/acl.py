"""The ACL operations: bootstrap, policies and tokens, each one guarded transaction.

A token is two keys written and deleted together: `acl_tokens/<accessor>` (what the token
is) and `acl_token_hashes/<sha256 of the secret>` (which accessor a presented secret
belongs to). The secret itself is returned once, by the operation that made it, and never
stored. Bootstrap is a create-if-absent of `acl_bootstrap` in the same transaction as the
management token, so two racing bootstraps cannot both succeed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from reconciler.model.acl import (
    AclBootstrap,
    AclPolicy,
    AclToken,
    AclTokenRef,
    TokenType,
    hash_secret,
    new_secret,
)
from reconciler.model.ids import is_valid_name, new_id
from reconciler.ops.errors import NotFound, Rejected
from reconciler.spec.acl_policy import PolicyError, parse_policy
from reconciler.store import Conflict, Store, Txn, Versioned

log = logging.getLogger(__name__)

BOOTSTRAP_NAME = "Bootstrap Token"


class PolicyNotFound(NotFound):
    """No policy with that name."""


class TokenNotFound(NotFound):
    """No token with that accessor id."""


class AlreadyBootstrapped(Rejected):
    """`acl bootstrap` already ran on this cluster."""


@dataclass(frozen=True)
class IssuedToken:
    """A token just written, with its secret (the one time it is known) and the revision."""

    token: AclToken
    secret: str
    index: int


def _token_txn(store: Store, token: AclToken) -> Txn:
    keys = store.keys
    return (
        Txn()
        .compare_absent(keys.acl_token(token.accessor_id))
        .compare_absent(keys.acl_token_hash(token.secret_hash))
        .put(keys.acl_token(token.accessor_id), token)
        .put(keys.acl_token_hash(token.secret_hash), AclTokenRef(token.accessor_id))
    )


def _new_token(name: str, type_: TokenType, policies: list[str], *, is_global: bool) -> tuple[AclToken, str]:
    secret = new_secret()
    token = AclToken(
        accessor_id=new_id(),
        secret_hash=hash_secret(secret),
        name=name,
        type=type_,
        policies=sorted(set(policies)),
        is_global=is_global,
        create_time=time.time(),
    )
    return token, secret


def bootstrap(store: Store) -> IssuedToken:
    """The first management token; AlreadyBootstrapped after the first success."""
    token, secret = _new_token(BOOTSTRAP_NAME, TokenType.MANAGEMENT, [], is_global=True)
    txn = _token_txn(store, token)
    txn.compare_absent(store.keys.acl_bootstrap).put(
        store.keys.acl_bootstrap, AclBootstrap(token.accessor_id, token.create_time)
    )
    rev = store.commit_revision(txn)
    if rev is None:
        raise AlreadyBootstrapped("ACL bootstrap already done")
    log.info("acl bootstrapped accessor=%s", token.accessor_id)
    return IssuedToken(token, secret, rev)


# policies ---------------------------------------------------------------------------------


def _policy_key(store: Store, name: str) -> str:
    if not is_valid_name(name):
        raise Rejected(f"invalid policy name {name!r}: use letters, digits, '-', '_' and '.'", field="Name")
    return store.keys.acl_policy(name)


def apply_policy(store: Store, name: str, rules: str, description: str = "") -> Versioned[AclPolicy]:
    """Create or replace a policy; Rejected (field Rules) if Nomad would refuse its text."""
    key = _policy_key(store, name)
    try:
        parsed = parse_policy(rules)
    except PolicyError as exc:
        raise Rejected(str(exc), field="Rules") from None
    policy = AclPolicy(name=name, description=description, rules=rules, parsed=parsed)
    written = store.update(key, AclPolicy, lambda _cur: policy)
    assert written is not None  # the change function always returns a value
    log.info("acl policy=%s applied", name)
    return written


def get_policy(store: Store, name: str) -> Versioned[AclPolicy]:
    got = store.get(_policy_key(store, name), AclPolicy)
    if got is None:
        raise PolicyNotFound(f"ACL policy not found: {name}")
    return got


def delete_policy(store: Store, name: str) -> None:
    """Delete a policy; tokens that name it simply lose what it granted (as in Nomad)."""
    if not store.delete(_policy_key(store, name)):
        raise PolicyNotFound(f"ACL policy not found: {name}")
    log.info("acl policy=%s deleted", name)


def list_policies(store: Store) -> tuple[list[Versioned[AclPolicy]], int]:
    return store.list(store.keys.acl_policies, AclPolicy)


# tokens -----------------------------------------------------------------------------------


def _check_token(store: Store, type_: str, policies: list[str]) -> TokenType:
    if type_ not in TokenType.__members__.values():
        raise Rejected(f"token type must be 'client' or 'management', not {type_!r}", field="Type")
    kind = TokenType(type_)
    if kind is TokenType.MANAGEMENT and policies:
        raise Rejected("a management token cannot be associated with policies", field="Policies")
    if kind is TokenType.CLIENT and not policies:
        raise Rejected("a client token needs at least one policy", field="Policies")
    for name in policies:
        if store.get(_policy_key(store, name), AclPolicy) is None:
            raise Rejected(f"policy not found: {name}", field="Policies")
    return kind


def create_token(
    store: Store, name: str, type_: str, policies: list[str], *, is_global: bool = False
) -> IssuedToken:
    token, secret = _new_token(name, _check_token(store, type_, policies), policies, is_global=is_global)
    rev = store.commit_revision(_token_txn(store, token))
    if rev is None:  # a fresh UUID already in use: not going to happen, but never overwrite
        raise Rejected("token id collision; try again")
    log.info("acl token accessor=%s created type=%s", token.accessor_id, token.type.value)
    return IssuedToken(token, secret, rev)


def _token_key(store: Store, accessor_id: str) -> str:
    if not is_valid_name(accessor_id):
        raise Rejected(f"invalid accessor id {accessor_id!r}", field="AccessorID")
    return store.keys.acl_token(accessor_id)


def get_token(store: Store, accessor_id: str) -> Versioned[AclToken]:
    got = store.get(_token_key(store, accessor_id), AclToken)
    if got is None:
        raise TokenNotFound(f"ACL token not found: {accessor_id}")
    return got


def token_by_secret(store: Store, secret: str) -> AclToken | None:
    """The token a presented secret belongs to (two reads; the API's cache avoids them)."""
    ref = store.get(store.keys.acl_token_hash(hash_secret(secret)), AclTokenRef)
    if ref is None:
        return None
    got = store.get(store.keys.acl_token(ref.value.accessor_id), AclToken)
    return got.value if got is not None else None


def update_token(
    store: Store, accessor_id: str, *, name: str, type_: str, policies: list[str]
) -> Versioned[AclToken]:
    kind = _check_token(store, type_, policies)

    def change(cur: AclToken | None) -> AclToken:
        if cur is None:
            raise TokenNotFound(f"ACL token not found: {accessor_id}")
        return replace(cur, name=name, type=kind, policies=sorted(set(policies)))

    written = store.update(_token_key(store, accessor_id), AclToken, change)
    assert written is not None
    return written


def delete_token(store: Store, accessor_id: str) -> None:
    cur = get_token(store, accessor_id)
    txn = (
        Txn()
        .compare_mod(cur.key, cur.mod_revision)
        .delete(cur.key)
        .delete(store.keys.acl_token_hash(cur.value.secret_hash))
    )
    if not store.commit(txn):
        raise Conflict(f"ACL token {accessor_id} changed while it was being deleted; try again")
    log.info("acl token accessor=%s deleted", accessor_id)


def list_tokens(store: Store) -> tuple[list[Versioned[AclToken]], int]:
    return store.list(store.keys.acl_tokens, AclToken)
