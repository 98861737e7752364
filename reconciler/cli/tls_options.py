"""The TLS and etcd-authentication flags the process entry points share (`agent`,
`router`): one definition, so both spell and document them the same way. Values come
back as plain paths and strings; the entry points build the store's `EtcdAuth` (the CLI's
client commands never open the store)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

_FILE = click.Path(path_type=Path, exists=True, dir_okay=False)

ETCD_OPTIONS = [
    click.option(
        "--etcd-cacert", type=_FILE, default=None, help="CA that signed the external etcd's certificate."
    ),
    click.option(
        "--etcd-cert", type=_FILE, default=None, help="Client certificate for etcd (--client-cert-auth)."
    ),
    click.option("--etcd-key", type=_FILE, default=None, help="Key of --etcd-cert."),
    click.option("--etcd-user", default=None, help="etcd user (etcd's own authentication)."),
    click.option(
        "--etcd-password",
        envvar="RECONCILER_ETCD_PASSWORD",
        default=None,
        help="Password of --etcd-user (better: the RECONCILER_ETCD_PASSWORD variable).",
    ),
]

TLS_OPTIONS = [
    click.option(
        "--tls-cert",
        "-tls-cert",
        type=_FILE,
        default=None,
        help="Serve the API over HTTPS with this certificate.",
    ),
    click.option("--tls-key", "-tls-key", type=_FILE, default=None, help="Key of --tls-cert."),
    click.option(
        "--tls-ca",
        "-tls-ca",
        type=_FILE,
        default=None,
        help="Require client certificates signed by this CA (mutual TLS).",
    ),
]


ROUTER_TLS_OPTIONS = [
    click.option(
        "--router-tls-cert",
        "-router-tls-cert",
        type=_FILE,
        default=None,
        help="Serve the router's port over HTTPS with this certificate.",
    ),
    click.option(
        "--router-tls-key", "-router-tls-key", type=_FILE, default=None, help="Key of --router-tls-cert."
    ),
    click.option(
        "--router-tls-ca",
        "-router-tls-ca",
        type=_FILE,
        default=None,
        help="Require the router's clients to present certificates signed by this CA.",
    ),
]


def with_options(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def apply(f: F) -> F:
        for opt in reversed(options):
            f = opt(f)
        return f

    return apply


etcd_options = with_options(ETCD_OPTIONS)
tls_options = with_options(TLS_OPTIONS)
router_tls_options = with_options(ROUTER_TLS_OPTIONS)
