"""Renders a `JobDiff` as the text of `nomad job plan`.

Markers `+`, `-` and `+/-`, names and values aligned per block, `(forces ...)`
annotations on tasks, and per-group counts from the scheduler's dry-run such as
`(1 create/destroy update, 4 ignore)` when `group_counts` is given. The layout follows
Nomad's plan formatter rule for rule, so output matches Nomad's character for character.
"""

from __future__ import annotations

import json

from reconciler.spec.diff import DiffType, FieldDiff, JobDiff, ObjectDiff, TaskDiff, TaskGroupDiff

GroupCounts = dict[str, dict[str, int]]


def _marker(kind: DiffType) -> str:
    return {DiffType.ADDED: "+ ", DiffType.DELETED: "- ", DiffType.EDITED: "+/- "}.get(kind, "")


def _q(value: str) -> str:
    """A Go %q-style quoted string."""
    return json.dumps(value, ensure_ascii=False)


def _longest(
    fields: list[FieldDiff] | tuple[FieldDiff, ...], objects: list[ObjectDiff] | tuple[ObjectDiff, ...]
) -> tuple[int, int]:
    longest_field = max((len(f.name) for f in fields), default=0)
    longest_marker = max((len(_marker(x.type)) for x in [*fields, *objects]), default=0)
    return longest_field, longest_marker


def _field(d: FieldDiff, start: int, key_prefix: int, value_prefix: int) -> str:
    out = " " * start + _marker(d.type) + " " * key_prefix + d.name + ": " + " " * value_prefix
    if d.type == DiffType.ADDED:
        out += _q(d.new)
    elif d.type == DiffType.DELETED:
        out += _q(d.old)
    elif d.type == DiffType.EDITED:
        out += f"{_q(d.old)} => {_q(d.new)}"
    else:
        out += _q(d.new)
    if d.annotations:
        out += f" ({', '.join(d.annotations)})"
    return out


def _object(d: ObjectDiff, start: int, key_prefix: int) -> str:
    marker = _marker(d.type)
    out = " " * start + marker + " " * key_prefix + d.name + " {\n"
    longest_field, longest_marker = _longest(d.fields, d.objects)
    out += _aligned(d.fields, d.objects, start + key_prefix + 2, longest_field, longest_marker)
    return out + "\n" + " " * (start + len(marker) + key_prefix) + "}"


def _aligned(
    fields: list[FieldDiff] | tuple[FieldDiff, ...],
    objects: list[ObjectDiff] | tuple[ObjectDiff, ...],
    start: int,
    longest_field: int,
    longest_marker: int,
) -> str:
    lines: list[str] = []
    for f in fields:
        lines.append(_field(f, start, longest_marker - len(_marker(f.type)), longest_field - len(f.name)))
    for o in objects:
        lines.append(_object(o, start, longest_marker - len(_marker(o.type))))
    return "\n".join(lines)


def _task(d: TaskDiff, start: int, task_prefix: int, verbose: bool) -> str:
    out = " " * start + _marker(d.type) + " " * task_prefix + f"Task: {_q(d.name)}"
    if d.annotations:
        out += f" ({', '.join(d.annotations)})"
    if d.type == DiffType.NONE or (d.type in (DiffType.ADDED, DiffType.DELETED) and not verbose):
        return out
    out += "\n"
    longest_field, longest_marker = _longest(d.fields, d.objects)
    return out + _aligned(d.fields, d.objects, start + 2, longest_field, longest_marker)


def _counts(counts: dict[str, int]) -> str:
    parts = [f"{n} {kind}" for kind, n in sorted(counts.items()) if n]
    return f" ({', '.join(parts)})" if parts else ""


def _group(d: TaskGroupDiff, prefix: int, verbose: bool, counts: dict[str, int] | None) -> str:
    out = _marker(d.type) + " " * prefix + f"Task Group: {_q(d.name)}" + _counts(counts or {}) + "\n"
    longest_field, longest_marker = _longest(d.fields, d.objects)
    for t in d.tasks:
        longest_marker = max(longest_marker, len(_marker(t.type)))
    start = prefix + 2
    if d.type == DiffType.EDITED or verbose:
        fo = _aligned(d.fields, d.objects, start, longest_field, longest_marker)
        out += fo + ("\n" if fo else "")
    for t in d.tasks:
        out += _task(t, start, longest_marker - len(_marker(t.type)), verbose) + "\n"
    return out


def render_diff(diff: JobDiff, *, verbose: bool = False, group_counts: GroupCounts | None = None) -> str:
    """`nomad job plan`'s diff text; `group_counts` adds the dry-run counts per group."""
    out = _marker(diff.type) + f"Job: {_q(diff.id)}\n"
    longest_field, longest_marker = _longest(diff.fields, diff.objects)
    for g in diff.task_groups:
        longest_marker = max(longest_marker, len(_marker(g.type)))
    if diff.type == DiffType.EDITED or verbose:
        fo = _aligned(diff.fields, diff.objects, 0, longest_field, longest_marker)
        out += fo + ("\n" if fo else "")
    for g in diff.task_groups:
        counts = (group_counts or {}).get(g.name)
        out += _group(g, longest_marker - len(_marker(g.type)), verbose, counts) + "\n"
    return out.rstrip() + "\n"  # Nomad trims the diff before printing it
