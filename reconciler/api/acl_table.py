"""The one table of what every route needs, for the Nomad face and the Consul face.

Keys are (method, route pattern as registered); HEAD is checked as GET. Each rule says what
the caller needs (`model.acl.Need`) and where the namespace it is checked in comes from:

- `QUERY`: the `namespace` query parameter (default `default`; `*` is checked as the literal
  namespace `*`, which only a `namespace "*"` glob grants);
- `BODY_JOB`: the submitted job's `Job.Namespace` (register, plan), so a job cannot name a
  namespace other than the one checked;
- `ALLOC`, `EVAL`, `DEPLOYMENT`: the namespace of the object the path names (by id or
  unique prefix), so an id from another namespace is not a way around the check;
- `ALL`: the route answers for every namespace at once (the allocation and evaluation
  lists, the Consul catalog), so it needs the capability for `*`;
- `FIXED`: the `default` namespace (the Consul face's KV store, checked as variables at
  the key's path).

Capabilities follow Nomad's endpoints (`read-job` for reading, `submit-job` for writing a
job or a deployment, `alloc-lifecycle` for stop/restart, `alloc-exec`, `read-logs`,
`scale-job` or `submit-job` for scaling; `node`/`agent` rules for nodes and the agent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from reconciler.api.unserved import UNSERVED
from reconciler.model.acl import Capability as C
from reconciler.model.acl import Need, NeedKind, Scope

RouteKey = tuple[str, str]


class Source(StrEnum):
    QUERY = "query"
    BODY_JOB = "body-job"
    ALLOC = "alloc"
    EVAL = "eval"
    DEPLOYMENT = "deployment"
    ALL = "all"
    FIXED = "fixed"


@dataclass(frozen=True)
class Rule:
    need: Need
    source: Source = Source.QUERY
    param: str = ""  # the path parameter naming the object (or the variable's path)
    also: tuple[Need, ...] = ()  # further needs, checked in the same namespace
    listing: Need | None = None  # the need instead, when the query asks for a listing (`?keys`)

    def need_for(self, query: Mapping[str, str]) -> Need:
        return self.listing if self.listing is not None and "keys" in query else self.need


def ns(*caps: str) -> Need:
    return Need(NeedKind.NAMESPACE, caps)


def level(scope: Scope, lvl: str) -> Need:
    return Need(NeedKind.LEVEL, scope=scope, level=lvl)


def variable(cap: str) -> Need:
    return Need(NeedKind.VARIABLE, (cap,))


PUBLIC = Need(NeedKind.PUBLIC)
TOKEN = Need(NeedKind.TOKEN)
MANAGEMENT = Need(NeedKind.MANAGEMENT)

READ = Rule(ns(C.READ_JOB))
SUBMIT = Rule(ns(C.SUBMIT_JOB))
NODE_READ = Rule(level(Scope.NODE, "read"))
NODE_WRITE = Rule(level(Scope.NODE, "write"))
AGENT_READ = Rule(level(Scope.AGENT, "read"))
OPEN = Rule(PUBLIC)


def _writes(path: str, rule: Rule) -> dict[RouteKey, Rule]:
    """Nomad accepts POST and PUT alike for its writes."""
    return {("POST", path): rule, ("PUT", path): rule}


def _on(source: Source, param: str, need: Need) -> Rule:
    return Rule(need, source, param)


NOMAD_ROUTES: dict[RouteKey, Rule] = {
    # jobs
    ("GET", "/v1/jobs"): Rule(ns(C.LIST_JOBS)),
    **_writes("/v1/jobs", Rule(ns(C.SUBMIT_JOB), Source.BODY_JOB)),
    **_writes("/v1/job/{job_id}", Rule(ns(C.SUBMIT_JOB), Source.BODY_JOB)),
    ("GET", "/v1/job/{job_id}"): READ,
    ("GET", "/v1/job/{job_id}/versions"): READ,
    ("GET", "/v1/job/{job_id}/summary"): READ,
    ("DELETE", "/v1/job/{job_id}"): SUBMIT,
    ("POST", "/v1/jobs/parse"): Rule(ns(C.PARSE_JOB, C.SUBMIT_JOB)),
    **_writes("/v1/job/{job_id}/scale", Rule(ns(C.SCALE_JOB, C.SUBMIT_JOB))),
    **_writes("/v1/job/{job_id}/revert", SUBMIT),
    **_writes("/v1/job/{job_id}/evaluate", SUBMIT),
    **_writes("/v1/job/{job_id}/stable", SUBMIT),
    **_writes("/v1/job/{job_id}/plan", Rule(ns(C.SUBMIT_JOB), Source.BODY_JOB)),
    ("GET", "/v1/job/{job_id}/allocations"): READ,
    ("GET", "/v1/job/{job_id}/evaluations"): READ,
    ("GET", "/v1/job/{job_id}/deployment"): READ,
    ("GET", "/v1/job/{job_id}/deployments"): READ,
    **_writes("/v1/job/{job_id}/promote", SUBMIT),
    **_writes("/v1/job/{job_id}/periodic/force", SUBMIT),
    **_writes("/v1/job/{job_id}/dispatch", Rule(ns(C.DISPATCH_JOB))),
    # deployments
    ("GET", "/v1/deployments"): READ,
    ("GET", "/v1/deployment/{dep_id}"): _on(Source.DEPLOYMENT, "dep_id", ns(C.READ_JOB)),
    ("GET", "/v1/deployment/allocations/{dep_id}"): _on(Source.DEPLOYMENT, "dep_id", ns(C.READ_JOB)),
    **_writes("/v1/deployment/promote/{dep_id}", _on(Source.DEPLOYMENT, "dep_id", ns(C.SUBMIT_JOB))),
    **_writes("/v1/deployment/fail/{dep_id}", _on(Source.DEPLOYMENT, "dep_id", ns(C.SUBMIT_JOB))),
    **_writes("/v1/deployment/pause/{dep_id}", _on(Source.DEPLOYMENT, "dep_id", ns(C.SUBMIT_JOB))),
    # evaluations
    ("GET", "/v1/evaluations"): Rule(ns(C.READ_JOB), Source.ALL),
    ("GET", "/v1/evaluation/{eval_id}"): _on(Source.EVAL, "eval_id", ns(C.READ_JOB)),
    # allocations and the client
    ("GET", "/v1/allocations"): Rule(ns(C.READ_JOB), Source.ALL),
    ("GET", "/v1/allocation/{alloc_id}"): _on(Source.ALLOC, "alloc_id", ns(C.READ_JOB)),
    **_writes("/v1/allocation/{alloc_id}/stop", _on(Source.ALLOC, "alloc_id", ns(C.ALLOC_LIFECYCLE))),
    **_writes(
        "/v1/client/allocation/{alloc_id}/restart", _on(Source.ALLOC, "alloc_id", ns(C.ALLOC_LIFECYCLE))
    ),
    ("GET", "/v1/client/allocation/{alloc_id}/status"): _on(Source.ALLOC, "alloc_id", ns(C.READ_JOB)),
    ("POST", "/v1/client/allocation/{alloc_id}/exec"): _on(Source.ALLOC, "alloc_id", ns(C.ALLOC_EXEC)),
    ("GET", "/v1/client/allocation/{alloc_id}/checks"): _on(Source.ALLOC, "alloc_id", ns(C.READ_JOB)),
    ("GET", "/v1/client/fs/logs/{alloc_id}"): _on(Source.ALLOC, "alloc_id", ns(C.READ_LOGS)),
    ("GET", "/v1/client/allocation/{alloc_id}/snapshot"): _on(Source.ALLOC, "alloc_id", ns(C.READ_FS)),
    # services
    ("GET", "/v1/services"): READ,
    ("GET", "/v1/service/{name}"): READ,
    # nodes
    ("GET", "/v1/nodes"): NODE_READ,
    ("GET", "/v1/node/{node_id}"): NODE_READ,
    ("GET", "/v1/node/{node_id}/allocations"): Rule(
        level(Scope.NODE, "read"), Source.ALL, also=(ns(C.READ_JOB),)
    ),
    **_writes("/v1/node/{node_id}/eligibility", NODE_WRITE),
    **_writes("/v1/node/{node_id}/drain", NODE_WRITE),
    ("GET", "/v1/node/pools"): NODE_READ,
    ("GET", "/v1/node/pool/{name}"): NODE_READ,
    ("GET", "/v1/node/pool/{name}/nodes"): NODE_READ,
    # the agent and status (status is public in Nomad)
    ("GET", "/v1/agent/self"): AGENT_READ,
    ("GET", "/v1/status/leader"): OPEN,
    # metrics need no token, as in Nomad; the event stream needs read-job in its namespace
    ("GET", "/v1/metrics"): OPEN,
    ("GET", "/v1/event/stream"): READ,
    ("GET", "/v1/status/peers"): OPEN,
    # ACLs: bootstrap is open (once); a token reads itself and its own policies
    ("POST", "/v1/acl/bootstrap"): OPEN,
    ("PUT", "/v1/acl/bootstrap"): OPEN,
    ("GET", "/v1/acl/policies"): Rule(TOKEN),
    ("GET", "/v1/acl/policy/{name}"): Rule(TOKEN),
    **_writes("/v1/system/gc", Rule(MANAGEMENT)),
    **_writes("/v1/acl/policy/{name}", Rule(MANAGEMENT)),
    ("DELETE", "/v1/acl/policy/{name}"): Rule(MANAGEMENT),
    ("GET", "/v1/acl/tokens"): Rule(MANAGEMENT),
    **_writes("/v1/acl/token", Rule(MANAGEMENT)),
    ("GET", "/v1/acl/token/self"): Rule(TOKEN),
    ("GET", "/v1/acl/token/{accessor_id}"): Rule(TOKEN),
    **_writes("/v1/acl/token/{accessor_id}", Rule(MANAGEMENT)),
    ("DELETE", "/v1/acl/token/{accessor_id}"): Rule(MANAGEMENT),
    # the web UI: its files are public (it must load to ask for a token); its plan is a
    # submit-job dry run, checked again in the job's own namespace once parsed
    ("GET", "/"): OPEN,
    ("GET", "/ui"): OPEN,
    ("GET", "/ui/"): OPEN,
    ("GET", "/ui/static/{name}"): OPEN,
    ("POST", "/ui/plan"): SUBMIT,
    # the scheduler configuration (api/operator.py): Nomad's operator read and write rules
    ("GET", "/v1/operator/scheduler/configuration"): Rule(level(Scope.OPERATOR, "read")),
    **_writes("/v1/operator/scheduler/configuration", Rule(level(Scope.OPERATOR, "write"))),
    # cluster reads (api/cluster.py) and the endpoints answered with 501 (api/unserved.py)
    ("GET", "/v1/agent/members"): AGENT_READ,
    ("GET", "/v1/agent/servers"): AGENT_READ,
    ("GET", "/v1/regions"): OPEN,
    ("GET", "/v1/namespaces"): Rule(ns(C.READ_JOB), Source.ALL),
    ("GET", "/v1/namespace/{name}"): Rule(ns(C.READ_JOB), Source.ALL),
    **_writes("/v1/search", Rule(ns(C.READ_JOB), Source.ALL)),
    **_writes("/v1/validate/job", Rule(ns(C.READ_JOB), Source.BODY_JOB)),
    ("GET", "/v1/evaluation/{eval_id}/allocations"): _on(Source.EVAL, "eval_id", ns(C.READ_JOB)),
    **{(m, path): OPEN for methods, path, _ in UNSERVED for m in methods},  # 501 for every caller
}

CONSUL_ROUTES: dict[RouteKey, Rule] = {
    ("GET", "/v1/catalog/services"): Rule(ns(C.READ_JOB), Source.ALL),
    ("GET", "/v1/catalog/service/{name}"): Rule(ns(C.READ_JOB), Source.ALL),
    ("GET", "/v1/catalog/nodes"): NODE_READ,
    ("GET", "/v1/catalog/node/{node}"): NODE_READ,
    ("GET", "/v1/health/service/{name}"): Rule(ns(C.READ_JOB), Source.ALL),
    ("GET", "/v1/health/checks/{service}"): Rule(ns(C.READ_JOB), Source.ALL),
    ("GET", "/v1/health/state/{state}"): Rule(ns(C.READ_JOB), Source.ALL),
    ("GET", "/v1/health/node/{node}"): NODE_READ,
    ("GET", "/v1/agent/self"): AGENT_READ,
    ("GET", "/v1/agent/members"): AGENT_READ,
    ("GET", "/v1/agent/services"): Rule(ns(C.READ_JOB), Source.ALL),
    ("GET", "/v1/agent/service/{service_id}"): Rule(ns(C.READ_JOB), Source.ALL),
    # a registered service becomes a backend the router sends traffic to
    ("PUT", "/v1/agent/service/register"): Rule(ns(C.SUBMIT_JOB), Source.FIXED),
    ("PUT", "/v1/agent/service/deregister/{service_id}"): Rule(ns(C.SUBMIT_JOB), Source.FIXED),
    ("GET", "/v1/status/leader"): OPEN,
    ("GET", "/v1/status/peers"): OPEN,
    # KV: Nomad's variables rules of the default namespace, at the key's path
    ("GET", "/v1/kv/{key}"): Rule(variable("read"), Source.FIXED, "key", listing=variable("list")),
    ("PUT", "/v1/kv/{key}"): Rule(variable("write"), Source.FIXED, "key"),
    ("DELETE", "/v1/kv/{key}"): Rule(variable("destroy"), Source.FIXED, "key"),
}
