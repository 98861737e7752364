"""The capability decision (`model.acl`), table-driven: policies merged as Nomad merges them,
namespace globs, coarse policies, node/agent/operator levels, variables paths."""

from __future__ import annotations

import pytest

from reconciler.model.acl import (
    MANAGEMENT,
    Acl,
    Need,
    NeedKind,
    allowed,
    closest_glob,
    compile_acl,
    max_level,
)
from reconciler.spec.acl_policy import parse_policy


def acl_of(*texts: str) -> Acl:
    return compile_acl(parse_policy(t) for t in texts)


READ_DEFAULT = 'namespace "default" { policy = "read" }'
WRITE_DEFAULT = 'namespace "default" { policy = "write" }'
DENY_DEFAULT = 'namespace "default" { policy = "deny" }'
GLOBS = 'namespace "*-web" { policy = "deny" }\nnamespace "*" { policy = "write" }'

NS_CASES = [
    # (policies, namespace, capability, allowed)
    ([READ_DEFAULT], "default", "read-job", True),
    ([READ_DEFAULT], "default", "list-jobs", True),
    ([READ_DEFAULT], "default", "parse-job", True),
    ([READ_DEFAULT], "default", "submit-job", False),
    ([READ_DEFAULT], "default", "read-logs", False),
    ([READ_DEFAULT], "prod", "read-job", False),
    ([WRITE_DEFAULT], "default", "submit-job", True),
    ([WRITE_DEFAULT], "default", "alloc-exec", True),
    ([WRITE_DEFAULT], "default", "scale-job", True),
    ([WRITE_DEFAULT], "default", "alloc-node-exec", False),  # never part of write, as in Nomad
    (['namespace "default" { policy = "scale" }'], "default", "scale-job", True),
    (['namespace "default" { policy = "scale" }'], "default", "read-job", False),
    (
        ['namespace "default" { policy = "read"\n capabilities = ["submit-job"] }'],
        "default",
        "submit-job",
        True,
    ),
    (['namespace "default" { capabilities = ["read-logs"] }'], "default", "read-job", False),
    (['namespace { policy = "read" }'], "default", "read-job", True),  # no label: default
    ([READ_DEFAULT, WRITE_DEFAULT], "default", "submit-job", True),  # union
    ([WRITE_DEFAULT, DENY_DEFAULT], "default", "read-job", False),  # deny wins
    ([DENY_DEFAULT, WRITE_DEFAULT], "default", "read-job", False),  # whatever the order
    (['namespace "default" { policy = "write"\n capabilities = ["deny"] }'], "default", "read-job", False),
    ([GLOBS], "production-web", "read-job", False),  # "*-web" is closer than "*"
    ([GLOBS], "production-api", "submit-job", True),
    (
        [GLOBS, 'namespace "production-web" { policy = "read" }'],
        "production-web",
        "read-job",
        True,
    ),  # exact first
    (['namespace "*" { policy = "read" }'], "*", "read-job", True),  # all namespaces at once
    ([READ_DEFAULT], "*", "read-job", True),  # any namespace: the list is then filtered
    ([READ_DEFAULT], "*", "submit-job", False),
    ([DENY_DEFAULT], "*", "read-job", False),
    (['namespace "default" { policy = "scale" }'], "*", "read-job", False),
    (['namespace "team-*" { policy = "read" }'], "*", "list-jobs", True),
    (['namespace "team-*" { policy = "write" }'], "team-a", "submit-job", True),
    (['namespace "team-*" { policy = "write" }'], "teams", "submit-job", False),
    (['node { policy = "write" }'], "default", "read-job", False),
]


@pytest.mark.parametrize(
    ("policies", "namespace", "capability", "expected"),
    NS_CASES,
    ids=[f"{i}-{c[1]}-{c[2]}-{'yes' if c[3] else 'no'}" for i, c in enumerate(NS_CASES)],
)
def test_namespace_capability(policies: list[str], namespace: str, capability: str, expected: bool) -> None:
    assert acl_of(*policies).allows_namespace(namespace, (capability,)) is expected


def test_any_of_capabilities_is_enough() -> None:
    acl = acl_of('namespace "default" { capabilities = ["submit-job"] }')
    assert acl.allows_namespace("default", ("scale-job", "submit-job"))
    assert not acl.allows_namespace("default", ("scale-job", "read-job"))


VISIBLE_CASES = [
    # (policies, an object's namespace, visible in a list of every namespace)
    ([READ_DEFAULT], "default", True),
    ([READ_DEFAULT], "prod", False),
    (['namespace "*" { policy = "read" }'], "prod", True),
    (['namespace "*" { policy = "read" }\nnamespace "prod" { policy = "deny" }'], "prod", False),
    (['namespace "*" { policy = "read" }\nnamespace "prod" { policy = "deny" }'], "dev", True),
    ([GLOBS], "production-web", False),
    (['namespace "prod" { policy = "scale" }'], "prod", False),
]


