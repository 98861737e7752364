"""The one table from an operation's refusal to an HTTP status (a pure function)."""

from __future__ import annotations

import pytest

from reconciler.api.errors import translate
from reconciler.deployments import DeploymentError
from reconciler.ops.errors import IndexMismatch, InvalidIdentifier, JobNotFound, NodeNotFound, Rejected
from reconciler.store import Conflict, InvalidKey


@pytest.mark.parametrize(
    ("exc", "status", "field"),
    [
        (JobNotFound("job not found: web"), 404, ""),
        (NodeNotFound("node not found: n1"), 404, ""),
        (Rejected("no such group", field="Target.Group"), 400, "Target.Group"),
        (InvalidIdentifier("Job.ID", "a/b"), 400, "Job.ID"),
        (DeploymentError("not running"), 400, ""),
        (IndexMismatch("changed"), 409, "JobModifyIndex"),
        (Conflict("still changing"), 409, ""),
        (InvalidKey("invalid deployment id '.'"), 400, ""),
    ],
    ids=[
        "job not found",
        "node not found",
        "rejected with field",
        "invalid id",
        "deployment rule",
        "check-index",
        "lost race",
        "no key can hold the id",
    ],
)
def test_operation_errors_become_statuses(exc: Exception, status: int, field: str) -> None:
    err = translate(exc)
    assert (err.status, err.field, err.message) == (status, field, str(exc))
