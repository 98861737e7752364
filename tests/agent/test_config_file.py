"""The agent configuration file: Nomad's keys read into `reconciler agent`'s options
(table-driven), errors that name the key, and a real agent started from a file whose
values a flag overrides."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.agent.config_file import ConfigError, load_config, read_config
from reconciler.agent.etcd_process import EmbeddedEtcd, free_port
from tests.agent.harness import BIN
from tests.faults.cluster import HostAgent, kill_all_under
from tests.waiting import wait_for


@pytest.mark.parametrize(
    ("text", "want"),
    [
        pytest.param(
            'data_dir = "/d"\nbind_addr = "10.0.0.5"', {"data_dir": Path("/d"), "bind": "10.0.0.5"}, id="top"
        ),
        pytest.param("ports { http = 4747 }", {"http_port": 4747}, id="ports"),
        pytest.param(
            "server {\n enabled = true\n leader_ttl = 7\n}", {"server": True, "leader_ttl": 7}, id="server"
        ),
        pytest.param(
            'client {\n enabled = true\n meta { rack = "r1" }\n'
            ' options = { "driver.raw_exec.enable" = "1" }\n}',
            {"client": True, "meta": ("rack=r1",), "raw_exec": True},
            id="client",
        ),
        pytest.param('plugin "raw_exec" {\n config { enabled = true }\n}', {"raw_exec": True}, id="plugin"),
        pytest.param(
            'etcd {\n endpoints = ["http://a:1", "http://b:1"]\n prefix = "/p/"\n}',
            {"etcd": "http://a:1,http://b:1", "prefix": "/p/"},
            id="etcd",
        ),
        pytest.param("router { enabled = false }", {"no_router": True}, id="router-off"),
        pytest.param(
            'tls {\n cert_file = "/c"\n key_file = "/k"\n ca_file = "/a"\n'
            ' router_cert_file = "/rc"\n router_key_file = "/rk"\n router_ca_file = "/ra"\n}',
            {
                "tls_cert": Path("/c"),
                "tls_key": Path("/k"),
                "tls_ca": Path("/a"),
                "router_tls_cert": Path("/rc"),
                "router_tls_key": Path("/rk"),
                "router_tls_ca": Path("/ra"),
            },
            id="tls",
        ),
    ],
)
def test_keys_map_to_options(text: str, want: dict[str, Any]) -> None:
    assert read_config(text) == want


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param("tls { rpc = true }", "unknown key 'tls.rpc'", id="tls-rpc"),
        pytest.param("acl { enabled = true }", "acl: not supported yet", id="acl"),
        pytest.param(
            'client {\n host_volume "x" { path = "/x" }\n}', "client.host_volume: not supported", id="vol"
        ),
        pytest.param("colour = 1", "unknown key 'colour'", id="unknown"),
        pytest.param("ports { htp = 1 }", "unknown key 'ports.htp'", id="unknown-in-block"),
        pytest.param('ports { http = "x" }', "ports.http: invalid literal", id="bad-value"),
        pytest.param('data_dir = "/d', "unterminated string", id="syntax"),
    ],
)
def test_errors_name_the_key(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        read_config(text)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.hcl")


def test_an_agent_runs_from_its_file_and_a_flag_overrides_it(
    tmp_path: Path, etcd: EmbeddedEtcd, prefix: str
) -> None:
    port = free_port()
    conf = tmp_path / "agent.hcl"
    conf.write_text(
        f'data_dir = "{tmp_path / "data"}"\nname = "from-file"\n'
        f'ports {{ http = {port} }}\nclient {{\n  enabled = true\n  meta {{ rack = "r7" }}\n}}\n'
        f'etcd {{\n  endpoints = ["{etcd.endpoint}"]\n  prefix = "{prefix}"\n}}\n'
    )
    log = open(tmp_path / "agent.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        # ACLs are on by default outside dev mode; this test is about the file, not tokens
        [str(BIN / "reconciler"), "agent", "-config", str(conf), "--node-name", "from-flag", "--no-acl"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        start_new_session=True,
    )
    log.close()
    try:
        api = HostAgent(tmp_path, http_port=port)

        def node() -> dict[str, Any] | None:
            assert proc.poll() is None, (tmp_path / "agent.log").read_text()
            try:
                nodes = api.get("/v1/nodes")
            except OSError:
                return None
            return nodes[0] if nodes else None

        got = wait_for(node, 30, message="the agent's node registered")
        assert got["Name"] == "from-flag", "the flag overrides the file"
        full = api.get(f"/v1/node/{got['ID']}")
        assert full["Meta"]["rack"] == "r7"
        assert (tmp_path / "data" / "client" / "node-id").exists(), "the file's data_dir is used"
    finally:
        proc.terminate()
        proc.wait(30)
        kill_all_under(tmp_path)
