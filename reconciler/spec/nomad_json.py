"""The job model to and from Nomad's API JSON (`{"Job": {"ID": ..., "TaskGroups": [...]}}`).

The HTTP API and existing Nomad API clients exchange jobs in this shape: capitalised keys,
durations in nanoseconds, `Resources{CPU, MemoryMB}`, `Networks[{ReservedPorts,
DynamicPorts}]`, `Constraints[{LTarget, RTarget, Operand}]`, services at group and task
level. The mapping is one table (model field -> Nomad key) walked generically by the
fields' type hints, so both directions stay in step: `job_from_nomad(job_to_nomad(j)) == j`
for every job the loaders produce. Reading reports wrong types with the JSON path
(`Job.TaskGroups[0].Count`); keys Nomad has but this model does not are ignored.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from typing import Any

from reconciler.model import job as m
from reconciler.model.ids import is_valid_name
from reconciler.spec.defaults import fill_defaults
from reconciler.spec.errors import SpecError, SpecIssue, quote, suggestion
from reconciler.spec.validate import validate

# Model field -> Nomad key, where the key is not the field in CamelCase.
KEYS: dict[type, dict[str, str]] = {
    m.Job: {
        "id": "ID",
        "task_groups": "TaskGroups",
        "constraints": "Constraints",
        "parent_id": "ParentID",
        "parameterized": "ParameterizedJob",
    },
    m.Constraint: {"attribute": "LTarget", "operator": "Operand", "value": "RTarget"},
    m.Port: {"static": "Value"},
    m.Network: {"mbits": "MBits"},
    m.Check: {"port": "PortLabel", "task": "TaskName"},
    m.Service: {"port": "PortLabel", "checks": "Checks"},
    m.Resources: {"cpu": "CPU", "memory": "MemoryMB", "memory_max": "MemoryMaxMB"},
    m.Artifact: {
        "source": "GetterSource",
        "destination": "RelativeDest",
        "mode": "GetterMode",
        "options": "GetterOptions",
        "headers": "GetterHeaders",
    },
    m.Template: {
        "data": "EmbeddedTmpl",
        "source": "SourcePath",
        "destination": "DestPath",
        "env": "Envvars",
        "left_delimiter": "LeftDelim",
        "right_delimiter": "RightDelim",
    },
    m.LogConfig: {"max_file_size": "MaxFileSizeMB"},
    m.Task: {"restart": "RestartPolicy", "logs": "LogConfig", "constraints": "Constraints"},
    m.EphemeralDisk: {"size": "SizeMB"},
    m.TaskGroup: {"restart": "RestartPolicy", "reschedule": "ReschedulePolicy", "constraints": "Constraints"},
    m.Periodic: {"cron": "Spec", "crons": "Specs"},
}

# Keys Nomad's API returns that this model does not carry: accepted and dropped on input.
IGNORED = frozenset(
    {
        "Stop",
        "VaultToken",
        "VaultNamespace",
        "ConsulToken",
        "ConsulNamespace",
        "Status",
        "StatusDescription",
        "Stable",
        "Version",
        "SubmitTime",
        "CreateIndex",
        "ModifyIndex",
        "JobModifyIndex",
        "Affinities",
        "Spreads",
        "Multiregion",
        "Scaling",
        "Volumes",
        "Vault",
        "Consul",
        "StopAfterClientDisconnect",
        "MaxClientDisconnect",
        "PreventRescheduleOnLost",
        "CSIPluginConfig",
        "VolumeMounts",
        "ScalingPolicies",
        "Identity",
        "Identities",
        "Kind",
        "NodePool",
        "UI",
        "Devices",
        "IOPS",
        "DiskMB",
        "NumaNode",
        "SecretsPath",
        "CNI",
        "DNS",
        "Hostname",
        "IP",
        "CIDR",
        "Device",
        "DynamicPorts",
        "ReservedPorts",
        "SpecType",
        "Canonicalize",
        "Ports",
        "GetterInsecure",
        "Wait",
        "VaultGrace",
        "ErrMissingKey",
        "Uid",
        "Gid",
        "ChangeScript",
        "OnUpdate",
        "Interval",
        "CheckRestart",
        "Connect",
        "EnableTagOverride",
        "TaggedAddresses",
        "Cluster",
        "TaskName",
        "Expose",
        "GRPCService",
        "GRPCUseTLS",
        "TLSServerName",
        "TLSSkipVerify",
        "Body",
        "PortLabel",
        "AddressMode",
        "Provider",
        "Namespace",
        "Datacenters",
        "Region",
        "NodeID",
        "Meta",
        "Stagger",
    }
)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def key_of(cls: type, field: str) -> str:
    return KEYS.get(cls, {}).get(field) or _camel(field)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, vars(m))
    return _HINTS[cls]


# -- model -> Nomad ------------------------------------------------------------------------


def _out(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _obj_out(value)
    if isinstance(value, list):
        return [_out(v) for v in value]
    if isinstance(value, dict):
        return {k: _out(v) for k, v in value.items()}
    if isinstance(value, str):
        return str(value)
    return value


def _obj_out(obj: Any) -> dict[str, Any]:
    cls = type(obj)
    if cls is m.Network:
        return {
            "Mode": obj.mode,
            "MBits": obj.mbits,
            "ReservedPorts": [_obj_out(p) for p in obj.ports if p.static],
            "DynamicPorts": [_obj_out(p) for p in obj.ports if not p.static],
        }
    out = {key_of(cls, f.name): _out(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if cls is m.Periodic:
        out["SpecType"] = "cron"
    return out


def job_to_nomad(job: m.Job) -> dict[str, Any]:
    """The job as Nomad's API JSON object (the value of `{"Job": ...}`)."""
    return _obj_out(job)


