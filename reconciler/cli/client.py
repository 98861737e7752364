"""The one HTTP client for the agent's API, used by every CLI command.

Every read and write goes through `ApiClient`: JSON calls (`get`/`post`/`put`/`delete`),
plain bytes (`raw`, e.g. logs) and chunked streams (`stream`, `alloc logs -f`), each with the
ACL token of `-token`/`RECONCILER_TOKEN`/`NOMAD_TOKEN` if one is given. There is one
error path: an unreachable agent is one clear line and exit 1; an API error raises
`ApiClientError`, which a command turns into its own wording with `api_errors("Error
submitting job")`, and which the root group reports as `Error: <message>` otherwise.
"""

from __future__ import annotations

import json
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import click


class ApiClientError(Exception):
    """The API answered with an error status; `message` is its `error` field."""

    def __init__(self, status: int, message: str, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _error_from(exc: urllib.error.HTTPError) -> ApiClientError:
    raw = exc.read()
    try:
        err = json.loads(raw)
        return ApiClientError(exc.code, err.get("error", raw.decode()), err.get("field", ""))
    except (ValueError, AttributeError):
        return ApiClientError(exc.code, raw.decode(errors="replace").strip())


@dataclass(frozen=True)
class TlsClient:
    """`-ca-cert`, `-client-cert`, `-client-key` (Nomad's flags and variables)."""

    ca_cert: str = ""
    client_cert: str = ""
    client_key: str = ""

    def context(self) -> ssl.SSLContext:
        """Verifies the agent with the given CA (the system's otherwise) and presents the
        client certificate, if any."""
        ctx = ssl.create_default_context(cafile=self.ca_cert or None)
        if self.client_cert:
            try:
                ctx.load_cert_chain(self.client_cert, self.client_key or None)
            except (OSError, ssl.SSLError) as exc:
                fail(f"Error loading the client certificate {self.client_cert}: {exc}")
        return ctx


class ApiClient:
    """`token`: the ACL secret sent as `X-Nomad-Token` on every call (none: anonymous);
    `tls`: how to verify an https agent and which certificate to present."""

    def __init__(
        self, address: str, *, timeout: float = 30.0, token: str = "", tls: TlsClient | None = None
    ) -> None:
        self.address = address.rstrip("/")
        self.timeout = timeout
        self.token = token.strip()
        try:
            self.ssl = (tls or TlsClient()).context() if self.address.startswith("https:") else None
        except (OSError, ssl.SSLError) as exc:
            fail(f"Error loading the CA certificate: {exc}")

    def headers(self) -> dict[str, str]:
        out = {"Content-Type": "application/json"}
        if self.token:
            out["X-Nomad-Token"] = self.token
        return out

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        url = self.address + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return url

    def _open(
        self, method: str, path: str, body: Any, params: dict[str, Any] | None, timeout: float | None
    ) -> Any:
        """The open response; `ApiClientError` on an error status, exit 1 when unreachable."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url(path, params), data=data, method=method, headers=self.headers())
        try:
            return urllib.request.urlopen(req, timeout=timeout, context=self.ssl)
        except urllib.error.HTTPError as exc:
            raise _error_from(exc) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            fail(f"Error: cannot reach the reconciler agent at {self.address}: {reason}")

    def raw(self, method: str, path: str, body: Any = None, *, params: dict[str, Any] | None = None) -> bytes:
        """The response body as bytes (logs, or JSON for `request`)."""
        with self._open(method, path, body, params, self.timeout) as resp:
            return bytes(resp.read())

    def stream(
        self, path: str, sink: Callable[[bytes], None], *, params: dict[str, Any] | None = None
    ) -> None:
        """GET `path` and hand each chunk to `sink` as it arrives, until the server ends the
        response (no timeout: a followed log may be quiet for hours)."""
        with self._open("GET", path, None, params, None) as resp:
            while chunk := resp.read1(65536):
                sink(chunk)

    def request(
        self, method: str, path: str, body: Any = None, *, params: dict[str, Any] | None = None
    ) -> Any:
        raw = self.raw(method, path, body, params=params)
        return json.loads(raw) if raw else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("POST", path, body, params=params or None)

    def put(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("PUT", path, body, params=params or None)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params or None)


def job_path(job_id: str, rest: str = "") -> str:
    """`/v1/job/<id><rest>` with the ID escaped: a launched child's `/`
    (`web/periodic-1700000000`) travels as `%2F`, as Nomad's clients send it."""
    return f"/v1/job/{urllib.parse.quote(job_id, safe='')}{rest}"


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


@contextmanager
def api_errors(prefix: str = "Error", code: int = 1) -> Iterator[None]:
    """Report an `ApiClientError` raised inside as `<prefix>: <message>` and exit `code`."""
    try:
        yield
    except ApiClientError as exc:
        fail(f"{prefix}: {exc.message}", code)


def client_from(ctx: click.Context) -> ApiClient:
    obj = ctx.find_root().obj or {}
    return ApiClient(
        obj.get("address", "http://127.0.0.1:4646"), token=obj.get("token", ""), tls=obj.get("tls")
    )
