"""The API's error type, its JSON rendering (`{"error": message, "field": field}`), and the
one table that turns an operation's refusal into an HTTP status."""

from __future__ import annotations

import json

from aiohttp import web

from reconciler.deployments.rules import DeploymentError
from reconciler.ops.errors import IndexMismatch, NotFound, Rejected
from reconciler.store import Conflict, InvalidKey, Unavailable


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, *, field: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}

    def response(self) -> web.Response:
        body = {"error": self.message}
        if self.field:
            body["field"] = self.field
        return web.Response(
            status=self.status, text=json.dumps(body), content_type="application/json", headers=self.headers
        )


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"{what} not found: {ident}")


# What an operation raises, as the client sees it. Raised by any handler, rendered by the
# error middleware, so no handler translates them by hand.
OPERATION_ERRORS = (NotFound, Rejected, DeploymentError, IndexMismatch, Conflict, Unavailable, InvalidKey)

# etcd away: the store gave up retrying (its retry_for), so the API answers at once and
# keeps nothing back: a write it answers 503 to is not held to be sent later (though one
# whose answer etcd lost as it went away may have applied, hence "may not")
UNAVAILABLE = "the cluster's state store (etcd) is unavailable; retry when it is back. {detail}"


def translate(exc: Exception) -> ApiError:
    """The `ApiError` for one of OPERATION_ERRORS."""
    if isinstance(exc, NotFound):
        return ApiError(404, str(exc))
    if isinstance(exc, Rejected):
        return ApiError(400, str(exc), field=exc.field)
    if isinstance(exc, DeploymentError):
        return ApiError(400, str(exc))
    if isinstance(exc, IndexMismatch):
        return ApiError(409, str(exc), field="JobModifyIndex")
    if isinstance(exc, InvalidKey):  # an id in the path or the body no key can hold
        return ApiError(400, str(exc))
    if isinstance(exc, Unavailable):
        return ApiError(503, UNAVAILABLE.format(detail=exc), headers={"Retry-After": "1"})
    return ApiError(409, str(exc))