# -- Nomad -> model ------------------------------------------------------------------------


class _Reader:
    def __init__(self) -> None:
        self.issues: list[SpecIssue] = []

    def bad(self, path: str, message: str) -> None:
        self.issues.append(SpecIssue("", 0, 0, path, message))

    def _not_null(self, value: Any, path: str) -> bool:
        if value is None:
            self.bad(path, "must not be null")
            return False
        return True

    def value(self, hint: Any, data: Any, path: str, default: Any) -> Any:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            if data is None:
                return None
            inner = next(a for a in args if a is not type(None))
            return self.value(inner, data, path, None)
        if dataclasses.is_dataclass(hint):
            if data is None:
                return default
            return self.obj(typing.cast(type, hint), data, path)
        if hint is int:
            if isinstance(data, int) and not isinstance(data, bool):
                return data
            if isinstance(data, float) and data.is_integer():
                return int(data)
            self.bad(path, f"must be an integer, got {quote(data)}")
            return default
        if hint is str:
            if isinstance(data, str):
                return data
            if data is None:
                return default
            self.bad(path, f"must be a string, got {quote(data)}")
            return default
        if hint is bool:
            if isinstance(data, bool):
                return data
            self.bad(path, f"must be true or false, got {quote(data)}")
            return default
        if origin is list:
            if data is None:
                return default if default is not None else []
            if not isinstance(data, list):
                self.bad(path, f"must be a list, got {quote(data)}")
                return default
            return [
                self.value(args[0], v, f"{path}[{i}]", None)
                for i, v in enumerate(data)
                if self._not_null(v, f"{path}[{i}]")
            ]
        if origin is dict:
            if data is None:
                return default if default is not None else {}
            if not isinstance(data, dict):
                self.bad(path, f"must be an object, got {quote(data)}")
                return default
            if args[1] is Any:
                return copy.deepcopy(data)
            return {
                str(k): self.value(args[1], v, f"{path}.{k}", None)
                for k, v in data.items()
                if self._not_null(v, f"{path}.{k}")
            }
        return copy.deepcopy(data)

    def obj(self, cls: type, data: Any, path: str) -> Any:
        if not isinstance(data, dict):
            self.bad(path, f"must be an object, got {quote(data)}")
            data = {}
        hints = _hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        keys = {key_of(cls, name): name for name in fields}
        values: dict[str, Any] = {}
        if cls is m.Network:
            keys.pop("Ports", None)
            ports: list[m.Port] = []
            for key in ("ReservedPorts", "DynamicPorts"):
                raw = data.get(key)
                if raw is None:
                    continue
                if not isinstance(raw, list):
                    self.bad(f"{path}.{key}", f"must be a list, got {quote(raw)}")
                    continue
                ports.extend(self.obj(m.Port, p, f"{path}.{key}[{i}]") for i, p in enumerate(raw))
            values["ports"] = ports
        for key, raw in data.items():
            name = keys.get(key)
            if name is None:
                if key in IGNORED or key in ("ReservedPorts", "DynamicPorts", "SpecType") or not raw:
                    continue
                self.bad(f"{path}.{key}", f'unknown field "{key}"' + suggestion(key, keys))
                continue
            f = fields[name]
            default = _default_of(f)
            values[name] = self.value(hints[name], raw, f"{path}.{key}", default)
        for name, f in fields.items():
            if name not in values:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    self.bad(f"{path}.{key_of(cls, name)}", "missing required field")
                    values[name] = ""
                else:
                    values[name] = _default_of(f)
        return cls(**values)


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return ""


def job_from_nomad(data: dict[str, Any]) -> m.Job:
    """The job in Nomad API JSON (`{"Job": {...}, ...}` as in a register request, or the bare
    job), with defaults filled in.

    Wrong types raise SpecError naming the JSON path; semantic checks are `validate`'s."""
    reader = _Reader()
    root = "Job"
    if isinstance(data, dict) and isinstance(data.get("Job"), dict):
        # A register request: {"Job": {...}, "EnforceIndex": ..., "PolicyOverride": ...}
        data = data["Job"]
    if not isinstance(data, dict):
        raise SpecError([SpecIssue("", 0, 0, root, f"must be a JSON object, got {quote(data)}")])
    try:
        job = reader.obj(m.Job, data, root)
    except RecursionError:
        raise SpecError([SpecIssue("", 0, 0, root, "nested too deeply")]) from None
    if reader.issues:
        raise SpecError(reader.issues)
    return fill_defaults(job)


def job_from_request(data: dict[str, Any]) -> m.Job:
    """`job_from_nomad` plus `validate`: what every API path that takes a job (register,
    plan, the UI's paste) uses, so a job the text loader refuses is refused there too, with
    the same messages (review finding M1)."""
    job = job_from_nomad(data)
    for field, value in (("Job.ID", job.id), ("Job.Namespace", job.namespace)):
        if not is_valid_name(value):  # named as the request names it, like submit_job's check
            raise SpecError(
                [
                    SpecIssue(
                        "<request>",
                        0,
                        0,
                        field,
                        f"{value!r} is not a valid identifier (letters, digits, '-', '_', '.')",
                    )
                ]
            )
    issues = validate(job)
    if issues:
        raise SpecError([dataclasses.replace(i, file="<request>") for i in issues])
    return job
