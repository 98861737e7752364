"""A small HTTP client for the agent's API, used by every CLI command.

An unreachable agent is one clear line and exit 1; an API error prints the API's message.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, NoReturn

import click


class ApiClientError(Exception):
    def __init__(self, status: int, message: str, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


class ApiClient:
    def __init__(self, address: str, *, timeout: float = 30.0) -> None:
        self.address = address.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, *, params: dict[str, Any] | None = None) -> Any:
        url = self.address + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                err = json.loads(raw)
                raise ApiClientError(exc.code, err.get("error", raw.decode()), err.get("field", "")) from None
            except (ValueError, AttributeError):
                raise ApiClientError(exc.code, raw.decode(errors="replace").strip()) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            fail(f"Error: cannot reach the reconciler agent at {self.address}: {reason}")
        return json.loads(raw) if raw else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("POST", path, body, params=params or None)

    def put(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("PUT", path, body, params=params or None)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params or None)


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def client_from(ctx: click.Context) -> ApiClient:
    root = ctx.find_root()
    return ApiClient(root.obj["address"] if root.obj else "http://127.0.0.1:4646")
