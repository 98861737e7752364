"""The one table of Nomad job-specification fields this project refuses, and the rules around it.

Issue 12's rule: every field of Nomad's job specification is either implemented as Nomad
does it or refused with an error naming where it was written (file:line:column and the
field path for HCL and YAML, the JSON path for Nomad JSON). A field is refused here when
nothing would act on it, so accepting it would silently run the job differently from what
was written (a prestart task as a main task, a periodic job at once). To turn a field on,
implement it and delete its row: every reader consults only this table.

The readers call in at three places: `FieldReader` (HCL and YAML) removes and reports a
refused attribute or block before the stanza is decoded, and the Nomad JSON reader asks
`json_refusal` for every key of every object. The rule for Nomad JSON keys that are not
in the model (`nomad_json.py` applies it, docs/jobspec.md states it):

1. `READ_ONLY` keys are the server's record of a job (`Version`, `SubmitTime`, ...): a job
   read from Nomad's API and posted back carries them, Nomad ignores them on register, so
   they are accepted with any value and ignored.
2. A key in this table is refused unless its value means "not used": null, false, 0, "",
   [] or {} (or an object of such values), or one of the row's `defaults` (the value
   Nomad's API fills in by itself, such as a service's `Cluster: "default"`).
3. Any other key is accepted only when empty; otherwise it is an unknown field.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reconciler.spec.errors import quote


@dataclass(frozen=True)
class Refusal:
    """One refused field: where it is written, its Nomad JSON key, and a sample value."""

    stanza: str  # the HCL/YAML block it belongs in ("task"); its JSON object is STANZA_OF's
    field: str  # its HCL/YAML name ("lifecycle")
    json: str  # its key in the Nomad JSON object ("Lifecycle"); "" when JSON has none to refuse
    sample: Any  # a value a user would write: a map for a block (tests and docs use it)
    block: bool = False  # written as a block in HCL (`lifecycle { ... }`)
    repeated: bool = False  # a JSON list of such objects (`Affinities: [{...}]`)
    values: tuple[Any, ...] = ()  # refused only for these values (empty: every used value)
    defaults: tuple[Any, ...] = ()  # JSON values that mean "not used" besides the zero values
    why: str = ""  # added to the message after "not supported yet"

    def message(self, value: Any = None) -> str:
        text = f"{quote(value)} is not supported yet" if self.values else "not supported yet"
        return f"{text} ({self.why})" if self.why else text


def _r(stanza: str, field: str, json: str, sample: Any, **kw: Any) -> Refusal:
    return Refusal(stanza, field, json, sample, block=isinstance(sample, dict), **kw)


# fmt: off
UNSUPPORTED: tuple[Refusal, ...] = (
    # -- job ------------------------------------------------------------------------------
    _r("job", "multiregion", "Multiregion", {"strategy": {"max_parallel": 1}}),
    _r("job", "reschedule", "Reschedule", {"attempts": 1}),
    _r("job", "migrate", "Migrate", {"max_parallel": 2}),
    _r("job", "vault", "Vault", {"policies": ["read"]}),
    _r("job", "vault_token", "VaultToken", "s.token"),
    _r("job", "vault_namespace", "VaultNamespace", "ns1"),
    _r("job", "consul_token", "ConsulToken", "token"),
    _r("job", "consul_namespace", "ConsulNamespace", "ns1"),
    _r("job", "ui", "UI", {"description": "a job"}),
    _r("job", "all_at_once", "AllAtOnce", True),
    # -- group ----------------------------------------------------------------------------
    _r("group", "scaling", "Scaling", {"min": 1, "max": 3}),
    _r("group", "consul", "Consul", {"namespace": "ns1"}, defaults=("default",)),
    _r("group", "vault", "Vault", {"policies": ["read"]}),
    _r("group", "prevent_reschedule_on_lost", "PreventRescheduleOnLost", True),
    # -- task -----------------------------------------------------------------------------
    _r("task", "vault", "Vault", {"policies": ["read"]}),
    _r("task", "consul", "Consul", {"namespace": "ns1"}),
    _r("task", "csi_plugin", "CSIPluginConfig", {"id": "ebs", "type": "node"}),
    _r("task", "scaling", "ScalingPolicies", {"min": 100}, repeated=True),
    _r("task", "identity", "Identity", {"env": True},
       defaults=("default", ["nomadproject.io"])),  # Nomad fills in the implicit default identity
    _r("task", "action", "Actions", {"command": "/bin/true"}, repeated=True),
    _r("task", "schedule", "Schedule", {"cron": {"start": "0 9 * * *"}}),
    _r("task", "secret", "Secrets", {"provider": "nomad", "path": "x"}, repeated=True),
    # -- resources, network ---------------------------------------------------------------
    _r("resources", "cores", "Cores", 2, why="placement reserves MHz, not whole cores"),
    _r("resources", "device", "Devices", {"count": 1}, repeated=True),
    _r("resources", "numa", "NUMA", {"affinity": "require"}),
    _r("resources", "secrets", "SecretsMB", 64),
    _r("resources", "disk", "DiskMB", 300),
    _r("resources", "iops", "IOPS", 10),
    _r("resources", "network", "Networks", {"mbits": 10}, repeated=True),
    _r("network", "mode", "Mode", "bridge", values=("bridge", "none"), why="only host networking"),
    _r("network", "dns", "DNS", {"servers": ["1.1.1.1"]}),
    _r("network", "hostname", "Hostname", "web"),
    _r("network", "cni", "CNI", {"args": {"a": "b"}}),
    _r("network", "mbits", "MBits", 10, why="bandwidth is not a scheduling dimension"),
    _r("port", "host_network", "HostNetwork", "public"),
    _r("port", "ignore_collision", "IgnoreCollision", True),
    # -- service, check -------------------------------------------------------------------
    _r("service", "task", "", "web"),  # in JSON, TaskName is Nomad's own record (READ_ONLY)
    _r("service", "connect", "Connect", {"native": True}),
    _r("service", "address", "Address", "10.0.0.1"),
    _r("service", "address_mode", "AddressMode", "driver", values=("driver", "alloc", "alloc_ipv6"),
       why="only host networking"),
    _r("service", "canary_meta", "CanaryMeta", {"canary": "yes"}),
    _r("service", "tagged_addresses", "TaggedAddresses", {"lan": "10.0.0.1"}),
    _r("service", "enable_tag_override", "EnableTagOverride", True),
    _r("service", "on_update", "OnUpdate", "ignore", defaults=("require_healthy",)),
    _r("service", "cluster", "Cluster", "other", defaults=("default",)),
    _r("service", "identity", "Identity", {"aud": ["consul.io"]}),
    _r("service", "weights", "Weights", {"passing": 5}),
    _r("service", "kind", "Kind", "connect-proxy:web"),
    _r("check", "address_mode", "AddressMode", "driver", defaults=("host",)),
    _r("check", "tls_server_name", "TLSServerName", "web.local"),
    _r("check", "tls_skip_verify", "TLSSkipVerify", True),
    _r("check", "body", "Body", "{}"),
    _r("check", "expose", "Expose", True),
    _r("check", "notes", "Notes", "see the runbook"),
    _r("check", "advertise", "Advertise", "10.0.0.1"),
    # -- update, restart, constraint -----------------------------------------------------
    _r("update", "stagger", "Stagger", "10s", defaults=("30s", 30_000_000_000)),
    _r("restart", "render_templates", "RenderTemplates", True),
    # -- template, artifact, logs ---------------------------------------------------------
    _r("template", "env", "Envvars", True, why="rendered variables are not loaded into the task's env"),
    _r("template", "wait", "Wait", {"min": "5s"}),
    _r("template", "error_on_missing_key", "ErrMissingKey", True),
    _r("template", "uid", "Uid", 1000),
    _r("template", "gid", "Gid", 1000),
    _r("template", "change_script", "ChangeScript", {"command": "/bin/true"}),
    _r("template", "once", "Once", True),
    _r("template", "vault_grace", "VaultGrace", 15_000_000_000),
    _r("artifact", "insecure", "GetterInsecure", True),
    _r("artifact", "chown", "Chown", True),
    _r("logs", "enabled", "Enabled", False, values=(False,), defaults=(True,), why="write disabled = true"),
)
# fmt: on

# Nomad JSON keys that are the server's record of a job, not the user's request (rule 1).
READ_ONLY: dict[str, frozenset[str]] = {
    "job": frozenset(
        {
            "Status",
            "StatusDescription",
            "Stable",
            "Version",
            "SubmitTime",
            "CreateIndex",
            "ModifyIndex",
            "JobModifyIndex",
            "Stop",  # `job stop` records it; stopping is DELETE /v1/job/:id, as in Nomad
            "NomadTokenID",
        }
    ),
    "service": frozenset({"TaskName", "Namespace"}),  # Nomad fills them in from the task and job
    "task": frozenset({"Kind"}),  # set by Nomad for the tasks it injects (Connect proxies)
}

# The HCL stanza each model class of the Nomad JSON reader stands for.
STANZA_OF: dict[str, str] = {
    "Job": "job",
    "TaskGroup": "group",
    "Task": "task",
    "Service": "service",
    "Check": "check",
    "Network": "network",
    "Port": "port",
    "Resources": "resources",
    "UpdateStrategy": "update",
    "MigrateStrategy": "migrate",
    "RestartPolicy": "restart",
    "ReschedulePolicy": "reschedule",
    "EphemeralDisk": "ephemeral_disk",
    "DisconnectStrategy": "disconnect",
    "LogConfig": "logs",
    "Template": "template",
    "Artifact": "artifact",
    "Constraint": "constraint",
    "Affinity": "affinity",
    "Spread": "spread",
    "SpreadTarget": "target",
    "Periodic": "periodic",
    "Parameterized": "parameterized",
    "Lifecycle": "lifecycle",
    "DispatchPayload": "dispatch_payload",
    "CheckRestart": "check_restart",
    "VolumeRequest": "volume",
    "VolumeMount": "volume_mount",
}

_BY_FIELD = {(r.stanza, r.field): r for r in UNSUPPORTED}
_BY_JSON = {(r.stanza, r.json): r for r in UNSUPPORTED if r.json}


def rows() -> Iterator[Refusal]:
    return iter(UNSUPPORTED)


def is_refused(stanza: str, field: str) -> bool:
    """Whether the table has a row for `field` of `stanza` (tests generate only the others)."""
    return (stanza, field) in _BY_FIELD


def unused(value: Any, defaults: tuple[Any, ...] = ()) -> bool:
    """True for a value that means "not used": null, false, 0, "", [], {}, an object of
    such values, or one of `defaults`."""
    if value is None or value is False or value in ("", [], {}):
        return True
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return True
    if any(value == d and type(value) is type(d) for d in defaults):
        return True
    if isinstance(value, dict):
        return all(unused(v, defaults) for v in value.values())
    return False


def _screen(row: Refusal | None, value: Any, *, block: bool) -> str | None:
    if row is None:
        return None
    if block:
        return row.message()
    if row.values:  # only these values are refused; the others are read as usual
        if value in row.values:
            return row.message(value)
        return "" if any(value == d and type(value) is type(d) for d in row.defaults) else None
    return "" if unused(value, row.defaults) else row.message(value)


def screen(stanza: str, field: str, value: Any, *, block: bool = False) -> str | None:
    """What a reader does with `field` written in an HCL/YAML `stanza`: None to read it as
    usual, "" to drop it (it says "not used"), or the error that refuses it. A block (or a
    map given for a block's row, as YAML writes it) is refused wherever it is written."""
    row = _BY_FIELD.get((stanza, field))
    return _screen(
        row, value, block=block or (row is not None and row.block and isinstance(value, dict | list))
    )


def screen_json(cls_name: str, key: str, value: Any) -> str | None:
    """The same for `key` in a Nomad JSON object of model class `cls_name`; read-only keys
    are dropped."""
    stanza = STANZA_OF.get(cls_name, "")
    if key in READ_ONLY.get(stanza, frozenset()):
        return ""
    return _screen(_BY_JSON.get((stanza, key)), value, block=False)
