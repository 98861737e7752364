"""The API's error type and its JSON rendering: `{"error": message, "field": field}`."""

from __future__ import annotations

import json

from aiohttp import web


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
