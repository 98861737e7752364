"""A `JobDiff` in the shape of Nomad's plan API response (`"Diff": {...}`).

`POST /v1/job/:id/plan` answers with the diff as JSON; existing Nomad clients and the web
UI read these keys (Type, ID, Fields, Objects, TaskGroups, Tasks, Updates, Annotations).
"""

from __future__ import annotations

from typing import Any

from reconciler.spec.diff import FieldDiff, JobDiff, ObjectDiff, TaskDiff, TaskGroupDiff


def _field(d: FieldDiff) -> dict[str, Any]:
    return {
        "Type": str(d.type),
        "Name": d.name,
        "Old": d.old,
        "New": d.new,
        "Annotations": list(d.annotations) or None,
    }


def _object(d: ObjectDiff) -> dict[str, Any]:
    return {
        "Type": str(d.type),
        "Name": d.name,
        "Fields": [_field(f) for f in d.fields] or None,
        "Objects": [_object(o) for o in d.objects] or None,
    }


def _task(d: TaskDiff) -> dict[str, Any]:
    return {
        "Type": str(d.type),
        "Name": d.name,
        "Fields": [_field(f) for f in d.fields] or None,
        "Objects": [_object(o) for o in d.objects] or None,
        "Annotations": list(d.annotations) or None,
    }


def _group(d: TaskGroupDiff, updates: dict[str, int] | None) -> dict[str, Any]:
    return {
        "Type": str(d.type),
        "Name": d.name,
        "Fields": [_field(f) for f in d.fields] or None,
        "Objects": [_object(o) for o in d.objects] or None,
        "Tasks": [_task(t) for t in d.tasks] or None,
        "Updates": {k: v for k, v in (updates or {}).items() if v} or None,
    }


def diff_to_nomad(diff: JobDiff, group_counts: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """The diff as Nomad's API JSON; `group_counts` fills each group's `Updates`."""
    return {
        "Type": str(diff.type),
        "ID": diff.id,
        "Fields": [_field(f) for f in diff.fields] or None,
        "Objects": [_object(o) for o in diff.objects] or None,
        "TaskGroups": [_group(g, (group_counts or {}).get(g.name)) for g in diff.task_groups] or None,
    }
