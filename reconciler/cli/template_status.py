"""What `job status` adds for a periodic or parameterized job, as Nomad prints it: the
`Periodic`/`Parameterized` lines, `Next Periodic Launch`, and the children it launched."""

from __future__ import annotations

import time
from typing import Any

from reconciler.cli.client import ApiClient
from reconciler.cli.output import fmt_time, table
from reconciler.model.periodic import next_launch
from reconciler.spec import SpecError, job_from_nomad


def is_parameterized(info: dict[str, Any]) -> bool:
    return bool(info.get("ParameterizedJob")) and not info.get("Dispatched")


def template_fields(info: dict[str, Any], *, now: float | None = None) -> list[tuple[str, object]]:
    """The lines after `Status`: whether the job is periodic or parameterized and, for an
    enabled periodic job, its next launch."""
    lines: list[tuple[str, object]] = [
        ("Periodic", str(bool(info.get("Periodic"))).lower()),
        ("Parameterized", str(is_parameterized(info)).lower()),
    ]
    if not info.get("Periodic") or info.get("Stop"):
        return lines
    try:
        periodic = job_from_nomad(info).periodic
    except SpecError:
        return lines
    at = next_launch(periodic, time.time() if now is None else now) if periodic and periodic.enabled else None
    lines.append(("Next Periodic Launch", fmt_time(at * 1e9) if at is not None else "none"))
    return lines


def children_table(api: ApiClient, info: dict[str, Any], namespace: str) -> str:
    """`Previously Launched Jobs` (periodic) or `Dispatched Jobs` (parameterized); "" for
    another job."""
    if info.get("Periodic"):
        title = "Previously Launched Jobs"
    elif is_parameterized(info):
        title = "Dispatched Jobs"
    else:
        return ""
    kids = [j for j in api.get("/v1/jobs", namespace=namespace) if j.get("ParentID") == info.get("ID")]
    rows = [[j["ID"], j["Status"]] for j in sorted(kids, key=lambda j: str(j["ID"]))]
    return f"\n{title}\n" + (table(["ID", "Status"], rows) if rows else f"No {title.lower()}")
