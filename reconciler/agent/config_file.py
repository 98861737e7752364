"""The agent's configuration file (`reconciler agent -config agent.hcl`), in HCL with
Nomad's agent keys where they map, read into the values of `reconciler agent`'s options.

The CLI uses the result as click's `default_map`, so a flag given on the command line
overrides the file, and the file overrides the built-in defaults. An unknown key, or a
Nomad block we do not implement yet (`acl`, `telemetry`, `vault`, a client's
`host_volume`), is an error naming it: an agent must not start believing it has TLS or ACLs
it has not. docs/operations.md shows a full file.

    data_dir   = "/var/lib/reconciler"      # --data-dir
    bind_addr  = "10.0.0.5"                 # --bind
    name       = "host-a"                   # --node-name
    datacenter = "dc1"                      # --dc
    region     = "global"                   # --region
    log_level  = "INFO"                     # --log-level
    ports  { http = 4646 }                  # --http-port
    server { enabled = true  leader_ttl = 5 }                        # -server, --leader-ttl
    server { job_gc_threshold = "4h"  eval_gc_threshold = "1h"       # --job-gc-threshold ...
             deployment_gc_threshold = "1h"  node_gc_threshold = "24h" }
    client { enabled = true  meta { rack = "r1" }  node_pool = "prod"   # -client, --meta, --node-pool
             options = { "driver.raw_exec.enable" = "1" } }          # --raw-exec
    client { reserved { disk = 1024 } }                              # --reserved-disk (MB)
    client { chroot_env = { "/bin" = "/bin", "/usr" = "/usr" } }     # --exec-chroot-env
    plugin "raw_exec" { config { enabled = true } }                  # --raw-exec (Nomad 1.x form)
    etcd   { endpoints = ["http://10.0.0.1:2379"]  prefix = "/reconciler/" }   # --etcd, --prefix
    specs  { dir = "/etc/reconciler/specs" }                         # --specs
    consul { port = 8500 }                                           # --consul-port
    tls    { cert_file = "/etc/reconciler/agent.pem"                 # --tls-cert
             key_file  = "/etc/reconciler/agent-key.pem"             # --tls-key
             ca_file   = "/etc/reconciler/ca.pem"                    # --tls-ca (client certificates)
             router_cert_file = "/etc/reconciler/router.pem"         # --router-tls-cert
             router_key_file  = "/etc/reconciler/router-key.pem"     # --router-tls-key
             router_ca_file   = "/etc/reconciler/ca.pem" }           # --router-tls-ca
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import hcl2

from reconciler.spec.errors import SpecError
from reconciler.spec.hcl_syntax import parse_tree

NOT_YET = ("acl", "telemetry", "vault", "host_volume", "addresses", "advertise")


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the file and the key."""


def _flag(value: Any) -> bool:
    """Nomad writes booleans as HCL booleans or as the strings "1"/"true"."""
    return value is True or str(value).lower() in ("1", "true")


def _meta(value: Any) -> tuple[str, ...]:
    return tuple(f"{k}={v}" for k, v in _block(value).items())


def _block(value: Any) -> dict[str, Any]:
    """A block's body (python-hcl2 gives a list of one dict, marked `__is_block__`)."""
    body = value[0] if isinstance(value, list) and value else value
    if not isinstance(body, dict):
        raise ConfigError(f"expected a block, found {value!r}")
    return {k: v for k, v in body.items() if not _marker(k)}


def _marker(key: str) -> bool:
    """python-hcl2's own entries (`__is_block__`, `__comments__`), not keys of the file."""
    return key.startswith("__") and key.endswith("__")


def _reserved(value: Any) -> int:
    """`client { reserved { disk = MB } }`: only disk is reserved here (CPU and memory
    reservations are refused rather than ignored)."""
    body = _block(value)
    unknown = sorted(set(body) - {"disk"})
    if unknown:
        raise ConfigError(f"client.reserved: {', '.join(unknown)} not supported yet (only disk)")
    return int(body.get("disk", 0))


