"""The API's error type, its JSON rendering (`{"error": message, "field": field}`), and the
one table that turns an operation's refusal into an HTTP status."""

from __future__ import annotations

import json

from aiohttp import web

from reconciler.deployments.rules import DeploymentError
from reconciler.ops.errors import IndexMismatch, NotFound, Rejected
from reconciler.store import Conflict


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def response(self) -> web.Response:
        body = {"error": self.message}
        if self.field:
            body["field"] = self.field
        return web.Response(status=self.status, text=json.dumps(body), content_type="application/json")


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"{what} not found: {ident}")


# What an operation raises, as the client sees it. Raised by any handler, rendered by the
# error middleware, so no handler translates them by hand.
OPERATION_ERRORS = (NotFound, Rejected, DeploymentError, IndexMismatch, Conflict)


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
    return ApiError(409, str(exc))
