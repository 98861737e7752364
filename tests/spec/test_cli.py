"""`reconciler validate` and `reconciler fmt`, run through click's test runner."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli.spec_cmds import fmt_cmd, parse_var_flags, validate_cmd
from reconciler.spec import format_hcl, load_job_file
from reconciler.spec.hcl_fmt import format_hcl_text
from tests.spec.paths import BROKEN, EXAMPLES


def test_validate_success() -> None:
    result = CliRunner().invoke(validate_cmd, [str(EXAMPLES / "todo-java.nomad")])
    assert result.exit_code == 0
    assert result.output == "Job validation successful\n"


def test_validate_lists_every_error() -> None:
    result = CliRunner().invoke(validate_cmd, [str(BROKEN / "unknown_field.nomad")])
    assert result.exit_code == 1
    assert 'unknown field "coutn", did you mean "count"?' in result.output
    assert 'unknown field "memroy", did you mean "memory"?' in result.output


def test_validate_takes_variables(tmp_path: Path) -> None:
    job = tmp_path / "job.nomad"
    job.write_text((BROKEN / "missing_variable.nomad").read_text())
    assert CliRunner().invoke(validate_cmd, [str(job)]).exit_code == 1
    ok = CliRunner().invoke(validate_cmd, [str(job), "-var", "jar=/app.jar"])
    assert ok.exit_code == 0, ok.output
    varfile = tmp_path / "vars.hcl"
    varfile.write_text('jar = "/other.jar"\n')
    assert CliRunner().invoke(validate_cmd, [str(job), "-var-file", str(varfile)]).exit_code == 0


def test_fmt_check_and_write(tmp_path: Path) -> None:
    job = tmp_path / "todo.nomad"
    shutil.copy(EXAMPLES / "todo-java.nomad", job)
    check = CliRunner().invoke(fmt_cmd, ["-check", str(job)])
    assert check.exit_code == 1
    assert check.output == f"{job}\n"
    write = CliRunner().invoke(fmt_cmd, ["-write", str(job)])
    assert write.exit_code == 0
    assert job.read_text() == format_hcl_text((EXAMPLES / "todo-java.nomad").read_text())
    assert load_job_file(job) == load_job_file(EXAMPLES / "todo-java.nomad")
    assert CliRunner().invoke(fmt_cmd, ["-check", str(job)]).exit_code == 0


def test_fmt_of_a_formatted_file_prints_it_unchanged() -> None:
    result = CliRunner().invoke(fmt_cmd, [str(EXAMPLES / "consul.nomad")])
    assert result.exit_code == 0
    assert result.output == (EXAMPLES / "consul.nomad").read_text()


def test_fmt_prints_a_json_job_as_canonical_hcl() -> None:
    result = CliRunner().invoke(fmt_cmd, [str(EXAMPLES / "todo-java.json")])
    assert result.exit_code == 0
    assert result.output == format_hcl(load_job_file(EXAMPLES / "todo-java.json"))


def test_fmt_keeps_comments_and_variables(tmp_path: Path) -> None:
    """As `nomad fmt`: the text is formatted, not the evaluated job re-rendered (issue 12)."""
    job = tmp_path / "job.nomad"
    job.write_text(UNFORMATTED)
    result = CliRunner().invoke(fmt_cmd, ["-w", str(job)])
    assert result.exit_code == 0, result.output
    assert job.read_text() == FORMATTED
    assert CliRunner().invoke(fmt_cmd, ["-check", str(job)]).exit_code == 0


UNFORMATTED = """# the jar comes from the CI build
variable "jar" {
type = string
}

job "todo" {
    datacenters = ["dc1"]   # where it runs
  group "web" {
    count  =  2
    task "todo" {
      driver = "java"
      config {
          jar_path = var.jar /* not inlined */
        jvm_options = [
        "-Xmx256m",
        ]
      }
      template {
        data = <<EOT
   kept   as written
EOT
        destination = "local/x"
      }
    }
  }
}

"""
FORMATTED = """# the jar comes from the CI build
variable "jar" {
  type = string
}

job "todo" {
  datacenters = ["dc1"]   # where it runs
  group "web" {
    count = 2
    task "todo" {
      driver = "java"
      config {
        jar_path    = var.jar /* not inlined */
        jvm_options = [
          "-Xmx256m",
        ]
      }
      template {
        data = <<EOT
   kept   as written
EOT
        destination = "local/x"
      }
    }
  }
}
"""


def test_var_flags() -> None:
    assert parse_var_flags(("a=1", "b=x=y", "c=")) == {"a": "1", "b": "x=y", "c": ""}


def test_a_syntax_error_shows_the_line_with_a_caret_under_the_column() -> None:
    """As HCL's own diagnostics do: the attribute's path, then its source line and a caret."""
    result = CliRunner().invoke(validate_cmd, [str(BROKEN / "syntax_missing_value.nomad")])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    at = next(i for i, line in enumerate(lines) if "job.todo.group.web.count: expected a value" in line)
    assert lines[at + 1 : at + 3] == ["  3 |     count =", "    |            ^"]
