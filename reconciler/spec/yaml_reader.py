"""YAML job files into the format-neutral `RawBlock` tree, with line numbers.

The YAML shape mirrors the HCL one: `job: {todo: {group: {web: {task: {todo: {...}}}}}}`;
labelled blocks (job, group, task, port) are maps from label to body, other blocks are
maps (or lists of maps when repeated, e.g. several `service`s), and free-form maps
(`config`, `env`, `meta`) stay values. ruamel.yaml's round-trip loader keeps the line and
column of every key, which the decoder turns into error positions.
"""

from __future__ import annotations

import datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from reconciler.spec.errors import Issues, Pos, suggestion
from reconciler.spec.rawtree import RawBlock, RawValue, child_path

LABELLED = frozenset({"job", "group", "task", "port", "target", "volume"})
BLOCKS = frozenset(
    {
        "network",
        "service",
        "check",
        "check_restart",
        "constraint",
        "affinity",
        "spread",
        "artifact",
        "template",
        "resources",
        "logs",
        "update",
        "migrate",
        "restart",
        "reschedule",
        "ephemeral_disk",
        "disconnect",
        "periodic",
        "parameterized",
        "dispatch_payload",
        "lifecycle",
        "volume_mount",
    }
)


MAX_VALUES = 200_000  # aliases may not expand a document beyond this many values


class TooLarge(ValueError):
    """The document expands (through aliases) to more values than MAX_VALUES."""


def plain(value: Any, budget: list[int] | None = None) -> Any:
    """ruamel's round-trip types as plain Python values."""
    budget = budget if budget is not None else [MAX_VALUES]
    budget[0] -= 1
    if budget[0] < 0:
        raise TooLarge(f"the document expands to more than {MAX_VALUES} values (through aliases)")
    if isinstance(value, dict):
        return {str(k): plain(v, budget) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, budget) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _key_pos(mapping: Any, key: Any) -> Pos:
    try:
        line, col = mapping.lc.key(key)
        return Pos(line + 1, col + 1)
    except (AttributeError, KeyError, TypeError):
        return _pos(mapping)


def _pos(node: Any) -> Pos:
    try:
        return Pos(node.lc.line + 1, node.lc.col + 1)
    except AttributeError:
        return Pos()


class _Builder:
    def __init__(self, issues: Issues) -> None:
        self.issues = issues
        self.budget = [MAX_VALUES]

    def block(self, btype: str, labels: list[str], body: Any, pos: Pos, path: str) -> RawBlock:
        raw = RawBlock(btype, labels, pos=pos)
        if not self._spend(path, pos) or body is None:
            return raw
        if not isinstance(body, dict):
            self.issues.add(path, f'"{btype}" must be a map of fields', pos)
            return raw
        counts: dict[str, int] = {}
        for key, value in body.items():
            if not self._member(raw, str(key), value, _key_pos(body, key), path, counts):
                break
        return raw

    def _spend(self, path: str, pos: Pos) -> bool:
        """Count one block against the budget; False once the document is too large."""
        self.budget[0] -= 1
        if self.budget[0] >= 0:
            return True
        if self.budget[0] == -1:
            self.issues.add(
                path, f"the document expands to more than {MAX_VALUES} values (through aliases)", pos
            )
        return False

    def _member(
        self, raw: RawBlock, name: str, value: Any, kpos: Pos, path: str, counts: dict[str, int]
    ) -> bool:
        """One key of a block's map into `raw`: labelled blocks, blocks (one or a list) or an
        attribute. False once the document is too large."""
        if name in LABELLED and isinstance(value, dict):
            for label, sub in value.items():
                spath = child_path(path, name, [str(label)], 0)
                raw.blocks.append(self.block(name, [str(label)], sub, _key_pos(value, label), spath))
        elif name in BLOCKS and (
            isinstance(value, dict) or (isinstance(value, list) and all(isinstance(v, dict) for v in value))
        ):
            for item in [value] if isinstance(value, dict) else list(value):
                i = counts.get(name, 0)
                counts[name] = i + 1
                ipos = _pos(item) if item is not value else kpos
                raw.blocks.append(self.block(name, [], item, ipos, child_path(path, name, [], i)))
        else:
            try:
                raw.attrs[name] = RawValue(plain(value, self.budget), kpos)
            except TooLarge as exc:
                self.issues.add(f"{path}.{name}", str(exc), kpos)
                return False
        return True


def read_yaml(text: str, issues: Issues) -> RawBlock | None:
    """The `job` raw block of a YAML job file; problems are added to `issues`."""
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        col = mark.column + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        issues.add("", f"invalid YAML: {problem}", Pos(line, col))
        return None
    if not isinstance(data, dict) or "job" not in data:
        issues.add("job", "no job found: a YAML job file starts with job: {NAME: {...}}", Pos(1, 1))
        return None
    for key in data:
        if key != "job":
            issues.add(
                str(key),
                f'unknown top-level field "{key}"' + suggestion(str(key), ["job"]),
                _key_pos(data, key),
            )
    jobs = data["job"]
    if not isinstance(jobs, dict) or len(jobs) != 1:
        issues.add("job", "job must map exactly one job name to its fields", _key_pos(data, "job"))
        return None
    ((label, body),) = jobs.items()
    return _Builder(issues).block("job", [str(label)], body, _key_pos(jobs, label), f"job.{label}")
