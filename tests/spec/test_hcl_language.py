"""HCL2 as Nomad reads it: variables and their sources, locals, expressions, functions,
runtime interpolations kept verbatim, and errors for what cannot be evaluated."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from reconciler.spec import SpecError, load_job_file, parse_job

JOB = """
{head}
job "todo" {{
  datacenters = ["dc1"]
  meta {{
    value = {expr}
  }}
  group "web" {{
    count = {count}
    task "todo" {{
      driver = "raw_exec"
      config {{
        command = "/bin/true"
      }}
    }}
  }}
}}
"""


def meta_value(expr: str, head: str = "", **kwargs: Any) -> str:
    job = parse_job(JOB.format(head=head, expr=expr, count=1), **kwargs)
    return job.meta["value"]


def count_of(expr: str, head: str = "", **kwargs: Any) -> int:
    return parse_job(JOB.format(head=head, expr='"x"', count=expr), **kwargs).task_groups[0].count


EXPRESSIONS = [
    pytest.param('"plain"', "plain", id="a plain string"),
    pytest.param("42", "42", id="a number becomes text in meta"),
    pytest.param('upper("todo")', "TODO", id="upper"),
    pytest.param('lower("TODO")', "todo", id="lower"),
    pytest.param('format("%s-%d", "web", 3)', "web-3", id="format"),
    pytest.param('join(",", ["a", "b"])', "a,b", id="join"),
    pytest.param('element(split(",", "a,b,c"), 1)', "b", id="split and element"),
    pytest.param('length(concat(["a"], ["b", "c"]))', "3", id="length of concat"),
    pytest.param('lookup(merge({ a = "1" }, { b = "2" }), "b", "none")', "2", id="merge and lookup"),
    pytest.param('lookup({ a = "1" }, "z", "none")', "none", id="lookup default"),
    pytest.param('coalesce("", "fallback")', "fallback", id="coalesce"),
    pytest.param('replace("a-b-c", "-", "_")', "a_b_c", id="replace"),
    pytest.param('trimspace("  x  ")', "x", id="trimspace"),
    pytest.param('substr("hello", 1, 3)', "ell", id="substr"),
    pytest.param('contains(["a", "b"], "b") ? "yes" : "no"', "yes", id="contains and conditional"),
    pytest.param('join(",", keys({ b = 1, a = 2 }))', "a,b", id="keys are sorted"),
    pytest.param('join(",", values({ b = "1", a = "2" }))', "2,1", id="values follow sorted keys"),
    pytest.param('join(",", range(3))', "0,1,2", id="range"),
    pytest.param("jsonencode({ a = [1, true] })", '{"a":[1,true]}', id="jsonencode"),
    pytest.param('jsondecode("{\\"a\\": 5}").a', "5", id="jsondecode and attribute"),
    pytest.param("min(3, 1, 2) + max(4, 5) * abs(-2)", "11", id="arithmetic precedence"),
    pytest.param('tostring(7) == "7"', "true", id="tostring and equality"),
    pytest.param('tonumber("2.5") * 2', "5", id="tonumber"),
    pytest.param("10 / 4", "2.5", id="division"),
    pytest.param("7 % 3 >= 1 && !false", "true", id="modulo, comparison, logic"),
    pytest.param('"${upper("a")}-${1 + 1}"', "A-2", id="template interpolation"),
    pytest.param('"$${not_evaluated}"', "${not_evaluated}", id="escaped interpolation"),
    pytest.param('"port ${NOMAD_PORT_http}"', "port ${NOMAD_PORT_http}", id="runtime port kept"),
    pytest.param('"${node.unique.name}"', "${node.unique.name}", id="runtime node attribute kept"),
    pytest.param(
        '"${attr.kernel.name}/${meta.rack}"', "${attr.kernel.name}/${meta.rack}", id="attr and meta kept"
    ),
    pytest.param('"${env["HOME"]}"', '${env["HOME"]}', id="runtime env kept"),
    pytest.param('"a\\tb\\n"', "a\tb\n", id="escapes"),
    pytest.param('<<EOT\nline ${upper("x")}\nEOT', "line X\n", id="heredoc with interpolation"),
    pytest.param("<<-EOT\n    indented\n      more\n    EOT", "indented\n  more\n", id="indented heredoc"),
]


@pytest.mark.parametrize(("expr", "expected"), EXPRESSIONS)
def test_expression(expr: str, expected: str) -> None:
    assert meta_value(expr) == expected


VARIABLES = textwrap.dedent(
    """\
    variable "n" {
      type = number
      default = 2
    }
    locals {
      twice = var.n * 2
      label = "x${local.twice}"
    }"""
)


def test_variable_default_and_locals() -> None:
    assert count_of("local.twice", VARIABLES) == 4
    assert meta_value("local.label", VARIABLES) == "x4"


def test_variable_sources_follow_nomads_precedence(tmp_path: Path) -> None:
    first = tmp_path / "a.vars.hcl"
    first.write_text("n = 10\n")
    second = tmp_path / "b.vars.json"
    second.write_text('{"n": 20}')
    env = {"NOMAD_VAR_n": "5"}
    assert count_of("var.n", VARIABLES, env=env) == 5
    assert count_of("var.n", VARIABLES, env=env, var_files=[str(first)]) == 10
    assert count_of("var.n", VARIABLES, env=env, var_files=[str(first), str(second)]) == 20
    assert count_of("var.n", VARIABLES, env=env, var_files=[str(first)], variables={"n": "30"}) == 30


def test_conditional_on_a_variable() -> None:
    head = 'variable "big" {\n  type = bool\n  default = false\n}'
    assert count_of("var.big ? 5 : 1", head) == 1
    assert count_of("var.big ? 5 : 1", head, variables={"big": "true"}) == 5


def test_list_variable_from_the_command_line() -> None:
    head = 'variable "dcs" {\n  type = list(string)\n}'
    assert meta_value('join("+", var.dcs)', head, variables={"dcs": '["a", "b"]'}) == "a+b"


def test_file_is_read_relative_to_the_job_file(tmp_path: Path) -> None:
    (tmp_path / "motd.txt").write_text("hello\n")
    path = tmp_path / "job.nomad"
    path.write_text(JOB.format(head="", expr='trimspace(file("motd.txt"))', count=1))
    assert load_job_file(path).meta["value"] == "hello"


ERRORS = [
    pytest.param(
        "",
        "var.missing",
        None,
        '<input>:9:13: job.todo.group.web.count: reference to undeclared variable "missing"',
        id="undeclared variable",
    ),
    pytest.param(
        'variable "n" {}',
        "var.n",
        None,
        '<input>:2:1: variable.n: variable "n" is not set: '
        "give it a default, -var n=..., a -var-file or NOMAD_VAR_n",
        id="variable without a value",
    ),
    pytest.param(
        'variable "n" {\n  type = number\n}',
        "var.n",
        {"n": "many"},
        '<input>:2:1: variable.n: variable "n" must be a number, got "many"',
        id="variable of the wrong type",
    ),
    pytest.param(
        "",
        "1",
        {"x": "1"},
        '<input>: variable.x: -var "x": the job file declares no variable "x"',
        id="-var for an undeclared variable",
    ),
    pytest.param(
        "",
        "local.nope",
        None,
        '<input>:9:13: job.todo.group.web.count: reference to undeclared local "nope"',
        id="undeclared local",
    ),
    pytest.param(
        "locals {\n  a = local.b\n  b = local.a\n}",
        "local.a",
        None,
        "<input>:4:7: job.todo.group.web.count: locals refer to each other in a cycle: a -> b -> a",
        id="locals in a cycle",
    ),
    pytest.param(
        "",
        "NOMAD_ALLOC_INDEX",
        None,
        '<input>:9:13: job.todo.group.web.count: unknown name "NOMAD_ALLOC_INDEX": '
        "only var.*, local.* and functions "
        'can be used outside a string; runtime values such as "${NOMAD_PORT_http}" must be inside quotes',
        id="runtime name outside a string",
    ),
    pytest.param(
        "", "1 / 0", None, "<input>:9:13: job.todo.group.web.count: division by zero", id="division by zero"
    ),
    pytest.param(
        "",
        "upper(1, 2)",
        None,
        "<input>:9:13: job.todo.group.web.count: upper() takes 1 arguments, got 2",
        id="wrong number of arguments",
    ),
]


@pytest.mark.parametrize(("head", "count", "variables", "message"), ERRORS)
def test_evaluation_errors(head: str, count: str, variables: dict[str, str] | None, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_job(JOB.format(head=head, expr='"x"', count=count), variables=variables)
    assert str(info.value.errors[0]) == message


def test_every_error_is_reported_at_once() -> None:
    text = JOB.format(head="", expr="var.a", count="var.b")
    with pytest.raises(SpecError) as info:
        parse_job(text)
    assert [e.path for e in info.value.errors] == ["job.todo.meta.value", "job.todo.group.web.count"]


def test_yaml_job_with_lines() -> None:
    text = textwrap.dedent(
        """\
        job:
          todo:
            group:
              web:
                count: -3
                task:
                  t:
                    driver: exec
                    config: {command: /bin/true}
        """
    )
    with pytest.raises(SpecError) as info:
        parse_job(text, format="yaml", filename="todo.yaml")
    assert (
        str(info.value.errors[0])
        == "todo.yaml:5:9: job.todo.group.web.count: must be a non-negative integer, got -3"
    )


def test_spec_issue_string_form() -> None:
    with pytest.raises(SpecError) as info:
        parse_job(JOB.format(head="", expr='"x"', count='"five"'), filename="todo.nomad")
    assert (
        str(info.value.errors[0])
        == 'todo.nomad:9:5: job.todo.group.web.count: must be a non-negative integer, got "five"'
    )


def test_the_variables_example() -> None:
    from tests.spec.paths import EXAMPLES

    path = EXAMPLES / "todo-java-variables.nomad"
    default = load_job_file(path)
    tuned = load_job_file(path, variables={"instances": "3", "canary": "true"})
    assert default.task_groups[0].count == 5
    assert tuned.task_groups[0].count == 3
    update = tuned.task_groups[0].update
    assert update is not None
    assert (update.canary, update.max_parallel) == (1, 3)
    options = tuned.task_groups[0].tasks[0].config["jvm_options"]
    assert options[:3] == ["-Xmx256m", "-Xms256m", "-Dquarkus.http.port=${NOMAD_PORT_http}"]
    assert options[3] == "-Dquarkus.http.header.TodoServer.value=${NOMAD_IP_http}:${NOMAD_PORT_http}"
    assert tuned.task_groups[0].services[0].tags == ["urlprefix-/todo"]
