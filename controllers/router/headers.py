"""What the router does to the heads passing through it (review L4, docs/security.md): the
request head a backend sees, and the header lines of the response the client sees.

Hop-by-hop headers, and those a `Connection` header names, stop at the router both ways. On
the request side the router reads the headers that frame and route the request (`Host`,
`Content-Length`, `Transfer-Encoding`), sets `X-Forwarded-*`, `X-Real-Ip` and `Forwarded`
itself, and applies a route's `strip=`, `prepend=` and `host=`. Plain functions, bound at
import by their callers (`Downstream` when a request's headers end, `Exchange` when a
response's do), so that calling one costs what the method it was cost, and no more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from controllers.router.limits import Refused
from controllers.router.table import rewrite_path

if TYPE_CHECKING:
    from controllers.router.exchange import Exchange
    from controllers.router.limits import Limits
    from controllers.router.table import Route

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-authenticate",
    }
)
# never dropped because a client's `Connection` header names them: the framing and routing depend on them
KEEP = frozenset({b"host", b"content-length"})
# set by the router, never passed as the client sent them: X-Real-Ip and Forwarded as Fabio
# sets them (the client's address), except that a client's Forwarded is replaced, not kept
# (review L4); X-Forwarded-For is the one list a client may extend
OURS = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-real-ip", b"forwarded"})
# the forwarded head of a request on a route without options (most of them), in one formatting
PLAIN_HEAD = (
    b"%b %b HTTP/1.1\r\n%bX-Forwarded-For: %b\r\nX-Forwarded-Proto: %b\r\nX-Forwarded-Host: %b\r\n"
    b'%b; host="%b"\r\n\r\n'
)
ROUTER_HEADERS = OURS | {b"content-length"}  # read by the router (`router_header`)


def connection_tokens(value: bytes) -> set[bytes]:
    """Header names listed in a `Connection` header (RFC 9110 7.6.1): hop-by-hop too."""
    return {t.strip().lower() for t in value.split(b",") if t.strip()}


def client_head(ip: bytes, scheme: bytes) -> bytes:
    """`X-Real-Ip` and the start of `Forwarded` (RFC 7239: an IPv6 address is quoted in
    brackets) for a client connection, as Fabio sets them; `; host=...` follows per request."""
    node = b'"[' + ip + b']"' if b":" in ip else ip
    return b"X-Real-Ip: " + ip + b"\r\nForwarded: for=" + node + b"; proto=" + scheme


def quoted(host: bytes) -> bytes:
    """The Host as the inside of an RFC 7239 quoted-string: a client's quote cannot end it
    early and add parameters (`for=`) of its own."""
    if b'"' in host or b"\\" in host:
        return host.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    return host


# request side ----------------------------------------------------------------------------
def frame(ex: Exchange, limits: Limits) -> None:
    """Read the request's framing and the headers that are the router's business, and keep
    the lines every backend will see (the hop-by-hop ones and those the client's
    `Connection` names are dropped). Runs when the headers end, before any body byte."""
    drop: set[bytes] = set()
    upgrade = b""
    lines: list[tuple[bytes, bytes]] = []
    for name, value in ex.headers:
        low = name.lower()
        if low == b"host":  # in every request: read here, not in router_header
            ex.host = value
            lines.append((low, name + b": " + value + b"\r\n"))
        elif low in HOP_BY_HOP:
            upgrade = hop_by_hop(ex, low, value, drop) or upgrade
        elif low in ROUTER_HEADERS:
            if router_header(ex, low, value, limits):
                lines.append((low, name + b": " + value + b"\r\n"))
        else:
            lines.append((low, name + b": " + value + b"\r\n"))
    drop -= KEEP
    ex.fwd = [line for low, line in lines if low not in drop] if drop else [line for _, line in lines]
    ex.upgrade = ex.upgrade and bool(upgrade)
    if ex.upgrade:  # WebSocket and the like: the two headers that ask for it go through
        ex.fwd += [b"Connection: Upgrade\r\n", b"Upgrade: " + upgrade + b"\r\n"]
        ex.keep_alive = False  # unless the backend switches, the connection ends with its answer


def hop_by_hop(ex: Exchange, low: bytes, value: bytes, drop: set[bytes]) -> bytes:
    """A hop-by-hop header: never forwarded, but it frames the body (`Transfer-Encoding`),
    names more headers to drop (`Connection`) or asks to switch protocols; returns the
    `Upgrade` header's value ("" for the others)."""
    if low == b"transfer-encoding":
        if value.strip().lower() != b"chunked":
            raise Refused(501, f"transfer coding {value.decode('latin-1')!r} is not supported")
        ex.chunked = ex.has_body = True
    elif low == b"connection":
        tokens = connection_tokens(value)
        drop |= tokens
        ex.upgrade = ex.upgrade or b"upgrade" in tokens
    elif low == b"upgrade":
        return value
    return b""


