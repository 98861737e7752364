"""The agent configuration file: Nomad's keys read into `reconciler agent`'s options
(table-driven), errors that name the key, and a real agent started from a file whose
values a flag overrides."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from reconciler.agent.config_file import ConfigError, load_config, read_config
from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.cli.agent_cmd import _node_pool
from reconciler.cli.gc_options import gc_options, thresholds
from reconciler.model.gc_policy import GcThresholds
from tests.agent.harness import BIN
from tests.faults.cluster import HostAgent, kill_all_under
from tests.ports import free_port
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
        pytest.param('client {\n node_pool = "prod"\n}', {"node_pool": "prod"}, id="node-pool"),
        pytest.param('plugin "raw_exec" {\n config { enabled = true }\n}', {"raw_exec": True}, id="plugin"),
        pytest.param(
            'etcd {\n endpoints = ["http://a:1", "http://b:1"]\n prefix = "/p/"\n}',
            {"etcd": "http://a:1,http://b:1", "prefix": "/p/"},
            id="etcd",
        ),
        pytest.param("router { enabled = false }", {"no_router": True}, id="router-off"),
        pytest.param(
            'server {\n job_gc_threshold = "2h"\n node_gc_threshold = "48h"\n}',
            {"job_gc_threshold": "2h", "node_gc_threshold": "48h"},
            id="gc-thresholds",
        ),
        pytest.param("client {\n reserved { disk = 1024 }\n}", {"reserved_disk": 1024}, id="reserved-disk"),
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
        pytest.param(
            'client {\n chroot_env = { "/bin" = "/bin", "/usr" = "/usr" }\n}',
            {"exec_chroot_env": "/bin,/usr"},
            id="chroot_env",
        ),
    ],
)
def test_keys_map_to_options(text: str, want: dict[str, Any]) -> None:
    assert read_config(text) == want


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("all", 'a node is not allowed to register in node pool "all"'),
        ("no spaces", 'invalid name "no spaces", must match regex'),
    ],
    ids=["built-in all", "bad name"],
)
def test_the_node_pool_flag_refuses_all_and_bad_names(value: str, message: str) -> None:
    with pytest.raises(click.BadParameter) as err:
        _node_pool(value)
    assert message in str(err.value)
    assert err.value.param_hint == "--node-pool"
    assert _node_pool("gpu") == "gpu"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param("tls { rpc = true }", "unknown key 'tls.rpc'", id="tls-rpc"),
        pytest.param("acl { enabled = true }", "acl: not supported yet", id="acl"),
        pytest.param(
            'client {\n host_volume "x" { path = "/x" }\n}', "client.host_volume: not supported", id="vol"
        ),
        pytest.param(
            "client {\n reserved { cpu = 500 }\n}",
            "client.reserved: cpu not supported yet",
            id="reserved-cpu",
        ),
        pytest.param(
            'client {\n chroot_env = { "/bin" = "/x" }\n}',
            "client.chroot_env: '/bin' = '/x': a directory is bound at its own path only",
            id="chroot-env-elsewhere",
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


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ([], GcThresholds()),
        (["--job-gc-threshold", "2h", "--eval-gc-threshold", "90m"], GcThresholds(eval=5400.0, job=7200.0)),
        (["--node-gc-threshold", "0"], GcThresholds(node=0.0)),
    ],
    ids=["nomad's defaults", "durations", "zero"],
)
def test_gc_threshold_flags(args: list[str], want: GcThresholds) -> None:
    @click.command()
    @gc_options
    def cmd(**flags: float) -> None:
        click.echo(repr(thresholds(**flags)))

    out = CliRunner().invoke(cmd, args)
    assert out.exit_code == 0, out.output
    assert out.output.strip() == repr(want)
    bad = CliRunner().invoke(cmd, ["--job-gc-threshold", "soon"])
    assert bad.exit_code == 2
    assert "'soon' is not a duration" in bad.output


def test_comments_on_their_own_lines_and_the_documented_file() -> None:
    text = "# top\nserver {\n  # a comment line in a block\n  leader_ttl = 7 # and at a line's end\n}\n"
    assert read_config(text) == {"leader_ttl": 7}
    doc = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    block = doc.split("```hcl\n", 1)[1].split("```", 1)[0]
    got = read_config(block)
    assert got["server"] is True
    assert got["job_gc_threshold"] == "4h"
