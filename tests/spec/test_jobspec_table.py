"""docs/jobspec.md's table of Nomad's job specification is true.

Every row says a field is implemented (naming the test that shows it) or refused (with the
error). For each refused field the field is written, with a sample value, into the one
stanza of a small job that holds it, in HCL, YAML and Nomad JSON, and each reader must
refuse it with exactly the documented error at the field's own path (and line, for HCL
and YAML). The table and `reconciler/spec/unsupported.py` must list the same fields.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.spec import SpecError, job_to_nomad
from reconciler.spec.loader import parse_job, read_job
from reconciler.spec.unsupported import UNSUPPORTED, Refusal

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "jobspec.md"

# One job with every stanza a refused field can be written in; `#@stanza` marks where.
HCL = """job "t" {
  datacenters = ["dc1"]
  #@job
  update {
    #@update
  }
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
    #@constraint
  }
  group "g" {
    #@group
    network {
      #@network
      port "http" {
        #@port
      }
    }
    restart {
      #@restart
    }
    ephemeral_disk {
      #@ephemeral_disk
    }
    disconnect {
      #@disconnect
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
      #@task
      resources {
        #@resources
      }
      logs {
        #@logs
      }
      template {
        destination = "local/x"
        data        = "x"
        #@template
      }
      artifact {
        source = "https://example.com/x"
        #@artifact
      }
      service {
        port = "http"
        #@service
        check {
          path     = "/"
          interval = "10s"
          timeout  = "2s"
          #@check
        }
      }
    }
  }
}
"""

YAML = """job:
  t:
    datacenters: [dc1]
    #@job
    update:
      max_parallel: 1
      #@update
    constraint:
      attribute: ${attr.kernel.name}
      value: linux
      #@constraint
    group:
      g:
        #@group
        network:
          #@network
          port:
            http:
              #@port
        restart:
          attempts: 2
          #@restart
        ephemeral_disk:
          sticky: false  #@default
          #@ephemeral_disk
        disconnect:
          replace: true  #@default
          #@disconnect
        task:
          t:
            driver: raw_exec
            config: {command: /bin/true}
            #@task
            resources:
              cpu: 100
              #@resources
            logs:
              max_files: 10
              #@logs
            template:
              destination: local/x
              data: x
              #@template
            artifact:
              source: https://example.com/x
              #@artifact
            service:
              port: http
              #@service
              check:
                path: /
                interval: 10s
                timeout: 2s
                #@check