def router_header(ex: Exchange, low: bytes, value: bytes, limits: Limits) -> bool:
    """`Content-Length` and the `X-Forwarded-*` the router sets itself: read;
    True when the header is forwarded as it came."""
    if low == b"content-length":
        length = int(value)  # llhttp has checked it: digits, and only one
        ex.has_body = length > 0
        if limits.max_body and length > limits.max_body:
            raise Refused(413, f"request body larger than {limits.max_body} bytes")
        return True
    if low == b"x-forwarded-for":  # several are one list (RFC 9110 5.3)
        ex.xff = ex.xff + b", " + value if ex.xff else value
    return False


def head_for(ex: Exchange, route: Route, xff: bytes, scheme: bytes, client: bytes) -> bytes:
    """The request head a route with options (or a chunked or HTTP/1.0 request) sends;
    `client` is the connection's `client_head`. (A plain route's is `PLAIN_HEAD`, formatted
    inline by `Downstream.start`.)"""
    url = ex.url
    if route.strip or route.prepend:
        path, sep, query = url.partition(b"?")
        url = rewrite_path(route, path.decode("latin-1")).encode("latin-1") + sep + query
    lines = [ex.method + b" " + url + b" HTTP/1.1\r\n"]
    if route.host_header:  # `host=`: the Host header the instance sees (`dst`: added per instance)
        lines += [line for line in ex.fwd if line[:5].lower() != b"host:"]
        if route.host_header != "dst":
            lines.append(b"Host: " + route.host_header.encode("latin-1") + b"\r\n")
    else:
        lines += ex.fwd
        if not ex.host:  # an HTTP/1.0 request; HTTP/1.1 backends need one
            lines.append(b"Host: " + route.service.encode() + b"\r\n")
    if ex.chunked:
        lines.append(b"Transfer-Encoding: chunked\r\n")
    lines.append(b"X-Forwarded-For: " + xff + b"\r\nX-Forwarded-Proto: " + scheme + b"\r\n")
    if ex.host:
        lines.append(b"X-Forwarded-Host: " + ex.host + b"\r\n")
    lines.append(client + (b'; host="' + quoted(ex.host) + b'"' if ex.host else b"") + b"\r\n\r\n")
    return b"".join(lines)


# response side ---------------------------------------------------------------------------
def forwarded_lines(ex: Exchange, headers: list[tuple[bytes, bytes]], no_body: bool) -> list[bytes]:
    """The response's header lines the client sees (hop-by-hop ones and those named in
    `Connection` removed); sets how the body is framed for the client (`ex.framed`,
    `ex.resp_chunked`)."""
    drop = set(HOP_BY_HOP)
    chunked = length = False
    for name, value in headers:
        low = name.lower()
        if low == b"connection":
            drop |= connection_tokens(value)
        elif low == b"transfer-encoding":
            chunked = value.rsplit(b",", 1)[-1].strip().lower() == b"chunked"
        elif low == b"content-length":
            length = True
    chunked = chunked and not no_body
    if chunked:
        drop.add(b"content-length")
    lines = [name + b": " + value for name, value in headers if name.lower() not in drop]
    ex.framed = no_body or length
    if chunked:
        ex.resp_chunked = ex.framed = ex.client_11  # an HTTP/1.0 client knows no chunks:
        if ex.client_11:  # the end of the connection frames the body for it
            lines.append(b"Transfer-Encoding: chunked")
    return lines
