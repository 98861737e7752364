"""The etcd key layout (docs/architecture.md), under a configurable prefix.

Every prefix ends with `/` so that listing `jobs/default/web/` never matches `web2`.
Identifiers are validated before they become part of a key.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model.ids import is_valid_job_id, is_valid_name

DEFAULT_PREFIX = "/reconciler/"


def _seg(value: str, what: str) -> str:
    if not is_valid_name(value):
        raise ValueError(f"invalid {what} {value!r}: use letters, digits, '-', '_' and '.'")
    return value


def _job_seg(job_id: str) -> str:
    """A job ID as one key segment: a child's `/` (`web/periodic-1700000000`) becomes `~`,
    which no plain ID holds, so `job_versions/<ns>/web/` never lists a child's versions."""
    if not is_valid_job_id(job_id):
        raise ValueError(f"invalid job id {job_id!r}: use letters, digits, '-', '_' and '.'")
    return job_id.replace("/", "~")


@dataclass(frozen=True)
class Keys:
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not self.prefix.endswith("/"):
            object.__setattr__(self, "prefix", self.prefix + "/")

    # collections (always end with "/")
    def kind(self, kind: str) -> str:
        return f"{self.prefix}{kind}/"

    @property
    def jobs(self) -> str:
        return self.kind("jobs")

    @property
    def job_versions_all(self) -> str:
        return self.kind("job_versions")

    @property
    def evals(self) -> str:
        return self.kind("evals")

    @property
    def allocs(self) -> str:
        return self.kind("allocs")

    @property
    def alloc_statuses(self) -> str:
        return self.kind("alloc_status")

    @property
    def nodes(self) -> str:
        return self.kind("nodes")

    @property
    def heartbeats(self) -> str:
        return self.kind("node_heartbeats")

    @property
    def deployments(self) -> str:
        return self.kind("deployments")

    @property
    def services(self) -> str:
        return self.kind("services")

    @property
    def checks(self) -> str:
        return self.kind("checks")

    @property
    def alloc_restarts(self) -> str:
        return self.kind("alloc_restarts")

    @property
    def sched_guards(self) -> str:
        return self.kind("sched_guard")

    @property
    def gc_requests(self) -> str:
        return self.kind("gc_requests")

    @property
    def gc_request(self) -> str:
        """A forced garbage collection asked for (`PUT /v1/system/gc`): the collector runs
        with every threshold at 0, then deletes the key."""
        return f"{self.gc_requests}force"

    # single objects
    def job(self, namespace: str, job_id: str) -> str:
        return f"{self.jobs}{_seg(namespace, 'namespace')}/{_job_seg(job_id)}"

    def jobs_in(self, namespace: str) -> str:
        return f"{self.jobs}{_seg(namespace, 'namespace')}/"

    def job_versions(self, namespace: str, job_id: str) -> str:
        return f"{self.job_versions_all}{_seg(namespace, 'namespace')}/{_job_seg(job_id)}/"

    def job_version(self, namespace: str, job_id: str, version: int) -> str:
        # zero-padded so that etcd's byte order is version order
        return f"{self.job_versions(namespace, job_id)}{version:010d}"

    def eval(self, eval_id: str) -> str:
        return f"{self.evals}{_seg(eval_id, 'evaluation id')}"

    def alloc(self, alloc_id: str) -> str:
        return f"{self.allocs}{_seg(alloc_id, 'allocation id')}"

    def alloc_status(self, alloc_id: str) -> str:
        return f"{self.alloc_statuses}{_seg(alloc_id, 'allocation id')}"

    def node(self, node_id: str) -> str:
        return f"{self.nodes}{_seg(node_id, 'node id')}"

    def heartbeat(self, node_id: str) -> str:
        return f"{self.heartbeats}{_seg(node_id, 'node id')}"

    def deployment(self, deployment_id: str) -> str:
        return f"{self.deployments}{_seg(deployment_id, 'deployment id')}"

    def service(self, service: str, alloc_id: str, port: str) -> str:
        name, alloc = _seg(service, "service"), _seg(alloc_id, "allocation id")
        return f"{self.services}{name}/{alloc}/{_seg(port, 'port')}"

    def check(self, alloc_id: str, check: str) -> str:
        return f"{self.checks}{_seg(alloc_id, 'allocation id')}/{_seg(check, 'check')}"

    def leader(self, controller: str) -> str:
        return f"{self.kind('leader')}{_seg(controller, 'controller')}"

    def alloc_restart(self, alloc_id: str) -> str:
        """A user's restart request for an allocation (consumed by its node agent)."""
        return f"{self.alloc_restarts}{_seg(alloc_id, 'allocation id')}"

    @property
    def child_launches(self) -> str:
        return self.kind("child_launch")

    def child_launch(self, namespace: str, job_id: str) -> str:
        """The last launch time of a periodic job (written with the child it launched)."""
        return f"{self.child_launches}{_seg(namespace, 'namespace')}/{_seg(job_id, 'job id')}"

    def sched_guard(self, namespace: str, job_id: str) -> str:
        """The per-job key every scheduler transaction that writes allocations bumps."""
        return f"{self.sched_guards}{_seg(namespace, 'namespace')}/{_job_seg(job_id)}"

    # ACL policies and tokens (reconciler.ops.acl); a token's secret appears only as its hash
    @property
    def acl_policies(self) -> str:
        return self.kind("acl_policies")

    def acl_policy(self, name: str) -> str:
        return f"{self.acl_policies}{_seg(name, 'policy name')}"

    @property
    def acl_tokens(self) -> str:
        return self.kind("acl_tokens")

    def acl_token(self, accessor_id: str) -> str:
        return f"{self.acl_tokens}{_seg(accessor_id, 'accessor id')}"

    def acl_token_hash(self, secret_hash: str) -> str:
        """The lookup record of a token by the SHA-256 (hex) of its secret."""
        return f"{self.kind('acl_token_hashes')}{_seg(secret_hash, 'secret hash')}"

    @property
    def acl_bootstrap(self) -> str:
        return f"{self.prefix}acl_bootstrap"

    @property
    def scheduler_config(self) -> str:
        """The cluster's scheduler configuration (one record, as Nomad's operator API)."""
        return f"{self.kind('scheduler_config')}configuration"

    def last_segment(self, key: str) -> str:
        return key.rsplit("/", 1)[-1]

    # the Consul-compatible KV store: a user's key is kept as written (slashes included),
    # so a Consul prefix listing (`?recurse`) is an etcd prefix listing
    @property
    def kv_entries(self) -> str:
        return self.kind("kv")

    def kv(self, key: str) -> str:
        return self.kv_entries + kv_key(key)

    def kv_user_key(self, key: str) -> str:
        """The user's key of an etcd key under `kv/`."""
        return key[len(self.kv_entries) :]


KV_KEY_MAX = 512


def kv_key(key: str, *, prefix: bool = False) -> str:
    """A Consul KV key checked before it becomes part of an etcd key: no control characters,
    no `.` or `..` segment, no leading `/`, at most 512 bytes; empty only as a prefix."""
    if not key and not prefix:
        raise ValueError("a KV key must not be empty")
    if len(key.encode()) > KV_KEY_MAX:
        raise ValueError(f"KV key is {len(key.encode())} bytes; the limit is {KV_KEY_MAX}")
    if key.startswith("/"):
        raise ValueError(f"invalid KV key {key!r}: must not start with '/'")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise ValueError(f"invalid KV key {key!r}: control characters are not allowed")
    if any(seg in (".", "..") for seg in key.split("/")):
        raise ValueError(f"invalid KV key {key!r}: '.' and '..' segments are not allowed")
    return key
