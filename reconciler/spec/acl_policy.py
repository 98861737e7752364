"""Nomad's ACL policy language (HCL, or its JSON form) into `model.acl.PolicyRules`.

The HCL goes through the job parser's own reader (python-hcl2's grammar, `hcl_syntax`, and
`hcl_reader.read_body`), so syntax errors read the same as in a job file. What is checked
is what Nomad's `acl.Parse` checks: at least one rule, namespace names, each `policy`
value and each capability name; a namespace rule without a label is the `default`
namespace. `quota`, `host_volume` and `plugin` rules are accepted (so Nomad's policies load
unchanged) and grant nothing here: this agent has no such endpoints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from reconciler.model.acl import (
    LEVELS,
    NAMESPACE_NAME,
    NAMESPACE_POLICIES,
    VARIABLE_CAPABILITIES,
    Capability,
    NamespaceRule,
    PathRule,
    PolicyRules,
    Scope,
)
from reconciler.spec.errors import Issues, SpecError, SpecIssue
from reconciler.spec.expr_base import EvalError
from reconciler.spec.expr_base import Scope as EvalScope
from reconciler.spec.expressions import evaluate
from reconciler.spec.hcl_reader import HclBlock, read_body
from reconciler.spec.hcl_syntax import body_of, parse_tree

IGNORED = ("quota", "host_volume", "plugin")
TOP = ("namespace", *(s.value for s in Scope), *IGNORED)


class PolicyError(ValueError):
    """A policy Nomad would refuse; the message says what and where."""


@dataclass
class _Block:
    type: str
    label: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    blocks: list[_Block] = field(default_factory=list)


def parse_policy(text: str) -> PolicyRules:
    """The rules of a policy document; PolicyError if Nomad would refuse it."""
    blocks = _from_json(text) if text.lstrip().startswith("{") else _from_hcl(text)
    namespaces: list[NamespaceRule] = []
    levels: dict[str, str] = {}
    for b in blocks:
        if b.type == "namespace":
            namespaces.append(_namespace(b))
        elif b.type in IGNORED:
            levels.setdefault(b.type, "")
        elif b.type in levels:
            raise PolicyError(f"only one {b.type} rule is allowed in a policy")
        elif b.type in TOP:
            levels[b.type] = _level(b)
        else:
            raise PolicyError(f'unknown rule "{b.type}" (expected one of {", ".join(TOP)})')
    if not namespaces and not levels:
        raise PolicyError("Invalid policy: it has no rules")
    return PolicyRules(
        namespaces=tuple(namespaces),
        node=levels.get(Scope.NODE, ""),
        agent=levels.get(Scope.AGENT, ""),
        operator=levels.get(Scope.OPERATOR, ""),
    )


def _namespace(b: _Block) -> NamespaceRule:
    name = b.label if b.label is not None else "default"
    if not NAMESPACE_NAME.fullmatch(name):
        raise PolicyError(f"Invalid namespace name: {name!r}")
    policy = _string(b, "policy", "")
    if policy and policy not in NAMESPACE_POLICIES:
        raise PolicyError(
            f'Invalid namespace policy {policy!r} for namespace "{name}" '
            f"(expected one of {', '.join(NAMESPACE_POLICIES)})"
        )
    caps = _strings(b, "capabilities")
    known = {c.value for c in Capability}
    for cap in caps:
        if cap not in known:
            raise PolicyError(f'Invalid namespace capability {cap!r} for namespace "{name}"')
    paths: list[PathRule] = []
    for sub in b.blocks:
        if sub.type != "variables":
            raise PolicyError(f'unknown block "{sub.type}" in namespace "{name}"')
        paths.extend(_variables(sub, name))
    _no_other_attrs(b, ("policy", "capabilities"))
    return NamespaceRule(name=name, policy=policy, capabilities=tuple(caps), variables=tuple(paths))


def _variables(b: _Block, namespace: str) -> list[PathRule]:
    out = []
    for p in b.blocks:
        if p.type != "path" or p.label is None:
            raise PolicyError(f'namespace "{namespace}" variables: expected path "<glob>" blocks')
        caps = _strings(p, "capabilities")
        for cap in caps:
            if cap not in VARIABLE_CAPABILITIES:
                raise PolicyError(f"Invalid variable capability {cap!r} for path {p.label!r}")
        out.append(PathRule(path=p.label, capabilities=tuple(caps)))
    return out


def _level(b: _Block) -> str:
    _no_other_attrs(b, ("policy",))
    policy = _string(b, "policy", "")
    if policy not in LEVELS:
        raise PolicyError(f"Invalid {b.type} policy {policy!r} (expected one of {', '.join(LEVELS)})")
    return policy


def _string(b: _Block, name: str, default: str) -> str:
    value = b.attrs.get(name, default)
    if not isinstance(value, str):
        raise PolicyError(f"{b.type}: {name} must be a string")
    return value


def _strings(b: _Block, name: str) -> list[str]:
    value = b.attrs.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{b.type}: {name} must be a list of strings")
    return value


def _no_other_attrs(b: _Block, known: tuple[str, ...]) -> None:
    for name in b.attrs:
        if name not in known:
            raise PolicyError(f'{b.type}: unknown field "{name}"')


# the two syntaxes -------------------------------------------------------------------------


def _from_hcl(text: str) -> list[_Block]:
    try:
        tree = parse_tree(text, "<policy>")
    except SpecError as exc:
        raise PolicyError(f"Failed to parse ACL Policy: {exc}") from None
    issues = Issues("<policy>")
    attrs, blocks = read_body(body_of(tree), issues)
    if issues:
        raise PolicyError(f"Failed to parse ACL Policy: {SpecError(issues.items)}")
    if attrs:
        raise PolicyError(
            f'Failed to parse ACL Policy: unexpected attribute "{attrs[0].name}" at the top level'
        )
    return [_hcl_block(b, text) for b in blocks]


def _hcl_block(b: HclBlock, text: str) -> _Block:
    if len(b.labels) > 1:
        raise PolicyError(f"{b.type} takes at most one label, got {len(b.labels)}")
    out = _Block(b.type, b.labels[0] if b.labels else None)
    for a in b.attrs:
        try:
            out.attrs[a.name] = evaluate(a.expr, text, EvalScope())
        except EvalError as exc:
            issue = SpecIssue("<policy>", exc.pos.line, exc.pos.column, a.name, str(exc))
            raise PolicyError(f"Failed to parse ACL Policy: {issue}") from None
    out.blocks = [_hcl_block(s, text) for s in b.blocks]
    return out


def _from_json(text: str) -> list[_Block]:
    """Nomad's JSON form: `{"namespace": {"default": {"policy": "read"}}, "node": {...}}`."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PolicyError(f"Failed to parse ACL Policy: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyError("Failed to parse ACL Policy: expected a JSON object")
    return _json_blocks(data, labelled=("namespace", "host_volume", "variables", "path"))


def _json_blocks(data: dict[str, Any], labelled: tuple[str, ...]) -> list[_Block]:
    out: list[_Block] = []
    for kind, body in data.items():
        items = body if isinstance(body, list) else [body]
        for item in items:
            if not isinstance(item, dict):
                raise PolicyError(f"Failed to parse ACL Policy: {kind} must be an object")
            if kind in labelled and kind != "variables":
                out.extend(_json_block(kind, label, inner, labelled) for label, inner in item.items())
            else:
                out.append(_json_block(kind, None, item, labelled))
    return out


def _json_block(kind: str, label: str | None, body: Any, labelled: tuple[str, ...]) -> _Block:
    if not isinstance(body, dict):
        raise PolicyError(f"Failed to parse ACL Policy: {kind} {label or ''} must be an object")
    attrs = {k: v for k, v in body.items() if not isinstance(v, dict | list) or k == "capabilities"}
    nested = {k: v for k, v in body.items() if k not in attrs}
    return _Block(kind, label, attrs, _json_blocks(nested, labelled))
