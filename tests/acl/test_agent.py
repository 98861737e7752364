"""ACLs on a real `reconciler agent -dev --acl`: the CLI's bootstrap, policy and token
commands, python-nomad with and without a token, the Consul face's KV, and what etcd holds
(read with etcdctl)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.model.acl import hash_secret
from reconciler.spec import job_to_nomad
from tests.agent.harness import AgentProcess
from tests.factories import submitted_job

READ_DEFAULT = 'namespace "default" {\n  policy = "read"\n}\n'


def secret_of(output: str) -> str:
    found = re.search(r"^Secret ID\s+= (\S+)$", output, re.M)
    assert found, output
    return found.group(1)


def accessor_of(output: str) -> str:
    found = re.search(r"^Accessor ID\s+= (\S+)$", output, re.M)
    assert found, output
    return found.group(1)


@pytest.fixture(scope="module")
def acl_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """A dev agent with ACLs on, bootstrapped with the CLI; `token` is the management secret."""
    a = AgentProcess(tmp_path_factory.mktemp("acl-agent"), acl=True)
    a.start()
    boot = a.cli("acl", "bootstrap")
    assert boot.returncode == 0, boot.stderr
    a.token = secret_of(boot.stdout)
    yield a
    a.stop()


def reader_token(agent: AgentProcess, root: Path) -> str:
    policy = root / "readonly.hcl"
    policy.write_text(READ_DEFAULT)
    out = agent.cli("acl", "policy", "apply", "-description", "read default", "readonly", str(policy))
    assert (out.returncode, out.stdout.strip()) == (0, 'Successfully wrote "readonly" ACL policy!'), (
        out.stderr
    )
    made = agent.cli("acl", "token", "create", "-name", "reader", "-type", "client", "-policy", "readonly")
    assert made.returncode == 0, made.stderr
    assert "Policies     = readonly" in made.stdout
    return secret_of(made.stdout)


def test_the_dev_banner_says_acls_are_on(acl_agent: AgentProcess) -> None:
    assert "ACLs: on" in acl_agent.log()


def test_a_dev_agent_without_the_flag_has_acls_off(tmp_path: Path) -> None:
    a = AgentProcess(tmp_path)
    a.start()
    try:
        assert "ACLs: off" in a.log()
        assert a.get("/v1/jobs") == []
    finally:
        a.stop()


def test_bootstrap_a_second_time_fails(acl_agent: AgentProcess) -> None:
    again = acl_agent.cli("acl", "bootstrap")
    assert again.returncode == 1
    assert "Error bootstrapping: ACL bootstrap already done" in again.stderr


def test_python_nomad_with_a_read_token_reads_and_cannot_submit(
    acl_agent: AgentProcess, tmp_path: Path
) -> None:
    nomad = pytest.importorskip("nomad")
    from nomad.api.exceptions import URLNotAuthorizedNomadException

    reader = reader_token(acl_agent, tmp_path)
    port = acl_agent.http_port
    job = {"Job": job_to_nomad(submitted_job("acl-web"))}
    anonymous = nomad.Nomad(host="127.0.0.1", port=port, timeout=10)
    with pytest.raises(URLNotAuthorizedNomadException):
        anonymous.jobs.get_jobs()
    as_reader = nomad.Nomad(host="127.0.0.1", port=port, timeout=10, token=reader)
    with pytest.raises(URLNotAuthorizedNomadException):
        as_reader.jobs.register_job(job)
    as_admin = nomad.Nomad(host="127.0.0.1", port=port, timeout=10, token=acl_agent.token)
    as_admin.jobs.register_job(job)
    assert "acl-web" in [j["ID"] for j in as_reader.jobs.get_jobs()]
    assert as_reader.job.get_job("acl-web")["ID"] == "acl-web"
    with pytest.raises(URLNotAuthorizedNomadException):
        as_reader.job.deregister_job("acl-web")
    as_admin.job.deregister_job("acl-web", purge=True)


def test_the_cli_sends_its_token_and_manages_tokens(acl_agent: AgentProcess, tmp_path: Path) -> None:
    reader = reader_token(acl_agent, tmp_path)
    admin = acl_agent.token
    acl_agent.token = ""  # anonymous CLI
    try:
        denied = acl_agent.cli("job", "status")
        assert denied.returncode == 1
        assert "Permission denied" in denied.stderr
        as_reader = acl_agent.cli("-token", reader, "job", "status")
        assert as_reader.returncode == 0, as_reader.stderr
        me = acl_agent.cli("-token", reader, "acl", "token", "self")
        assert me.returncode == 0, me.stderr
        assert "Name         = reader" in me.stdout
    finally:
        acl_agent.token = admin
    listed = acl_agent.cli("acl", "token", "list")
    assert "Bootstrap Token" in listed.stdout
    assert reader not in listed.stdout  # never a secret in a listing
    info = acl_agent.cli("acl", "policy", "info", "readonly")
    assert "Description = read default" in info.stdout
    assert 'policy = "read"' in info.stdout
    assert "readonly" in acl_agent.cli("acl", "policy", "list").stdout
    made = acl_agent.cli("acl", "token", "create", "-name", "gone", "-type", "management")
    accessor = accessor_of(made.stdout)
    renamed = acl_agent.cli("acl", "token", "update", "-name", "going", accessor)
    assert "Name         = going" in renamed.stdout, renamed.stderr
    assert "Type         = management" in renamed.stdout
    assert acl_agent.cli("acl", "token", "info", accessor).returncode == 0
    deleted = acl_agent.cli("acl", "token", "delete", accessor)
    assert deleted.stdout.strip() == f"Token {accessor} successfully deleted"
    assert acl_agent.cli("-token", secret_of(made.stdout), "job", "status").returncode == 1


def test_etcd_holds_only_hashes_of_secrets(acl_agent: AgentProcess, tmp_path: Path) -> None:
    reader = reader_token(acl_agent, tmp_path)
    dump = acl_agent.etcdctl("get", "--prefix", "/reconciler/")
    for secret in (acl_agent.token, reader):
        assert secret not in dump
        assert f"/reconciler/acl_token_hashes/{hash_secret(secret)}" in dump


def test_the_consul_face_checks_kv_as_variables(acl_agent: AgentProcess, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{acl_agent.consul_port}/v1/kv/app/config"

    def status(method: str, token: str = "", data: bytes | None = None) -> int:
        headers = {"X-Consul-Token": token} if token else {}
        req = urllib.request.Request(base, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    assert status("GET") == 403
    assert status("PUT", data=b"v") == 403
    assert status("PUT", acl_agent.token, b"v") == 200
    assert status("GET", acl_agent.token) == 200
    rules = tmp_path / "app-read.hcl"
    rules.write_text(
        'namespace "default" {\n  variables {\n    path "app/*" { capabilities = ["read"] }\n  }\n}\n'
    )
    assert acl_agent.cli("acl", "policy", "apply", "app-read", str(rules)).returncode == 0
    reader = secret_of(acl_agent.cli("acl", "token", "create", "-policy", "app-read").stdout)
    assert status("GET", reader) == 200
    assert status("PUT", reader, b"w") == 403
    assert status("DELETE", reader) == 403