# key -> (option name, convert); a block's keys are "block.key"
_KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "data_dir": ("data_dir", Path),
    "bind_addr": ("bind", str),
    "name": ("node_name", str),
    "datacenter": ("datacenter", str),
    "region": ("region", str),
    "log_level": ("log_level", str),
    "ports.http": ("http_port", int),
    "server.enabled": ("server", _flag),
    "server.leader_ttl": ("leader_ttl", int),
    "server.eval_gc_threshold": ("eval_gc_threshold", str),
    "server.deployment_gc_threshold": ("deployment_gc_threshold", str),
    "server.job_gc_threshold": ("job_gc_threshold", str),
    "server.node_gc_threshold": ("node_gc_threshold", str),
    "client.enabled": ("client", _flag),
    "client.meta": ("meta", _meta),
    "client.node_pool": ("node_pool", str),
    "client.task_env": ("task_env", lambda v: ",".join(v)),
    "client.reserved": ("reserved_disk", _reserved),
    "client.network_interface": ("network_interface", str),
    "client.chroot_env": ("exec_chroot_env", lambda v: _chroot_env(v)),
    "etcd.endpoints": ("etcd", lambda v: ",".join(v) if isinstance(v, list) else str(v)),
    "etcd.prefix": ("prefix", str),
    "etcd.port": ("etcd_port", int),
    "etcd.peer_port": ("etcd_peer_port", int),
    "specs.dir": ("specs", Path),
    "consul.port": ("consul_port", int),
    "router.port": ("router_port", int),
    "router.admin_port": ("router_admin_port", int),
    "router.enabled": ("no_router", lambda v: not _flag(v)),
    # Nomad's file names for the API's files (`ca_file` also requires client certificates, as
    # --tls-ca does); the router's listener takes the same three, prefixed
    "tls.cert_file": ("tls_cert", Path),
    "tls.key_file": ("tls_key", Path),
    "tls.ca_file": ("tls_ca", Path),
    "tls.router_cert_file": ("router_tls_cert", Path),
    "tls.router_key_file": ("router_tls_key", Path),
    "tls.router_ca_file": ("router_tls_ca", Path),
}


def _chroot_env(value: Any) -> str:
    """Nomad's `client { chroot_env = { "/bin" = "/bin" } }` (source = destination inside
    the chroot): here each directory is bound at its own path, so the two must be equal."""
    entries = _block(value)
    for src, dest in entries.items():
        if str(dest) != str(src):
            raise ValueError(f"{src!r} = {dest!r}: a directory is bound at its own path only")
    return ",".join(entries)


def _client_options(options: Any, out: dict[str, Any]) -> None:
    for key, value in dict(options).items():
        if key != "driver.raw_exec.enable":
            raise ConfigError(f"client.options: unknown option {key!r} (known: driver.raw_exec.enable)")
        out["raw_exec"] = _flag(value)


def _plugins(value: Any, out: dict[str, Any]) -> None:
    for plugin in value if isinstance(value, list) else [value]:
        for name, body in plugin.items():
            if name != "raw_exec":
                raise ConfigError(f"plugin {name!r}: only raw_exec is configured here")
            config = _block(_block(body).get("config", [{}]))
            out["raw_exec"] = _flag(config.get("enabled", False))


def read_config(text: str, filename: str = "<config>") -> dict[str, Any]:
    """The option values `text` sets, by `reconciler agent` option name."""
    try:
        parse_tree(text, filename)  # syntax errors in words, with line and column
    except SpecError as exc:
        raise ConfigError(str(exc)) from None
    raw = hcl2.loads(text, serialization_options=hcl2.SerializationOptions(strip_string_quotes=True))
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if _marker(key):
            continue
        if key == "plugin":
            _plugins(value, out)
        elif key in _KEYS:
            _set(out, key, value)
        elif any(k.startswith(key + ".") for k in _KEYS):
            for sub, subvalue in _block(value).items():
                _set(out, f"{key}.{sub}", subvalue)
        else:
            _unknown(key)
    return out


def _set(out: dict[str, Any], key: str, value: Any) -> None:
    if key == "client.options":
        _client_options(value, out)
        return
    if key not in _KEYS:
        _unknown(key)
    name, convert = _KEYS[key]
    try:
        out[name] = convert(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _unknown(key: str) -> None:
    last = key.rsplit(".", 1)[-1]
    if last in NOT_YET:
        raise ConfigError(f"{key}: not supported yet (the agent would run without it)")
    known = ", ".join(sorted(_KEYS))
    raise ConfigError(f'unknown key {key!r}; known keys: {known}, client.options, plugin "raw_exec"')


def load_config(path: Path) -> dict[str, Any]:
    """`read_config` of the file at `path`; ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return read_config(text, str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
