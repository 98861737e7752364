"""A structured diff of two versions of a job, shaped like Nomad's plan diff.

`diff_jobs(old, new)` compares the jobs' canonical Nomad JSON (defaults filled in) at job,
task group, task, object and field level, keeping old and new values as the text Nomad
prints. Edited objects are contextual: unchanged fields are kept (type None) so the plan
shows them beside the changes, as `nomad job plan` does.

Each group and task also says what its change means for running allocations: a
destructive change (driver, config, env, resources, artifacts, templates, logs, user,
network ports, ephemeral disk, tasks added or removed) needs new allocations ("forces
create/destroy update"); anything else (count, services and their tags, meta, update,
restart and reschedule policies, constraints, kill settings) is applied in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler.model.job import Job
from reconciler.spec.defaults import fill_defaults
from reconciler.spec.nomad_json import job_to_nomad


class DiffType(StrEnum):
    ADDED = "Added"
    DELETED = "Deleted"
    EDITED = "Edited"
    NONE = "None"


@dataclass(frozen=True)
class FieldDiff:
    type: DiffType
    name: str
    old: str
    new: str
    annotations: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObjectDiff:
    type: DiffType
    name: str
    fields: tuple[FieldDiff, ...] = ()
    objects: tuple[ObjectDiff, ...] = ()


@dataclass
class TaskDiff:
    type: DiffType
    name: str
    fields: list[FieldDiff] = field(default_factory=list)
    objects: list[ObjectDiff] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    destructive: bool = False


@dataclass
class TaskGroupDiff:
    type: DiffType
    name: str
    fields: list[FieldDiff] = field(default_factory=list)
    objects: list[ObjectDiff] = field(default_factory=list)
    tasks: list[TaskDiff] = field(default_factory=list)
    destructive: bool = False  # running allocations must be replaced (create/destroy update)

    @property
    def in_place(self) -> bool:
        """Edited, and every change can be applied to running allocations."""
        return self.type == DiffType.EDITED and not self.destructive


@dataclass
class JobDiff:
    type: DiffType
    id: str
    fields: list[FieldDiff] = field(default_factory=list)
    objects: list[ObjectDiff] = field(default_factory=list)
    task_groups: list[TaskGroupDiff] = field(default_factory=list)

    def group(self, name: str) -> TaskGroupDiff | None:
        return next((g for g in self.task_groups if g.name == name), None)


# Nomad JSON keys per level: plain fields, free-form maps shown as Key[k], and objects.
_JOB_FIELDS = ("ID", "Name", "Namespace", "Region", "Type", "Priority", "AllAtOnce", "NodePool")
_JOB_OBJECTS = {"Constraints": "Constraint", "Periodic": "Periodic", "Datacenters": "Datacenters"}
_GROUP_FIELDS = ("Count", "ShutdownDelay", "MaxClientDisconnect", "StopAfterClientDisconnect")
_GROUP_OBJECTS = {
    "Update": "Update",
    "Migrate": "Migrate",
    "Disconnect": "Disconnect",
    "RestartPolicy": "RestartPolicy",
    "ReschedulePolicy": "ReschedulePolicy",
    "EphemeralDisk": "EphemeralDisk",
    "Networks": "Network",
    "Services": "Service",
    "Constraints": "Constraint",
}
_TASK_FIELDS = ("Driver", "User", "KillTimeout", "KillSignal", "ShutdownDelay", "Leader")
_TASK_OBJECTS = {
    "Config": "Config",
    "Resources": "Resources",
    "LogConfig": "LogConfig",
    "Artifacts": "Artifact",
    "Templates": "Template",
    "Services": "Service",
    "Constraints": "Constraint",
    "RestartPolicy": "RestartPolicy",
}
_MAPS = ("Meta", "Env")
_FLAT_OBJECTS = frozenset({"Config"})
TASK_DESTRUCTIVE = frozenset(
    {"Driver", "User", "Config", "Env", "Resources", "Artifact", "Template", "LogConfig"}
)
GROUP_DESTRUCTIVE = frozenset({"Network", "EphemeralDisk"})


def text(value: Any) -> str:
    """A value as Nomad's diff prints it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _kind(old: Any, new: Any) -> DiffType:
    if old is None:
        return DiffType.ADDED
    if new is None:
        return DiffType.DELETED
    return DiffType.EDITED if old != new else DiffType.NONE


