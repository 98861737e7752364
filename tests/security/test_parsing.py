"""Parsing that cannot hurt the server (review findings H2 and H9, reproductions R1, R2, R9):
`file()` reads nothing for text sent over the API and only below the job file's directory
for files; expression values are bounded before they are made, not after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.spec import SpecError, load_job_file, parse_job
from reconciler.spec.functions import MAX_SIZE, value_size
from tests.api.server import ApiServer
from tests.security.http import send

JOB = """{head}
job "x" {{
  datacenters = ["dc1"]
  meta {{
    value = {expr}
  }}
  group "g" {{
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "true"
      }}
    }}
  }}
}}
"""


def errors_of(text: str, filename: str = "<request>") -> str:
    with pytest.raises(SpecError) as info:
        parse_job(text, filename=filename)
    return str(info.value)


def test_r2_file_in_text_sent_over_the_api_reads_nothing() -> None:
    msg = errors_of(JOB.format(head="", expr='file("/etc/hostname")'))
    assert "<request>:5:13" in msg
    assert 'file("/etc/hostname") is not available here' in msg


@pytest.mark.parametrize("path", ["/etc/hostname", "../secret.txt", "sub/../../secret.txt", "link.txt"])
def test_file_reads_only_below_the_job_files_directory(tmp_path: Path, path: str) -> None:
    (tmp_path / "secret.txt").write_text("s3cret\n")
    jobs = tmp_path / "jobs"
    (jobs / "sub").mkdir(parents=True)
    (jobs / "link.txt").symlink_to(tmp_path / "secret.txt")
    job = jobs / "job.nomad"
    job.write_text(JOB.format(head="", expr=f'file("{path}")'))
    with pytest.raises(SpecError) as info:
        load_job_file(job)
    assert "only files below the job file's directory" in str(info.value)
    assert f"{job}:5:13" in str(info.value)


def test_r1_parse_endpoint_does_not_read_server_files(api: ApiServer) -> None:
    hcl = JOB.format(head="", expr='file("/etc/hostname")')
    r = send(
        api.address,
        "POST",
        "/v1/jobs/parse",
        json.dumps({"JobHCL": hcl}).encode(),
        content_type="application/json",
    )
    assert r.status == 400
    assert "is not available here" in r.body


def shared_locals(n: int) -> str:
    lines = ["locals {", '  l0 = "aaaaaaaa"'] + [
        f"  l{i} = [local.l{i - 1}, local.l{i - 1}]" for i in range(1, n + 1)
    ]
    return "\n".join([*lines, "}"])


@pytest.mark.parametrize("expr", ["jsonencode(local.l40)", 'format("%v", local.l40)', "length(local.l40)"])
def test_r9_shared_locals_are_refused_before_they_blow_up(expr: str) -> None:
    msg = errors_of(JOB.format(head=shared_locals(40), expr=expr))
    assert "this list would be larger than" in msg
    assert "<request>:" in msg


BIG = "a" * 2000


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("range(300000000)", "range() would make 300000000 numbers; the limit is 1024"),
        (f'replace("{BIG}", "", "{BIG}")', "replace() result would be longer than 1000000 characters"),
    ],
    ids=["range", "replace"],
)
def test_functions_check_sizes_before_making_values(expr: str, fragment: str) -> None:
    assert fragment in errors_of(JOB.format(head="", expr=expr))


def test_value_size_is_linear_in_distinct_values() -> None:
    v: object = "x"
    for _ in range(200):
        v = [v, v]
    assert value_size(v) > MAX_SIZE


SMALL_JOB = """job "w" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "true" }
    }
  }
}
"""


def test_h9_api_text_is_parsed_in_a_bounded_worker_process() -> None:
    from reconciler.api.errors import ApiError
    from reconciler.api.parsing import parse_in_worker
    from reconciler.spec import SpecError, parse_job

    kw: dict[str, object] = {"filename": "<request>", "format": "hcl", "env": {}}
    assert parse_in_worker(SMALL_JOB, **kw) == parse_job(SMALL_JOB, **kw)
    with pytest.raises(SpecError) as bad:
        parse_in_worker('job "x" {\n', **kw)
    assert bad.value.errors[0].line == 2  # the issues themselves cross the process boundary
    with pytest.raises(ApiError, match=r"took longer than 0\.01s to parse") as slow:
        parse_in_worker(SMALL_JOB, timeout=0.01, **kw)
    assert slow.value.status == 400
    with pytest.raises(ApiError, match="needs more than 32 MiB to parse") as big:
        parse_in_worker(SMALL_JOB, memory=32 << 20, **kw)
    assert big.value.status == 400


def test_h9_the_uis_pasted_job_is_parsed_by_the_worker_too(api: ApiServer) -> None:
    # the test server runs no planner: a job that parses gets as far as the 501
    status, body = api.call("POST", "/ui/plan", {"JobHCL": SMALL_JOB})
    assert status == 501, body
    status, body = api.call("POST", "/ui/plan", {"JobHCL": 'job "x" {\n'})
    assert status == 400
    assert "line 2" in body["error"] or ":2:" in body["error"], body
