"""The agent's configuration, from `reconciler agent` flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reconciler.model.gc_policy import GcThresholds
from reconciler.model.objects import HostVolume
from reconciler.model.tls import TlsFiles
from reconciler.runtime.leader import DEFAULT_LEADER_TTL
from reconciler.store import EtcdAuth


@dataclass
class AgentConfig:
    dev: bool = False
    server: bool = False  # cluster controllers (leader-elected)
    client: bool = False  # a node agent running tasks
    data_dir: Path = Path(".reconciler")
    bind: str = "127.0.0.1"
    http_port: int = 4646
    etcd_endpoints: list[str] = field(default_factory=list)  # empty: embedded etcd
    etcd_port: int = 2379
    etcd_peer_port: int = 2380
    prefix: str = "/reconciler/"
    specs_dir: Path | None = None
    node_name: str = ""
    datacenter: str = "dc1"
    region: str = "global"
    raw_exec: bool = False
    meta: dict[str, str] = field(default_factory=dict)
    node_pool: str = "default"  # --node-pool: the node pool this node registers in
    host_volumes: dict[str, HostVolume] = field(default_factory=dict)  # --host-volume name=/path
    reserved_disk: int = 0  # MB of the data dir's free space kept from tasks (--reserved-disk)
    log_level: str = "INFO"
    router: bool = True  # dev mode: the HTTP router (load balancer) on router_port
    router_port: int = 9999
    router_admin_port: int = 9998  # GET /routes
    consul_port: int = 0  # the Consul face (reconciler.api.consul); 0: off (the CLI's dev default is 8500)
    dns_port: int = 0  # Consul's DNS interface (UDP); 0: off (the CLI's dev default is 8600)
    leader_ttl: int = DEFAULT_LEADER_TTL  # seconds; the cluster controllers' leader leases
    gc: GcThresholds = field(default_factory=GcThresholds)  # --job-gc-threshold and the others
    # the API gate (reconciler.api.gate): extra Host names and browser origins it accepts
    allowed_hosts: list[str] = field(default_factory=list)
    allowed_origins: list[str] = field(default_factory=list)
    acl: bool = False  # ACL tokens (reconciler.api.acl); the CLI turns them on outside dev mode
    etcd_auth: EtcdAuth = field(default_factory=EtcdAuth)  # TLS and user for an external etcd
    tls: TlsFiles = field(default_factory=TlsFiles)  # HTTPS (and client certificates) for the API
    # HTTPS (and client certificates) for the router's listener (--router-tls-cert, ...)
    router_tls: TlsFiles = field(default_factory=lambda: TlsFiles(flag="--router-tls"))
    task_env: list[str] = field(
        default_factory=list
    )  # agent variables tasks may inherit (model.taskenv.inherited_env)
    # --exec-chroot-env: the host directories exec tasks see ([]: Nomad's chroot_env default)
    exec_chroot_env: list[str] = field(default_factory=list)
    # --artifact-file-roots: host directories `file` artifacts may read (review M6; []: none)
    artifact_file_roots: list[str] = field(default_factory=list)
    # the interface whose address the node advertises for its tasks ("": the bind address)
    network_interface: str = ""

    @property
    def runs_server(self) -> bool:
        return self.dev or self.server

    @property
    def runs_client(self) -> bool:
        return self.dev or self.client
