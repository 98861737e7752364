"""ACL tokens and policies in Nomad's model, and the one pure decision: may this request go on.

A policy is a set of rules (Nomad's policy language, parsed by `reconciler.spec.acl_policy`):
`namespace "<name or glob>"` rules with a coarse `policy` (deny, read, write, scale) and/or
fine-grained `capabilities`, an optional `variables { path "<glob>" { capabilities } }`
block inside a namespace rule, and `node`, `agent`, `operator` rules with deny/read/write.
A token names policies; `compile_acl` merges them into one `Acl`, the way Nomad's
`acl.NewACL` does:

- a namespace's capabilities are the union over all policies, except that `deny` anywhere
  wins and leaves `deny` alone;
- `node`/`agent`/`operator` take the highest level granted, except that `deny` wins;
- a namespace is looked up by exact name first; otherwise the matching glob with the
  smallest character difference from the name is the one rule that applies (so
  `"*-web"` beats `"*"` for `production-web`);
- the namespace `*` (a request for every namespace at once) is allowed when any one rule
  grants the capability, as Nomad's `AllowNamespaceOperation` does; such a list is then
  filtered object by object (`visible`), so a rule that denies one namespace still hides it.

A management token bypasses every check. What each HTTP route needs is a `Need`
(`reconciler.api.acl` holds the table); `allowed()` answers it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property


class Capability(StrEnum):
    """Nomad's namespace capabilities (those this agent has endpoints for, and the rest of
    Nomad's list so that Nomad policies load unchanged)."""

    DENY = "deny"
    LIST_JOBS = "list-jobs"
    PARSE_JOB = "parse-job"
    READ_JOB = "read-job"
    SUBMIT_JOB = "submit-job"
    DISPATCH_JOB = "dispatch-job"
    READ_LOGS = "read-logs"
    READ_FS = "read-fs"
    ALLOC_EXEC = "alloc-exec"
    ALLOC_NODE_EXEC = "alloc-node-exec"
    ALLOC_LIFECYCLE = "alloc-lifecycle"
    CSI_REGISTER_PLUGIN = "csi-register-plugin"
    CSI_WRITE_VOLUME = "csi-write-volume"
    CSI_READ_VOLUME = "csi-read-volume"
    CSI_LIST_VOLUME = "csi-list-volume"
    CSI_MOUNT_VOLUME = "csi-mount-volume"
    LIST_SCALING_POLICIES = "list-scaling-policies"
    READ_SCALING_POLICY = "read-scaling-policy"
    READ_JOB_SCALING = "read-job-scaling"
    SCALE_JOB = "scale-job"
    SENTINEL_OVERRIDE = "sentinel-override"
    SUBMIT_RECOMMENDATION = "submit-recommendation"


C = Capability
_READ = frozenset(
    {
        C.LIST_JOBS,
        C.PARSE_JOB,
        C.READ_JOB,
        C.CSI_LIST_VOLUME,
        C.CSI_READ_VOLUME,
        C.LIST_SCALING_POLICIES,
        C.READ_SCALING_POLICY,
        C.READ_JOB_SCALING,
    }
)
_SCALE = frozenset({C.LIST_SCALING_POLICIES, C.READ_SCALING_POLICY, C.READ_JOB_SCALING, C.SCALE_JOB})
# what a namespace rule's coarse `policy` stands for (Nomad's `expandNamespacePolicy`)
NAMESPACE_POLICIES: Mapping[str, frozenset[str]] = {
    "deny": frozenset({C.DENY}),
    "read": _READ,
    "write": _READ
    | _SCALE
    | {
        C.SUBMIT_JOB,
        C.DISPATCH_JOB,
        C.READ_LOGS,
        C.READ_FS,
        C.ALLOC_EXEC,
        C.ALLOC_LIFECYCLE,
        C.CSI_WRITE_VOLUME,
        C.CSI_MOUNT_VOLUME,
        C.SUBMIT_RECOMMENDATION,
    },
    "scale": _SCALE,
}
LEVELS = ("deny", "read", "write")  # node, agent, operator
VARIABLE_CAPABILITIES = frozenset({"write", "read", "list", "destroy", "deny"})
ALL_NAMESPACES = "*"  # Nomad's AllNamespacesSentinel
NAMESPACE_NAME = re.compile(r"[A-Za-z0-9*][A-Za-z0-9_.*-]{0,127}")


class TokenType(StrEnum):
    CLIENT = "client"
    MANAGEMENT = "management"


