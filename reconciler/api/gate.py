"""The HTTP API's gate: which requests reach a handler at all.

Without it any web page a developer opens can drive the agent: a browser sends a
cross-origin `text/plain` form POST without asking first (a CORS "simple request"), and
DNS rebinding makes a foreign page same-origin with the agent. The gate closes both, the
way `kubectl proxy --accept-hosts`, geth's `--http.vhosts` and Jupyter do:

- every request's `Host` must name this agent (localhost, 127.0.0.1, ::1, the bind address,
  the address the connection arrived on, the host name, or a name given with
  `--allowed-hosts`), with the port it listens on, so a rebound name gets a 403;
- a request carrying an `Origin` is served only when that origin is the agent's own (the
  UI) or listed with `--allowed-origins`; only those get CORS headers and preflights;
- requests that change state (POST, PUT, DELETE, PATCH) must send
  `Content-Type: application/json`, or no body at all. Every form encoding a browser can
  send without a preflight (`text/plain`, `application/x-www-form-urlencoded`,
  `multipart/form-data`) is refused; the UI itself sends JSON.

Every response also forbids framing (`X-Frame-Options`, CSP `frame-ancestors`), so the
UI's buttons cannot be clickjacked. Refusals are plain text, as Nomad answers them, naming
what was refused and the flag that would allow it.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MUTATING = frozenset({"POST", "PUT", "DELETE", "PATCH"})
JSON_TYPES = frozenset({"application/json"})
LOOPBACK = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("", "0.0.0.0", "::")
CORS_METHODS = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"
CORS_HEADERS = "Content-Type, X-Nomad-Token, Authorization"
# every header a read answers that a page may need to read (`views.answer`, `views.nomad_headers`)
CORS_EXPOSE = "X-Nomad-Index, X-Nomad-KnownLeader, X-Nomad-LastContact, X-Nomad-NextToken"
CORS_KEY = web.RequestKey("gate.cors_origin", str)


@dataclass(frozen=True)
class GateSettings:
    """What the agent accepts besides its own names; built from `reconciler agent` flags."""

    bind: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()  # "name" (any port) or "name:port"
    allowed_origins: tuple[str, ...] = ()  # "scheme://host[:port]", compared exactly
    own_names: tuple[str, ...] = field(default_factory=lambda: (socket.gethostname().lower(),))
    # the Consul face takes raw KV values (`curl -X PUT --data`): its writes are PUT and
    # DELETE, which no web page can send cross-origin without a preflight the Origin check
    # refuses, so only POST keeps the JSON rule there
    json_methods: frozenset[str] = field(default_factory=lambda: frozenset(MUTATING))


class GateRefusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def split_host(value: str) -> tuple[str, int | None]:
    """`name[:port]` (IPv6 in brackets) -> (lower-case name, port or None); ValueError if malformed."""
    parts = urlsplit("//" + value.strip())
    if parts.hostname is None or parts.username is not None or parts.path or parts.query:
        raise ValueError(f"{value!r} is not a host[:port]")
    return parts.hostname.lower(), parts.port


def normalize_origin(value: str) -> str:
    """`scheme://host[:port]` in the form a browser sends it; ValueError for anything else."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"{value!r} is not an origin (expected http://host[:port] or https://host[:port])")
    if parts.query or parts.fragment or parts.username is not None:
        raise ValueError(f"{value!r} is not an origin (no path, query or user allowed)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port is not None else "")


def _local(request: web.Request) -> tuple[str, int]:
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sock, tuple) and len(sock) >= 2:
        return str(sock[0]).lower(), int(sock[1])
    return "", 0


def host_allowed(settings: GateSettings, name: str, port: int | None, local_ip: str, local_port: int) -> bool:
    """Own names must carry the port the agent listens on (no port means 80 or 443, as a
    browser omits the default); `--allowed-hosts` entries say their own port or none."""
    for entry in settings.allowed_hosts:
        e_name, e_port = split_host(entry)
        if e_name == name and (e_port is None or e_port == port):
            return True
    own = {*LOOPBACK, *settings.own_names, local_ip}
    if settings.bind not in WILDCARD_BINDS:
        own.add(settings.bind.lower())
    if name not in own:
        return False
    return port == local_port if port is not None else local_port in (80, 443)


def origin_allowed(settings: GateSettings, origin: str, local_ip: str, local_port: int) -> bool:
    try:
        norm = normalize_origin(origin)
    except ValueError:
        return False  # "null" (sandboxed frames, file://) and anything malformed
    if norm in {normalize_origin(o) for o in settings.allowed_origins}:
        return True
    name, port = split_host(urlsplit(norm).netloc)
    if port is None:
        port = 443 if norm.startswith("https:") else 80
    return host_allowed(settings, name, port, local_ip, local_port)


def check(settings: GateSettings, request: web.Request) -> str | None:
    """Raise GateRefusal for a request the agent must not serve; return the origin to grant
    CORS to, if any."""
    local_ip, local_port = _local(request)
    host = request.headers.get(hdrs.HOST, "")
    if not host:
        raise GateRefusal(400, "Request has no Host header; this agent only answers requests addressed to it")
    try:
        name, port = split_host(host)
    except ValueError:
        raise GateRefusal(400, f"Request Host {host!r} is malformed") from None
    if not host_allowed(settings, name, port, local_ip, local_port):
        raise GateRefusal(
            403,
            f"Forbidden: Host {host!r} is not an address of this agent (DNS rebinding is refused); "
            "start the agent with --allowed-hosts to accept another name",
        )
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is not None and not origin_allowed(settings, origin, local_ip, local_port):
        raise GateRefusal(
            403,
            f"Forbidden: Origin {origin!r} is not allowed to call this agent; "
            "start the agent with --allowed-origins to allow it",
        )
    if request.method in settings.json_methods:
        ctype = request.headers.get(hdrs.CONTENT_TYPE)
        if ctype is None:
            if request.body_exists:
                raise GateRefusal(
                    415,
                    f"{request.method} {request.path} has a body but no Content-Type; send application/json",
                )
        elif request.content_type not in JSON_TYPES:
            raise GateRefusal(
                415,
                f"{request.method} {request.path} needs Content-Type: application/json (got {ctype!r}); "
                "form encodings are refused because any web page can send them",
            )
    return origin


def _cors(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": CORS_EXPOSE,
        "Vary": "Origin",
    }


def gate_middleware(settings: GateSettings) -> Middleware:
    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            origin = check(settings, request)
        except GateRefusal as exc:
            return web.Response(status=exc.status, text=exc.message + "\n", content_type="text/plain")
        if origin is None:
            return await handler(request)
        if request.method == "OPTIONS" and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers:
            return web.Response(
                status=204,
                headers={
                    **_cors(origin),
                    "Access-Control-Allow-Methods": CORS_METHODS,
                    "Access-Control-Allow-Headers": CORS_HEADERS,
                    "Access-Control-Max-Age": "600",
                },
            )
        request[CORS_KEY] = origin
        return await handler(request)

    return gate


async def add_cors(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook: streamed responses (log follow) are prepared inside the
    handler, before the middleware sees them, so CORS headers are added here. Every response
    also forbids framing, so no page can overlay the UI's buttons (clickjacking, review L3)."""
    origin = request.get(CORS_KEY)
    if origin:
        response.headers.update(_cors(origin))
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
