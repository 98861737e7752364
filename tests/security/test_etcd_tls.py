"""The store against an etcd that requires TLS client certificates and, optionally, etcd
users (review finding C2): `EtcdAuth` connects, a client without the certificate or with
a wrong password is refused, and an agent started with `--etcd-cacert/--etcd-cert/
--etcd-key` runs against it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.agent.etcd_process import etcd_binary
from reconciler.store import EtcdAuth, Store, StoreError
from tests.agent.harness import BIN, AgentProcess
from tests.ports import free_port
from tests.security.certs import Authority, Pair
from tests.waiting import wait_for


@dataclass
class SecureEtcd:
    endpoint: str
    ca: Authority
    client: Pair
    proc: subprocess.Popen[bytes]

    def auth(self, **kw: object) -> EtcdAuth:
        return EtcdAuth(ca_cert=self.ca.path, cert=self.client.cert, key=self.client.key, **kw)  # type: ignore[arg-type]

    def etcdctl(self, *args: str) -> str:
        out = subprocess.run(
            [str(BIN / "etcdctl"), "--endpoints", self.endpoint, "--cacert", str(self.ca.path),
             "--cert", str(self.client.cert), "--key", str(self.client.key), *args],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return out.stdout


@pytest.fixture
def secure_etcd(tmp_path: Path) -> Iterator[SecureEtcd]:
    pki = tmp_path / "pki"
    pki.mkdir()
    ca = Authority(pki)
    server = ca.issue("etcd")
    port, peer = free_port(), free_port()
    client_url, peer_url = f"https://127.0.0.1:{port}", f"http://127.0.0.1:{peer}"
    args = [
        etcd_binary(), "--name", "secure", "--data-dir", str(tmp_path / "etcd"),
        "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
        "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
        "--initial-cluster", f"secure={peer_url}", "--log-level", "warn",
        "--cert-file", str(server.cert), "--key-file", str(server.key),
        "--client-cert-auth", "--trusted-ca-file", str(ca.path),
    ]  # fmt: skip
    with open(tmp_path / "etcd.log", "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    etcd = SecureEtcd(client_url, ca, ca.issue("root"), proc)
    probe = Store([client_url], auth=etcd.auth(), retry_for=0.5)

    def up() -> bool:
        try:
            probe.ping()
        except StoreError:
            return False
        return True

    try:
        wait_for(up, timeout=20, message="the TLS etcd to answer")
    finally:
        probe.close()
    yield etcd
    proc.terminate()
    proc.wait(10)


def test_the_store_connects_with_a_client_certificate(secure_etcd: SecureEtcd) -> None:
    store = Store([secure_etcd.endpoint], prefix="/tls/", auth=secure_etcd.auth())
    try:
        store.put("/tls/k", {"v": 1})
        got = store.get("/tls/k", dict)
        assert got is not None
        assert got.value == {"v": 1}
    finally:
        store.close()


def test_no_certificate_no_store(secure_etcd: SecureEtcd) -> None:
    store = Store([secure_etcd.endpoint], auth=EtcdAuth(ca_cert=secure_etcd.ca.path), retry_for=0.5)
    try:
        with pytest.raises(StoreError):
            store.ping()
    finally:
        store.close()


def test_etcd_users_and_passwords(secure_etcd: SecureEtcd) -> None:
    secure_etcd.etcdctl("user", "add", "root", "--new-user-password", "s3cret")
    secure_etcd.etcdctl("auth", "enable")
    good = Store(
        [secure_etcd.endpoint], prefix="/tls/", auth=secure_etcd.auth(user="root", password="s3cret")
    )
    bad = Store([secure_etcd.endpoint], auth=secure_etcd.auth(user="root", password="wrong"), retry_for=0.5)
    try:
        good.put("/tls/k", {"v": 2})
        assert good.get("/tls/k", dict) is not None
        with pytest.raises(StoreError):
            bad.ping()
    finally:
        good.close()
        bad.close()
    assert "s3cret" not in repr(secure_etcd.auth(user="root", password="s3cret"))


def test_an_agent_runs_against_the_tls_etcd(secure_etcd: SecureEtcd, tmp_path: Path) -> None:
    a = AgentProcess(
        tmp_path / "agent",
        mode=["-server", "-client", "--raw-exec"],
        etcd=secure_etcd.endpoint,
        extra_args=["--etcd-cacert", str(secure_etcd.ca.path),
                    "--etcd-cert", str(secure_etcd.client.cert), "--etcd-key", str(secure_etcd.client.key)],
    )  # fmt: skip
    a.start()
    try:
        wait_for(lambda: len(a.get("/v1/nodes")) == 1, timeout=20, message="the node to register over TLS")
    finally:
        a.stop()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"cert": Path("c")}, "both --etcd-cert and --etcd-key"),
        ({"cert": Path("c"), "key": Path("k")}, "needs --etcd-cacert"),
        ({"user": "u"}, "both a user and a password"),
    ],
)
def test_incomplete_credentials_are_refused(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EtcdAuth(**kw)  # type: ignore[arg-type]