class Scope(StrEnum):
    """The rules outside namespaces."""

    NODE = "node"
    AGENT = "agent"
    OPERATOR = "operator"


@dataclass(frozen=True)
class PathRule:
    """`path "<glob>" { capabilities = [...] }` inside a namespace's `variables` block."""

    path: str
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True)
class NamespaceRule:
    name: str
    policy: str = ""
    capabilities: tuple[str, ...] = ()
    variables: tuple[PathRule, ...] = ()

    def expanded(self) -> frozenset[str]:
        """The rule's capabilities with its coarse `policy` added (Nomad merges both)."""
        return frozenset(self.capabilities) | NAMESPACE_POLICIES.get(self.policy, frozenset())


@dataclass(frozen=True)
class PolicyRules:
    """One policy document, parsed."""

    namespaces: tuple[NamespaceRule, ...] = ()
    node: str = ""
    agent: str = ""
    operator: str = ""


@dataclass
class AclPolicy:
    """A stored policy (`acl_policies/<name>`): the text as written and its parsed rules, so
    that the API never parses HCL on a request."""

    name: str
    description: str = ""
    rules: str = ""
    parsed: PolicyRules = field(default_factory=PolicyRules)
    schema: int = 1


@dataclass
class AclToken:
    """A stored token (`acl_tokens/<accessor>`). The secret itself is never stored: only its
    SHA-256 (`secret_hash`), which is also the key of the lookup record
    (`acl_token_hashes/<hash>`). A secret is 122 random bits, so a plain hash cannot be
    reversed by guessing."""

    accessor_id: str
    secret_hash: str
    name: str = ""
    type: TokenType = TokenType.CLIENT
    policies: list[str] = field(default_factory=list)
    is_global: bool = False
    create_time: float = 0.0
    schema: int = 1


@dataclass
class AclTokenRef:
    """`acl_token_hashes/<sha256 of the secret>`: which token a secret belongs to."""

    accessor_id: str
    schema: int = 1


@dataclass
class AclBootstrap:
    """`acl_bootstrap`: written once, by the one bootstrap that succeeded."""

    accessor_id: str
    time: float
    schema: int = 1


def hash_secret(secret: str) -> str:
    """What is stored of a secret, and what a presented secret is looked up by."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return str(uuid.uuid4())


# the decision ---------------------------------------------------------------------------


def glob_match(pattern: str, name: str) -> bool:
    """Nomad's namespace globs: `*` matches any run of characters, nothing else is special."""
    rx = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(rx, name, flags=re.DOTALL) is not None


def closest_glob(patterns: Iterable[str], name: str) -> str | None:
    """The glob that matches `name` with the fewest characters left to the wildcards (ties:
    the alphabetically first, so the choice never depends on order)."""
    hits = [p for p in patterns if "*" in p and glob_match(p, name)]
    if not hits:
        return None
    return min(hits, key=lambda p: (len(name) - len(p.replace("*", "")), p))


def _grants(have: frozenset[str], wanted: tuple[str, ...]) -> bool:
    return C.DENY not in have and any(c in have for c in wanted)


def _merge(old: frozenset[str], new: frozenset[str]) -> frozenset[str]:
    if C.DENY in old or C.DENY in new:
        return frozenset({C.DENY})
    return old | new


def max_level(a: str, b: str) -> str:
    """The level two policies grant together: deny wins, then write over read."""
    for level in ("deny", "write", "read"):
        if level in (a, b):
            return level
    return ""


