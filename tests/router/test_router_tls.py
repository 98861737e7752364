"""The router's listener over TLS (`--router-tls-cert`/`--router-tls-key`, and
`--router-tls-ca` for client certificates): a real TLS client through the router to a plain
HTTP backend registered in a real etcd catalog, in one process and with worker processes
(which build their context from the same files), and the command's flags."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from controllers.router import Router
from reconciler.model.tls import TlsFiles
from reconciler.store import Store
from tests.router.backend import Backend
from tests.router.catalog import get, register, targets
from tests.security.certs import Authority, Pair
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    d = tmp_path / "pki"
    d.mkdir()
    return Authority(d)


@pytest.fixture
def backend() -> Iterator[Backend]:
    with Backend("a") as a:
        yield a


def client(ca: Authority, pair: Pair | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca.path))
    if pair is not None:
        ctx.load_cert_chain(pair.cert, pair.key)
    return ctx


def tls_router(store: Store, ca: Authority, *, mutual: bool = False, workers: int = 1) -> Router:
    pair = ca.issue("router")
    r = Router(
        store,
        port=0,
        admin_port=None,
        workers=workers,
        tls=TlsFiles(pair.cert, pair.key, ca.path if mutual else None, flag="--router-tls"),
    )
    r.start()
    return r


@pytest.mark.parametrize("workers", [1, 2])
def test_https_client_through_the_router(store, ca, backend, workers: int) -> None:
    register(store, backend, "alloc-a", ["urlprefix-/web"], check=None)
    r = tls_router(store, ca, workers=workers)
    try:
        wait_for(lambda: targets(r) == 1, message="the route")
        # fresh connections land on either process (SO_REUSEPORT); each does the handshake
        for _ in range(4 * workers):
            conn = http.client.HTTPSConnection("127.0.0.1", r.bound_port, timeout=10, context=client(ca))
            for _ in range(3):  # keep-alive, and the repeated request's fast path, inside TLS
                status, body = get(conn, "/web/x?y=1")
                assert status == 200
                data = json.loads(body)
                assert (data["backend"], data["path"], data["xfproto"]) == ("a", "/web/x?y=1", "https")
            assert get(conn, "/nothing")[0] == 404
            conn.close()
        # a client that does not trust the router's CA refuses it
        with pytest.raises(ssl.SSLCertVerificationError):
            get(http.client.HTTPSConnection("127.0.0.1", r.bound_port, timeout=10), "/web")
        # and plain HTTP on the TLS port is not served
        plain = http.client.HTTPConnection("127.0.0.1", r.bound_port, timeout=10)
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            get(plain, "/web")
    finally:
        r.stop()


def test_client_certificates_with_a_ca(store, ca, backend) -> None:
    register(store, backend, "alloc-a", ["urlprefix-/web"], check=None)
    r = tls_router(store, ca, mutual=True)
    try:
        wait_for(lambda: targets(r) == 1, message="the route")
        ok = http.client.HTTPSConnection(
            "127.0.0.1", r.bound_port, timeout=10, context=client(ca, ca.issue("someone"))
        )
        assert get(ok, "/web")[0] == 200
        ok.close()
        (ca.dir / "other").mkdir()
        other = Authority(ca.dir / "other", name="other-ca")
        for ctx in (client(ca), client(ca, other.issue("stranger"))):  # none, or from another CA
            conn = http.client.HTTPSConnection("127.0.0.1", r.bound_port, timeout=10, context=ctx)
            with pytest.raises((ssl.SSLError, ConnectionError)):
                get(conn, "/web")
    finally:
        r.stop()


def run_router(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "reconciler.cli.main", "router", "--etcd", "http://127.0.0.1:1", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_router_cmd_needs_both_files(ca) -> None:
    pair = ca.issue("router")
    out = run_router("--router-tls-cert", str(pair.cert))
    assert out.returncode == 2
    assert "TLS needs both --router-tls-cert and --router-tls-key" in out.stderr
    out = run_router("--router-tls-ca", str(ca.path))
    assert out.returncode == 2
    assert "--router-tls-ca (client certificates) needs --router-tls-cert and --router-tls-key" in out.stderr
