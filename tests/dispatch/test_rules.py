"""Dispatch rules and the parameterized blocks' validation, pure and table-driven."""

from __future__ import annotations

import pytest

from reconciler.model.children import MAX_PAYLOAD, derive_dispatched, dispatch_problems, payload_bytes
from reconciler.model.job import Job, Parameterized, PayloadRule
from reconciler.spec import SpecError, parse_job

RULE = Parameterized(payload=PayloadRule.OPTIONAL, meta_required=["user"], meta_optional=["mode"])


@pytest.mark.parametrize(
    ("rule", "payload", "meta", "want"),
    [
        pytest.param(RULE, b"x", {"user": "a"}, [], id="ok"),
        pytest.param(RULE, b"", {"user": "a", "mode": "m"}, [], id="optional-meta"),
        pytest.param(
            RULE, b"", {}, [("Meta", "Dispatch did not provide required meta keys: ['user']")], id="missing"
        ),
        pytest.param(
            RULE,
            b"",
            {"user": "a", "x": "1"},
            [("Meta", "Dispatch provided unpermitted meta keys: ['x']")],
            id="extra",
        ),
        pytest.param(
            Parameterized(payload=PayloadRule.REQUIRED),
            b"",
            {},
            [("Payload", "Payload is not provided but required")],
            id="required",
        ),
        pytest.param(
            Parameterized(payload=PayloadRule.FORBIDDEN),
            b"x",
            {},
            [("Payload", "Payload is not allowed")],
            id="forbidden",
        ),
        pytest.param(
            Parameterized(),
            b"x" * (MAX_PAYLOAD + 1),
            {},
            [("Payload", f"Payload exceeds maximum size; {MAX_PAYLOAD + 1} > {MAX_PAYLOAD}")],
            id="too-large",
        ),
    ],
)
def test_dispatch_problems(
    rule: Parameterized, payload: bytes, meta: dict[str, str], want: list[tuple[str, str]]
) -> None:
    assert dispatch_problems(rule, payload, meta) == want


def test_a_dispatched_child_merges_meta_and_carries_the_payload() -> None:
    parent = Job(id="render", meta={"user": "default", "team": "ops"}, parameterized=RULE)
    child = derive_dispatched(
        parent, "render/dispatch-1-0a1b2c3d", payload=b"\x00bin", meta={"user": "ann"}, token="t"
    )
    assert child.id == child.name == "render/dispatch-1-0a1b2c3d"
    assert child.parent_id == "render"
    assert child.dispatched
    assert not child.is_template()
    assert parent.is_template()
    assert child.meta == {"user": "ann", "team": "ops"}
    assert payload_bytes(child) == b"\x00bin"
    assert child.dispatch_idempotency_token == "t"


JOB = """job "render" {
  type = "batch"
%s
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
%s
    }
  }
}
"""


@pytest.mark.parametrize(
    ("job_block", "task_block", "want"),
    [
        pytest.param(
            'parameterized {\n  payload = "sometimes"\n}',
            "",
            'parameterized.payload: must be one of "optional", "required", "forbidden", got "sometimes"',
            id="payload-rule",
        ),
        pytest.param(
            "",
            'dispatch_payload {\n  file = "in.txt"\n}',
            "job.render.group.g.task.t.dispatch_payload.file: dispatch_payload needs a parameterized job",
            id="payload-file-without-parameterized",
        ),
        pytest.param(
            "parameterized {}",
            'dispatch_payload {\n  file = "../../secrets/x"\n}',
            '"../../secrets/x" must be a relative path inside the task\'s local/ directory',
            id="payload-file-escapes",
        ),
        pytest.param(
            'parameterized {}\nperiodic {\n  cron = "@daily"\n}',
            "",
            "job.render.parameterized: a job cannot be both periodic and parameterized (not supported)",
            id="both-kinds",
        ),
        pytest.param(
            'parameterized {\n  meta_required = ["a"]\n  meta_optional = ["a"]\n}',
            "",
            "job.render.parameterized.meta_optional: keys ['a'] are also in meta_required",
            id="meta-in-both",
        ),
    ],
)
def test_parameterized_validation_names_the_field(job_block: str, task_block: str, want: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_job(JOB % (job_block, task_block), filename="render.nomad")
    assert want in str(err.value)
    assert "render.nomad:" in str(err.value)


def test_a_valid_parameterized_job_parses() -> None:
    job = parse_job(
        JOB
        % (
            'parameterized {\n  payload = "required"\n  meta_required = ["user"]\n}',
            'dispatch_payload {\n  file = "in/data.json"\n}',
        ),
        filename="render.nomad",
    )
    assert job.parameterized == Parameterized(payload=PayloadRule.REQUIRED, meta_required=["user"])
    assert job.task_groups[0].tasks[0].dispatch_payload is not None
    assert job.task_groups[0].tasks[0].dispatch_payload.file == "in/data.json"


def test_a_parameterized_service_job_is_refused() -> None:
    text = (JOB % ("parameterized {}", "")).replace('type = "batch"', 'type = "service"')
    with pytest.raises(SpecError) as err:
        parse_job(text, filename="render.nomad")
    assert 'parameterized: a parameterized job must be of type "batch" or "sysbatch", not "service"' in str(
        err.value
    )