def _field_diffs(old: dict[str, str], new: dict[str, str], *, contextual: bool) -> list[FieldDiff]:
    out = []
    for name in sorted(set(old) | set(new)):
        o, n = old.get(name), new.get(name)
        kind = _kind(o, n)
        if kind == DiffType.NONE and not contextual:
            continue
        out.append(FieldDiff(kind, name, o or "", n or ""))
    return out


def flatten(value: Any, prefix: str, out: dict[str, str]) -> dict[str, str]:
    """Nomad's flatmap: nested maps as `a.b`, lists as `a[0]`."""
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            flatten(v, f"{prefix}[{i}]", out)
    else:
        out[prefix] = text(value)
    return out


def _split(obj: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, Any]]:
    """Plain fields (flattened) and nested objects of one Nomad JSON object."""
    fields: dict[str, str] = {}
    objects: dict[str, Any] = {}
    for key, value in (obj or {}).items():
        if value is None:
            continue
        nested = isinstance(value, dict) and key not in ("Meta", "Header", "GetterOptions", "GetterHeaders")
        if nested or (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)):
            objects[key] = value
        elif isinstance(value, dict | list):
            if isinstance(value, dict):
                for k, v in value.items():
                    flatten(v, f"{key}[{k}]", fields)
            else:
                flatten(value, key, fields)
        else:
            fields[key] = text(value)
    return fields, objects


def object_diff(name: str, old: Any, new: Any, *, flat: bool = False) -> ObjectDiff | None:
    """The diff of one object (None when equal); contextual fields for edited objects."""
    if old is None and new is None:
        return None
    kind = _kind(old, new)
    if kind == DiffType.NONE:
        return None
    if flat:
        fields = _field_diffs(flatten(old or {}, "", {}), flatten(new or {}, "", {}), contextual=True)
        return ObjectDiff(kind, name, tuple(fields))
    old_f, old_o = _split(old)
    new_f, new_o = _split(new)
    fields = _field_diffs(old_f, new_f, contextual=True)
    objects: list[ObjectDiff] = []
    for key in sorted(set(old_o) | set(new_o)):
        objects.extend(_objects_diff(_singular(key), old_o.get(key), new_o.get(key)))
    objects.sort(key=lambda o: o.name)
    return ObjectDiff(kind, name, tuple(fields), tuple(objects))


def _singular(key: str) -> str:
    names = {
        "Checks": "Check",
        "ReservedPorts": "Static Port",
        "DynamicPorts": "Dynamic Port",
        "CheckRestart": "CheckRestart",
    }
    return names.get(key, key[:-1] if key.endswith("s") and key not in ("Resources",) else key)


def _identity(item: dict[str, Any]) -> str:
    for key in ("Name", "Label", "GetterSource", "DestPath", "LTarget"):
        if isinstance(item.get(key), str) and item[key]:
            return str(item[key])
    return ""


def _objects_diff(name: str, old: Any, new: Any, *, flat: bool = False) -> list[ObjectDiff]:
    """Diffs of a single object or of a list of objects matched by name (else position)."""
    if not isinstance(old, list) and not isinstance(new, list):
        d = object_diff(name, old, new, flat=flat)
        return [d] if d else []
    olds = list(old or [])
    news = list(new or [])
    out: list[ObjectDiff] = []
    matched: set[int] = set()
    for i, n in enumerate(news):
        key = _identity(n) if isinstance(n, dict) else ""
        j = next(
            (
                k
                for k, o in enumerate(olds)
                if k not in matched and isinstance(o, dict) and key and _identity(o) == key
            ),
            None,
        )
        if j is None and i < len(olds) and i not in matched and not key:
            j = i
        if j is not None:
            matched.add(j)
        d = object_diff(name, olds[j] if j is not None else None, n, flat=flat)
        if d:
            out.append(d)
    for k, o in enumerate(olds):
        if k not in matched:
            d = object_diff(name, o, None, flat=flat)
            if d:
                out.append(d)
    return out


def _level(
    old: dict[str, Any] | None, new: dict[str, Any] | None, plain: tuple[str, ...], objects: dict[str, str]
) -> tuple[list[FieldDiff], list[ObjectDiff]]:
    o, n = old or {}, new or {}
    ofields = {k: text(o[k]) for k in plain if o.get(k) is not None}  # null: not set (Nomad's nil)
    nfields = {k: text(n[k]) for k in plain if n.get(k) is not None}
    for key in _MAPS:
        for k, v in (o.get(key) or {}).items():
            ofields[f"{key}[{k}]"] = text(v)
        for k, v in (n.get(key) or {}).items():
            nfields[f"{key}[{k}]"] = text(v)
    contextual = old is None or new is None
    fields = _field_diffs(
        ofields if old is not None else {}, nfields if new is not None else {}, contextual=contextual
    )
    objs: list[ObjectDiff] = []
    for key, name in objects.items():
        ov = _comparable(key, o.get(key) if old is not None else None)
        nv = _comparable(key, n.get(key) if new is not None else None)
        if key == "Datacenters":
            objs.extend(_set_diff(name, ov, nv))
        else:
            objs.extend(_objects_diff(name, ov, nv, flat=key in _FLAT_OBJECTS))
    objs.sort(key=lambda d: d.name)
    return fields, objs


