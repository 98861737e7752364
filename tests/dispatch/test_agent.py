"""A parameterized job on a real agent: the parent never runs; `job dispatch` with a
payload file (or stdin) and `-meta` runs a child whose task finds the payload in
`local/<file>` and the meta in its environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.agent.harness import AgentProcess
from tests.waiting import wait_for

JOB = """
job "render" {
  type = "batch"
  parameterized {
    payload       = "required"
    meta_required = ["user"]
  }
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "cat local/in/data.txt; echo; echo user=$NOMAD_META_user"]
      }
      dispatch_payload {
        file = "in/data.txt"
      }
      resources {
        memory = 32
      }
    }
  }
}
"""


def allocs(agent: AgentProcess, job_id: str) -> list[dict[str, Any]]:
    return list(agent.get(f"/v1/job/{job_id.replace('/', '%2F')}/allocations"))


def complete_alloc(agent: AgentProcess, job_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        return next((a for a in allocs(agent, job_id) if a["ClientStatus"] == "complete"), None)

    return wait_for(done, timeout=30, message=lambda: f"{job_id} to complete\n{agent.log()}")


def test_a_dispatched_job_gets_its_payload_file(agent: AgentProcess, tmp_path: Path) -> None:
    spec = tmp_path / "render.nomad"
    spec.write_text(JOB)
    out = agent.cli("job", "run", "-detach", str(spec))
    assert out.returncode == 0, out.stderr
    assert allocs(agent, "render") == []  # a template: never run itself
    (parent,) = [j for j in agent.get("/v1/jobs") if j["ID"] == "render"]
    assert parent["ParameterizedJob"] is True
    assert parent["Status"] == "running"

    refused = agent.cli("job", "dispatch", "render")
    assert refused.returncode == 1
    assert "Payload is not provided but required" in refused.stderr

    payload = tmp_path / "payload.txt"
    payload.write_bytes(b"hello from the payload")
    out = agent.cli("job", "dispatch", "-detach", "-meta", "user=ann", "render", str(payload))
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("Dispatched Job ID = render/dispatch-")
    child = first.split(" = ", 1)[1]

    alloc = complete_alloc(agent, child)
    written = agent.data_dir / "allocs" / alloc["ID"] / "t" / "local" / "in" / "data.txt"
    assert written.read_bytes() == b"hello from the payload"
    logs = agent.cli("alloc", "logs", alloc["ID"], "t")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.splitlines() == ["hello from the payload", "user=ann"]


def test_dispatch_reads_the_payload_from_stdin_and_honours_the_token(
    agent: AgentProcess, tmp_path: Path
) -> None:
    spec = tmp_path / "render.nomad"
    spec.write_text(JOB)
    assert agent.cli("job", "run", "-detach", str(spec)).returncode == 0
    args = ("job", "dispatch", "-detach", "-meta", "user=bob", "-idempotency-token", "tok", "render", "-")
    first = agent.cli(*args, stdin="from stdin")
    again = agent.cli(*args, stdin="from stdin")
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert first.stdout.splitlines()[0] == again.stdout.splitlines()[0]
    child = first.stdout.splitlines()[0].split(" = ", 1)[1]
    alloc = complete_alloc(agent, child)
    written = agent.data_dir / "allocs" / alloc["ID"] / "t" / "local" / "in" / "data.txt"
    assert written.read_bytes() == b"from stdin"


def test_the_render_example_runs_its_lifecycle_around_the_payload(
    agent: AgentProcess, tmp_path: Path
) -> None:
    example = Path(__file__).resolve().parents[2] / "specs" / "examples" / "render-dispatch.nomad"
    assert agent.cli("job", "run", "-detach", str(example)).returncode == 0
    payload = tmp_path / "input.json"
    payload.write_text('{"scene": 7}')
    out = agent.cli("job", "dispatch", "-detach", "-meta", "user=ann", "render", str(payload))
    assert out.returncode == 0, out.stderr
    child = out.stdout.splitlines()[0].split(" = ", 1)[1]
    alloc = complete_alloc(agent, child)  # the endless sidecar was ended with the main task
    work = agent.data_dir / "allocs" / alloc["ID"] / "alloc" / "work"
    assert (work / "out-ann.json").read_text() == '{"scene": 7}'
    logs = agent.cli("alloc", "logs", alloc["ID"], "cleanup")
    assert logs.stdout.split() == ["out-ann.json"]