@pytest.mark.parametrize(("policies", "namespace", "expected"), VISIBLE_CASES)
def test_visible_in_a_list_of_every_namespace(policies: list[str], namespace: str, expected: bool) -> None:
    acl = acl_of(*policies)
    assert acl.visible(namespace, ("read-job",)) is expected
    assert MANAGEMENT.visible(namespace, ("read-job",))


def test_the_fingerprint_is_the_same_for_the_same_rules_only() -> None:
    assert acl_of(READ_DEFAULT).fingerprint == acl_of(READ_DEFAULT, READ_DEFAULT).fingerprint
    assert acl_of(READ_DEFAULT).fingerprint != acl_of(WRITE_DEFAULT).fingerprint
    assert acl_of(READ_DEFAULT).fingerprint != MANAGEMENT.fingerprint
    hash(acl_of(GLOBS, 'node { policy = "read" }').fingerprint)


LEVEL_CASES = [
    # (policies, scope, level, allowed)
    (['node { policy = "read" }'], "node", "read", True),
    (['node { policy = "read" }'], "node", "write", False),
    (['node { policy = "write" }'], "node", "read", True),
    (['node { policy = "write" }', 'node { policy = "deny" }'], "node", "read", False),
    (['node { policy = "read" }', 'node { policy = "write" }'], "node", "write", True),
    (['agent { policy = "read" }'], "node", "read", False),
    (['agent { policy = "read" }'], "agent", "read", True),
    (['operator { policy = "write" }'], "operator", "write", True),
    ([READ_DEFAULT], "agent", "read", False),
]


@pytest.mark.parametrize(
    ("policies", "scope", "level", "expected"),
    LEVEL_CASES,
    ids=[f"{i}-{c[1]}-{c[2]}-{'yes' if c[3] else 'no'}" for i, c in enumerate(LEVEL_CASES)],
)
def test_levels(policies: list[str], scope: str, level: str, expected: bool) -> None:
    assert acl_of(*policies).allows_level(scope, level) is expected


VARS = """namespace "default" {
  variables {
    path "app/*" { capabilities = ["read", "write", "destroy"] }
    path "app/secret/*" { capabilities = ["deny"] }
    path "shared/*" { capabilities = ["list"] }
  }
}"""
VAR_CASES = [
    ("app/config", "read", True),
    ("app/config", "write", True),
    ("app/config", "list", True),  # read implies list
    ("app/secret/key", "read", False),  # the closer glob denies
    ("shared/x", "list", True),
    ("shared/x", "read", False),
    ("other", "read", False),
]


@pytest.mark.parametrize(
    ("path", "capability", "expected"), VAR_CASES, ids=[f"{p}-{c}" for p, c, _ in VAR_CASES]
)
def test_variables(path: str, capability: str, expected: bool) -> None:
    assert acl_of(VARS).allows_variable("default", path, capability) is expected


NEEDS = [
    (Need(NeedKind.PUBLIC), False, True),
    (Need(NeedKind.TOKEN), False, False),
    (Need(NeedKind.TOKEN), True, True),
    (Need(NeedKind.MANAGEMENT), True, False),
    (Need(NeedKind.NAMESPACE, ("read-job",)), True, True),
    (Need(NeedKind.NAMESPACE, ("submit-job",)), True, False),
    (Need(NeedKind.LEVEL, scope="node", level="read"), True, False),
]


@pytest.mark.parametrize(("need", "has_token", "expected"), NEEDS, ids=[f"{n}-{t}" for n, t, _ in NEEDS])
def test_allowed_for_a_read_token(need: Need, has_token: bool, expected: bool) -> None:
    assert allowed(acl_of(READ_DEFAULT), need, has_token=has_token) is expected


def test_management_passes_everything_but_public_needs_nothing() -> None:
    for need in (n for n, _, _ in NEEDS):
        assert allowed(MANAGEMENT, need, has_token=True)
    assert MANAGEMENT.allows_variable("x", "any/path", "destroy")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("", "", ""),
        ("read", "", "read"),
        ("read", "write", "write"),
        ("write", "deny", "deny"),
        ("", "deny", "deny"),
    ],
)
def test_max_level(a: str, b: str, expected: str) -> None:
    assert max_level(a, b) == expected == max_level(b, a)


def test_closest_glob_breaks_ties_by_name() -> None:
    assert closest_glob(["a*", "*b"], "ab") == "*b"
    assert closest_glob(["x*"], "ab") is None
    assert closest_glob(["ab"], "ab") is None  # not a glob: exact names are looked up first
