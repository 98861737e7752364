"""Nomad's policy language: what `parse_policy` accepts (HCL and JSON alike) and refuses."""

from __future__ import annotations

import re

import pytest

from reconciler.model.acl import NamespaceRule, PathRule, PolicyRules
from reconciler.spec.acl_policy import PolicyError, parse_policy

FULL = """
# a comment
namespace "default" {
  policy       = "read"
  capabilities = ["submit-job", "read-logs"]
  variables {
    path "app/*" { capabilities = ["read"] }
  }
}
namespace "team-*" { policy = "write" }
node { policy = "read" }
agent { policy = "write" }
operator { policy = "deny" }
quota { policy = "read" }
host_volume "*" { policy = "write" }
plugin { policy = "list" }
"""

EXPECTED = PolicyRules(
    namespaces=(
        NamespaceRule("default", "read", ("submit-job", "read-logs"), (PathRule("app/*", ("read",)),)),
        NamespaceRule("team-*", "write"),
    ),
    node="read",
    agent="write",
    operator="deny",
)


def test_hcl_policy() -> None:
    assert parse_policy(FULL) == EXPECTED


def test_json_policy_is_the_same_policy() -> None:
    text = """{
      "namespace": {
        "default": {"policy": "read", "capabilities": ["submit-job", "read-logs"],
                    "variables": {"path": {"app/*": {"capabilities": ["read"]}}}},
        "team-*": {"policy": "write"}
      },
      "node": {"policy": "read"}, "agent": {"policy": "write"}, "operator": {"policy": "deny"}
    }"""
    assert parse_policy(text) == EXPECTED


REFUSED = [
    ("", "no rules"),
    ("# only a comment\n", "no rules"),
    ('namespace "default" { policy = "admin" }', "Invalid namespace policy 'admin'"),
    ('namespace "default" { capabilities = ["fly"] }', "Invalid namespace capability 'fly'"),
    ('namespace "bad name" { policy = "read" }', "Invalid namespace name"),
    ('node { policy = "scale" }', "Invalid node policy 'scale'"),
    ('node { policy = "read" }\nnode { policy = "write" }', "only one node rule"),
    ('agent { level = "read" }', 'unknown field "level"'),
    ('cluster { policy = "read" }', 'unknown rule "cluster"'),
    ('namespace "a" {', "Failed to parse ACL Policy"),
    ('policy = "read"', "unexpected attribute"),
    ('namespace "a" { variables { path "x" { capabilities = ["sudo"] } } }', "Invalid variable capability"),
    ('namespace "a" { policy = 3 }', "policy must be a string"),
    ("{not json", "Failed to parse ACL Policy"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED, ids=[m for _, m in REFUSED])
def test_refused(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        parse_policy(text)
