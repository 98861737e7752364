"""TLS for a listener: the agent's HTTP listeners (the API and the Consul face), Nomad's `tls`
block as flags: `--tls-cert`/`--tls-key` serve HTTPS; `--tls-ca` also requires every client to
present a certificate signed by that CA (mutual TLS, Nomad's `verify_https_client`), which
is how agents, the CLI and tools prove they belong to the cluster. The router's listener
takes the same three files (`--router-tls-cert`, ...). Here, below both the agent and the
controllers, so that the router (a controller) builds its context the same way."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    flag: str = field(default="--tls", compare=False)  # the flags' prefix, for the errors

    def __post_init__(self) -> None:
        f = self.flag
        if (self.cert is None) != (self.key is None):
            raise ValueError(f"TLS needs both {f}-cert and {f}-key")
        if self.ca is not None and self.cert is None:
            raise ValueError(f"{f}-ca (client certificates) needs {f}-cert and {f}-key")

    @property
    def enabled(self) -> bool:
        return self.cert is not None


def server_context(files: TlsFiles) -> ssl.SSLContext | None:
    """The listeners' context (None: plain HTTP). TLS 1.2 at least; with a CA, a client
    without a certificate from it is refused during the handshake."""
    if files.cert is None or files.key is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(files.cert, files.key)
    if files.ca is not None:
        ctx.load_verify_locations(cafile=str(files.ca))
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