@dataclass(frozen=True)
class Acl:
    """The merged rules of a token's policies."""

    management: bool = False
    namespaces: Mapping[str, frozenset[str]] = field(default_factory=dict)
    variables: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    levels: Mapping[str, str] = field(default_factory=dict)  # Scope -> deny/read/write

    def _rule_name(self, names: Iterable[str], namespace: str) -> str | None:
        names = list(names)
        if namespace in names:
            return namespace
        return closest_glob(names, namespace)

    def namespace_capabilities(self, namespace: str) -> frozenset[str]:
        name = self._rule_name(self.namespaces, namespace)
        return self.namespaces[name] if name is not None else frozenset()

    def allows_namespace(self, namespace: str, capabilities: Iterable[str]) -> bool:
        """Any one of `capabilities` in `namespace`; for `*`, in any namespace at all (the
        answer is then filtered per object with `visible`)."""
        if self.management:
            return True
        wanted = tuple(capabilities)
        if namespace == ALL_NAMESPACES:
            return any(_grants(have, wanted) for have in self.namespaces.values())
        return _grants(self.namespace_capabilities(namespace), wanted)

    def visible(self, namespace: str, capabilities: Iterable[str]) -> bool:
        """May an object of `namespace` appear in a list spanning namespaces? The rule that
        applies to that namespace decides (never the `*` shortcut above)."""
        if self.management:
            return True
        return _grants(self.namespace_capabilities(namespace), tuple(capabilities))

    @cached_property
    def fingerprint(self) -> tuple[object, ...]:
        """A hashable digest of everything this Acl allows: answers rendered for one caller
        are shared only with callers of the same fingerprint (the same merged rules)."""

        def sets(m: Mapping[str, frozenset[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
            return tuple(sorted((k, tuple(sorted(v))) for k, v in m.items()))

        return (
            self.management,
            sets(self.namespaces),
            tuple(sorted((k, sets(v)) for k, v in self.variables.items())),
            tuple(sorted(self.levels.items())),
        )

    def allows_level(self, scope: str, level: str) -> bool:
        if self.management:
            return True
        have = self.levels.get(scope, "")
        return have == "write" or (have == "read" and level == "read")

    def allows_variable(self, namespace: str, path: str, capability: str) -> bool:
        """Nomad's variables rule: `read` and `write` also allow `list`; deny wins."""
        if self.management:
            return True
        rule = self._rule_name(self.variables, namespace)
        paths = self.variables.get(rule, {}) if rule is not None else {}
        chosen = path if path in paths else closest_glob(paths, path)
        have = paths.get(chosen, frozenset()) if chosen is not None else frozenset()
        if "deny" in have:
            return False
        return capability in have or (capability == "list" and bool(have & {"read", "write"}))


MANAGEMENT = Acl(management=True)
DENY_ALL = Acl()


def compile_acl(policies: Iterable[PolicyRules]) -> Acl:
    """Merge a token's policies into one `Acl` (Nomad's `acl.NewACL`)."""
    namespaces: dict[str, frozenset[str]] = {}
    variables: dict[str, dict[str, frozenset[str]]] = {}
    levels: dict[str, str] = {}
    for p in policies:
        for rule in p.namespaces:
            namespaces[rule.name] = _merge(namespaces.get(rule.name, frozenset()), rule.expanded())
            paths = variables.setdefault(rule.name, {})
            for pr in rule.variables:
                paths[pr.path] = _merge(paths.get(pr.path, frozenset()), frozenset(pr.capabilities))
        for scope in Scope:
            levels[scope] = max_level(levels.get(scope, ""), getattr(p, scope.value))
    return Acl(namespaces=namespaces, variables=variables, levels=levels)


class NeedKind(StrEnum):
    PUBLIC = "public"  # no token needed (status, the UI's static files, bootstrap)
    TOKEN = "token"  # any real token, not the anonymous policy (token/self)
    MANAGEMENT = "management"
    NAMESPACE = "namespace"  # one of `capabilities` in the request's namespace
    LEVEL = "level"  # `scope` at `level` (node/agent/operator)
    VARIABLE = "variable"  # `capabilities[0]` on the request's variable path


@dataclass(frozen=True)
class Need:
    """What a route requires."""

    kind: NeedKind
    capabilities: tuple[str, ...] = ()
    scope: str = ""
    level: str = ""

    def __str__(self) -> str:
        if self.kind is NeedKind.NAMESPACE:
            return " or ".join(self.capabilities)
        if self.kind is NeedKind.LEVEL:
            return f"{self.scope}:{self.level}"
        if self.kind is NeedKind.VARIABLE:
            return f"variables:{self.capabilities[0]}"
        return self.kind.value


def allowed(acl: Acl, need: Need, *, has_token: bool, namespace: str = "default", path: str = "") -> bool:
    """The one capability decision: may a caller holding `acl` do what `need` names?"""
    if need.kind is NeedKind.PUBLIC:
        return True
    if need.kind is NeedKind.TOKEN:
        return has_token
    if need.kind is NeedKind.MANAGEMENT:
        return acl.management
    if need.kind is NeedKind.NAMESPACE:
        return acl.allows_namespace(namespace, need.capabilities)
    if need.kind is NeedKind.LEVEL:
        return acl.allows_level(need.scope, need.level)
    return acl.allows_variable(namespace, path, need.capabilities[0])
