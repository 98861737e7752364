"""How the store authenticates to an external etcd: TLS (a CA to verify etcd, and a client
certificate for etcd's `--client-cert-auth`) and etcd's own users (`user`/`password`).

Review finding C2: etcd is the control plane, and whoever can write to it runs code on
every node, so an etcd that other machines reach must require one or both. The embedded
etcd of `agent -dev` listens on 127.0.0.1 only and uses neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EtcdAuth:
    ca_cert: Path | None = None  # verify etcd's certificate (https endpoints)
    cert: Path | None = None  # client certificate, with `key`
    key: Path | None = None
    user: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("an etcd client certificate needs both --etcd-cert and --etcd-key")
        if self.cert is not None and self.ca_cert is None:
            raise ValueError("an etcd client certificate needs --etcd-cacert to verify etcd")
        if (self.user is None) != (self.password is None):
            raise ValueError("etcd authentication needs both a user and a password")

    @property
    def tls(self) -> bool:
        return self.ca_cert is not None

    def client_kwargs(self) -> dict[str, Any]:
        """python-etcd3's `client()` arguments."""
        return {
            "ca_cert": str(self.ca_cert) if self.ca_cert else None,
            "cert_cert": str(self.cert) if self.cert else None,
            "cert_key": str(self.key) if self.key else None,
            "user": self.user,
            "password": self.password,
        }

    def __repr__(self) -> str:  # never print the password
        return f"EtcdAuth(ca_cert={self.ca_cert}, cert={self.cert}, user={self.user})"