def _comparable(key: str, value: Any) -> Any:
    """An object field as diffs compare it: an empty list or Config is no object, and an
    update block's `Stagger` (deprecated) is left out."""
    if key == "Update" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "Stagger"}
    if (isinstance(value, list) and not value) or (key == "Config" and value == {}):
        return None
    return value


def _set_diff(name: str, old: list[Any] | None, new: list[Any] | None) -> list[ObjectDiff]:
    o, n = [text(x) for x in old or []], [text(x) for x in new or []]
    if o == n:
        return []
    fields = []
    for value in sorted(set(o) | set(n)):
        kind = (
            DiffType.NONE
            if value in o and value in n
            else (DiffType.ADDED if value in n else DiffType.DELETED)
        )
        fields.append(FieldDiff(kind, name, value if value in o else "", value if value in n else ""))
    return [ObjectDiff(_kind(old, new), name, tuple(fields))]


def _task_diff(old: dict[str, Any] | None, new: dict[str, Any] | None) -> TaskDiff:
    name = str((new or old or {}).get("Name", ""))
    fields, objects = _level(old, new, _TASK_FIELDS, _TASK_OBJECTS)
    kind = _kind(old, new)
    if kind == DiffType.EDITED and not fields and not objects:
        kind = DiffType.NONE
    diff = TaskDiff(kind, name, fields, objects)
    if kind == DiffType.ADDED:
        diff.annotations, diff.destructive = ["forces create"], True
    elif kind == DiffType.DELETED:
        diff.annotations, diff.destructive = ["forces destroy"], True
    elif kind == DiffType.EDITED:
        changed = {f.name.split("[", 1)[0] for f in fields if f.type != DiffType.NONE} | {
            o.name for o in objects
        }
        diff.destructive = bool(changed & TASK_DESTRUCTIVE)
        diff.annotations = ["forces create/destroy update" if diff.destructive else "forces in-place update"]
    return diff


def _by_name(items: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {str(i.get("Name", "")): i for i in items or []}


def _group_diff(old: dict[str, Any] | None, new: dict[str, Any] | None) -> TaskGroupDiff:
    name = str((new or old or {}).get("Name", ""))
    fields, objects = _level(old, new, _GROUP_FIELDS, _GROUP_OBJECTS)
    olds, news = _by_name((old or {}).get("Tasks")), _by_name((new or {}).get("Tasks"))
    order = [n for n in news] + [n for n in olds if n not in news]
    tasks = [_task_diff(olds.get(t), news.get(t)) for t in sorted(order)]
    kind = _kind(old, new)
    if kind == DiffType.EDITED and not fields and not objects and all(t.type == DiffType.NONE for t in tasks):
        kind = DiffType.NONE
    diff = TaskGroupDiff(kind, name, fields, objects, tasks)
    diff.destructive = (
        kind in (DiffType.ADDED, DiffType.DELETED)
        or any(t.destructive for t in tasks)
        or any(o.name in GROUP_DESTRUCTIVE for o in objects)
    )
    return diff


def diff_jobs(old: Job | None, new: Job) -> JobDiff:
    """The structured difference from `old` (None: the job is new) to `new`."""
    o = job_to_nomad(fill_defaults(old)) if old is not None else None
    n = job_to_nomad(fill_defaults(new))
    fields, objects = _level(o, n, _JOB_FIELDS, _JOB_OBJECTS)
    olds, news = _by_name((o or {}).get("TaskGroups")), _by_name(n.get("TaskGroups"))
    names = sorted(set(olds) | set(news))
    groups = [_group_diff(olds.get(g), news.get(g)) for g in names]
    kind = _kind(o, n)
    if (
        kind == DiffType.EDITED
        and not fields
        and not objects
        and all(g.type == DiffType.NONE for g in groups)
    ):
        kind = DiffType.NONE
    return JobDiff(kind, new.id, fields, objects, groups)
