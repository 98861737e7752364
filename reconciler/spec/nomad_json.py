"""The job model to and from Nomad's API JSON (`{"Job": {"ID": ..., "TaskGroups": [...]}}`).

The HTTP API and existing Nomad API clients exchange jobs in this shape: capitalised keys,
durations in nanoseconds, `Resources{CPU, MemoryMB}`, `Networks[{ReservedPorts,
DynamicPorts}]`, `Constraints[{LTarget, RTarget, Operand}]`, services at group and task
level. The mapping is one table (model field -> Nomad key) walked generically by the
fields' type hints, so both directions stay in step: `job_from_nomad(job_to_nomad(j)) == j`
for every job the loaders produce. Reading reports wrong types with the JSON path
(`Job.TaskGroups[0].Count`). A key Nomad has but this project does not support is refused
with its JSON path unless it says "not used" (null, 0, "", or Nomad's own default), and the
server's read-only record (`Version`, `SubmitTime`, ...) is accepted and dropped: the rule
and the one table of refused fields are in `unsupported.py`.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from typing import Any

from reconciler.model import job as m
from reconciler.model.ids import is_valid_name
from reconciler.model.volumes import VolumeRequest
from reconciler.spec.defaults import fill_defaults
from reconciler.spec.errors import SpecError, SpecIssue, quote, suggestion
from reconciler.spec.unsupported import screen_json
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
    m.Affinity: {"attribute": "LTarget", "operator": "Operand", "value": "RTarget"},
    m.Spread: {"targets": "SpreadTarget"},
    m.Port: {"static": "Value"},
    m.Network: {"mbits": "MBits"},
    m.Check: {
        "port": "PortLabel",
        "task": "TaskName",
        "grpc_service": "GRPCService",
        "grpc_use_tls": "GRPCUseTLS",
    },
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
    VolumeRequest: {"name": "Name"},
}


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
    """Reads one Nomad JSON job into the model, collecting every problem with its JSON path."""

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
        if origin in (typing.Union, types.UnionType):
            if data is None:
                return None
            inner = next(a for a in typing.get_args(hint) if a is not type(None))
            return self.value(inner, data, path, None)
        if data is None and (dataclasses.is_dataclass(hint) or hint in _SCALARS):
            return default  # Nomad writes null for a value it leaves at its default
        if dataclasses.is_dataclass(hint):
            return self.obj(typing.cast(type, hint), data, path)
        if hint in _SCALARS:
            return self.scalar(hint, data, path, default)
        if origin is list:
            return self.seq(typing.get_args(hint)[0], data, path, default)
        if origin is dict:
            return self.map(typing.get_args(hint)[1], data, path, default)
        return copy.deepcopy(data)

    def scalar(self, hint: type, data: Any, path: str, default: Any) -> Any:
        if hint is int and isinstance(data, float) and data.is_integer():
            return int(data)
        if isinstance(data, hint) and (hint is bool or not isinstance(data, bool)):
            return data
        self.bad(path, f"must be {_SCALARS[hint]}, got {quote(data)}")
        return default

    def seq(self, item: Any, data: Any, path: str, default: Any) -> Any:
        if data is None:
            return default if default is not None else []
        if not isinstance(data, list):
            self.bad(path, f"must be a list, got {quote(data)}")
            return default
        return [
            self.value(item, v, f"{path}[{i}]", None)
            for i, v in enumerate(data)
            if self._not_null(v, f"{path}[{i}]")
        ]

    def map(self, item: Any, data: Any, path: str, default: Any) -> Any:
        if data is None:
            return default if default is not None else {}
        if not isinstance(data, dict):
            self.bad(path, f"must be an object, got {quote(data)}")
            return default
        if item is Any:
            return copy.deepcopy(data)
        return {
            str(k): self.value(item, v, f"{path}.{k}", None)
            for k, v in data.items()
            if self._not_null(v, f"{path}.{k}")
        }

    def ports(self, data: dict[str, Any], path: str) -> list[m.Port]:
        """A network's `ReservedPorts` then `DynamicPorts`, as the model's one port list."""
        ports: list[m.Port] = []
        for key in ("ReservedPorts", "DynamicPorts"):
            raw = data.get(key)
            if raw is None:
                continue
            if not isinstance(raw, list):
                self.bad(f"{path}.{key}", f"must be a list, got {quote(raw)}")
                continue
            ports.extend(self.obj(m.Port, p, f"{path}.{key}[{i}]") for i, p in enumerate(raw))
        return ports

    def obj(self, cls: type, data: Any, path: str) -> Any:
        if not isinstance(data, dict):
            self.bad(path, f"must be an object, got {quote(data)}")
            data = {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        keys = {key_of(cls, name): name for name in fields}
        values: dict[str, Any] = {}
        if cls is m.Network:
            keys.pop("Ports", None)
            values["ports"] = self.ports(data, path)
        for key, raw in data.items():
            if self.screened(cls, key, raw, f"{path}.{key}", known=keys):
                continue
            name = keys[key]
            values[name] = self.value(_hints(cls)[name], raw, f"{path}.{key}", _default_of(fields[name]))
        for name, f in fields.items():
            if name not in values:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    self.bad(f"{path}.{key_of(cls, name)}", "missing required field")
                values[name] = _default_of(f)
        return cls(**values)

    def screened(self, cls: type, key: str, raw: Any, path: str, *, known: dict[str, str]) -> bool:
        """True when `key` is not read into the model: refused (reported), dropped as
        read-only or unused (see `unsupported.py` for the rule), or unknown."""
        verdict = screen_json(cls.__name__, key, raw)
        if verdict:
            self.bad(path, verdict)
            return True
        if verdict == "" or (cls, key) in _SPLIT:
            return True
        if key in known:
            return False
        if raw:
            self.bad(path, f'unknown field "{key}"' + suggestion(key, known))
        return True


_SCALARS: dict[Any, str] = {int: "an integer", str: "a string", bool: "true or false"}
# Keys the codec writes in place of one model field (a network's ports, a periodic's type).
_SPLIT = frozenset({(m.Network, "ReservedPorts"), (m.Network, "DynamicPorts"), (m.Periodic, "SpecType")})


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
