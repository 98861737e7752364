"""The text of a plan, as `nomad job plan` prints it: the job diff with per-group counts,
then the `Scheduler dry-run:` block. Shared by the CLI (from the API's JSON) and the web UI
(from the planner's result), so both print the same thing."""

from __future__ import annotations

from reconciler.model.plan import AllocMetric, DesiredUpdates, scheduler_dry_run
from reconciler.spec import render_diff
from reconciler.spec.diff import JobDiff


def group_counts(updates: dict[str, DesiredUpdates]) -> dict[str, dict[str, int]]:
    """Per group, the counts `render_diff` puts in parentheses: `(1 create, 4 ignore)`."""
    out: dict[str, dict[str, int]] = {}
    for group, u in updates.items():
        out[group] = {
            word: n
            for word, n in (
                ("create", u.place),
                ("destroy", u.stop),
                ("migrate", u.migrate),
                ("in-place update", u.in_place_update),
                ("create/destroy update", u.destructive_update),
                ("canary", u.canary),
                ("ignore", u.ignore),
            )
            if n
        }
    return out


def render_plan(
    diff: JobDiff | None, updates: dict[str, DesiredUpdates], failed: dict[str, AllocMetric]
) -> str:
    parts = []
    if diff is not None:
        text = render_diff(diff, group_counts=group_counts(updates))
        if text.strip():
            parts.append(text.rstrip("\n"))
    parts.append("\n".join(scheduler_dry_run(failed)))
    return "\n\n".join(parts)
