"""What a user operation refuses with. The API turns these into HTTP statuses in one table
(`reconciler.api.errors.translate`); the specs watcher logs them."""

from __future__ import annotations

from typing import Any


class NotFound(LookupError):
    """The object the operation names does not exist."""


class JobNotFound(NotFound):
    """No job with that namespace and id."""


class DeploymentNotFound(NotFound):
    """No deployment with that id."""


class AllocNotFound(NotFound):
    """No allocation with that id."""


class NodeNotFound(NotFound):
    """No node with that id."""


class Rejected(ValueError):
    """The request is well formed but the object's state does not allow it; `field` names
    the part of the request at fault, if one is."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class InvalidIdentifier(Rejected):
    """An id that cannot become an etcd key or a path."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(
            f"{field}: {value!r} is not a valid identifier (letters, digits, '-', '_', '.')", field=field
        )


class InvalidJob(Rejected):
    """The job breaks a rule of `reconciler.spec.validate`. Every write path (register,
    scale, revert, the specs watcher) runs the same check, so none can store a job the text
    loader would refuse (review finding M1)."""

    def __init__(self, issues: list[Any]) -> None:
        super().__init__(
            "; ".join(str(i).removeprefix("<input>: ") for i in issues),
            field=issues[0].path if issues else "Job",
        )
        self.issues = issues


class IndexMismatch(RuntimeError):
    """`-check-index` was given and the job changed (or appeared) since that index."""