"""

TASK = ["TaskGroups", 0, "Tasks", 0]
SERVICE = [*TASK, "Services", 0]
# stanza -> (its path in HCL/YAML issues, its steps in the Nomad JSON job)
WHERE: dict[str, tuple[str, list[Any]]] = {
    "job": ("job.t", []),
    "update": ("job.t.update", ["Update"]),
    "constraint": ("job.t.constraint[0]", ["Constraints", 0]),
    "group": ("job.t.group.g", ["TaskGroups", 0]),
    "network": ("job.t.group.g.network[0]", ["TaskGroups", 0, "Networks", 0]),
    "port": ("job.t.group.g.network[0].port.http", ["TaskGroups", 0, "Networks", 0, "DynamicPorts", 0]),
    "restart": ("job.t.group.g.restart", ["TaskGroups", 0, "RestartPolicy"]),
    "ephemeral_disk": ("job.t.group.g.ephemeral_disk", ["TaskGroups", 0, "EphemeralDisk"]),
    "disconnect": ("job.t.group.g.disconnect", ["TaskGroups", 0, "Disconnect"]),
    "task": ("job.t.group.g.task.t", TASK),
    "resources": ("job.t.group.g.task.t.resources", [*TASK, "Resources"]),
    "logs": ("job.t.group.g.task.t.logs", [*TASK, "LogConfig"]),
    "template": ("job.t.group.g.task.t.template[0]", [*TASK, "Templates", 0]),
    "artifact": ("job.t.group.g.task.t.artifact[0]", [*TASK, "Artifacts", 0]),
    "service": ("job.t.group.g.task.t.service[0]", SERVICE),
    "check": ("job.t.group.g.task.t.service[0].check[0]", [*SERVICE, "Checks", 0]),
}


def _hcl_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_hcl_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def _hcl_field(row: Refusal, indent: str) -> str:
    if not row.block:
        return f"{row.field} = {_hcl_value(row.sample)}"
    body = "".join(f"{indent}  {k} = {_hcl_value(v)}\n" for k, v in row.sample.items())
    return f"{row.field} {{\n{body}{indent}}}"


def _insert(text: str, stanza: str, write: Any) -> tuple[str, int]:
    """`text` with the field written at `#@stanza` (other markers removed), and its line.
    A line marked `#@default` (a stanza must not be empty in YAML) gives way to the field."""
    lines: list[str] = []
    default = ""  # the line just kept because it was marked #@default
    line_no = 0
    for line in text.splitlines():
        marker = line.strip()
        if marker == f"#@{stanza}":
            indent = line[: len(line) - len(line.lstrip())]
            written = indent + write(indent)
            if default and default.split(":")[0] == written.split(":")[0]:
                lines.pop()
            line_no = len(lines) + 1
            lines.append(written)
        elif not marker.startswith("#@"):
            lines.append(line.removesuffix("  #@default"))
        default = lines[-1] if line.endswith("#@default") else ""
    return "\n".join(lines) + "\n", line_no


def _issues(text: str, fmt: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        read_job(text, filename=f"t.{fmt}", format=fmt)
    return [str(e) for e in info.value.errors]


@functools.cache
def _json_base() -> str:
    return json.dumps(job_to_nomad(read_job(_insert(HCL, "", str)[0])))


def _json_job(row: Refusal) -> dict[str, Any]:
    data = json.loads(_json_base())
    target: Any = data
    for step in WHERE[row.stanza][1]:
        target = target[step]
    target[row.json] = [row.sample] if row.repeated else copy.deepcopy(row.sample)
    return data


# -- the table in the docs ------------------------------------------------------------------

ROW = re.compile(r"^\|\s*`([a-z_]+)`\s*\|\s*`([a-z_]+)`\s*\|\s*(implemented|refused)\s*\|\s*(.*?)\s*\|")


def _doc_rows() -> list[tuple[str, str, str, str]]:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index("<!-- jobspec-table -->"), text.index("<!-- /jobspec-table -->")
    rows = []
    for line in text[start:end].splitlines():
        found = ROW.match(line)
        if found:
            rows.append((found[1], found[2], found[3], found[4]))
    return rows


DOC_ROWS = _doc_rows()
REFUSED_IN_DOC = {(b, f): evidence for b, f, status, evidence in DOC_ROWS if status == "refused"}
IMPLEMENTED_IN_DOC = [(b, f, evidence) for b, f, status, evidence in DOC_ROWS if status == "implemented"]
TABLE = {(r.stanza, r.field): r for r in UNSUPPORTED}


def test_the_docs_and_the_code_refuse_the_same_fields() -> None:
    assert len(DOC_ROWS) > 150, "the table in docs/jobspec.md was not found"
    assert sorted(REFUSED_IN_DOC) == sorted(TABLE)
    assert len({(b, f) for b, f, _s, _e in DOC_ROWS}) == len(DOC_ROWS), "a field is listed twice"


def _documented_error(row: Refusal) -> str:
    found = re.fullmatch(r"`(.*)`", REFUSED_IN_DOC.get((row.stanza, row.field), ""))
    return found[1] if found else "<no error text in docs/jobspec.md>"


ROWS = [pytest.param(r, id=f"{r.stanza}.{r.field}") for r in UNSUPPORTED]


@pytest.mark.parametrize("row", ROWS)
def test_a_refused_field_is_refused_in_hcl(row: Refusal) -> None:
    text, line = _insert(HCL, row.stanza, lambda indent: _hcl_field(row, indent))
    path = f"{WHERE[row.stanza][0]}.{row.field}"
    issues = _issues(text, "hcl")
    assert any(
        i.startswith(f"t.hcl:{line}:") and i.endswith(f": {path}: {_documented_error(row)}") for i in issues
    ), issues


@pytest.mark.parametrize("row", ROWS)
def test_a_refused_field_is_refused_in_yaml(row: Refusal) -> None:
    text, line = _insert(YAML, row.stanza, lambda _indent: f"{row.field}: {json.dumps(row.sample)}")
    path = f"{WHERE[row.stanza][0]}.{row.field}"
    issues = _issues(text, "yaml")
    assert any(
        i.startswith(f"t.yaml:{line}:") and i.endswith(f": {path}: {_documented_error(row)}") for i in issues
    ), issues


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].json])  # a few have no JSON key
def test_a_refused_field_is_refused_in_nomad_json(row: Refusal) -> None:
    steps = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in WHERE[row.stanza][1])
    path = f"Job{steps}.{row.json}"
    issues = _issues(json.dumps({"Job": _json_job(row)}, indent=2), "json")
    assert any(i.endswith(f": {path}: {_documented_error(row)}") for i in issues), issues


def test_the_job_without_refused_fields_is_valid() -> None:
    """The base job itself passes, so each refusal above comes from its field alone."""
    parse_job(_insert(HCL, "", str)[0], filename="t.hcl")
    parse_job(_insert(YAML, "", str)[0], filename="t.yaml", format="yaml")


@pytest.mark.parametrize(
    ("block", "field", "evidence"), IMPLEMENTED_IN_DOC, ids=[f"{b}.{f}" for b, f, _e in IMPLEMENTED_IN_DOC]
)
def test_an_implemented_field_names_a_test_that_exists(block: str, field: str, evidence: str) -> None:
    tests = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", evidence)
    assert tests, f"{block}.{field}: no test named in {evidence!r}"
    for file, name in tests:
        source = (ROOT / file).read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {name}\(", source, re.M), f"{file}::{name} does not exist"
