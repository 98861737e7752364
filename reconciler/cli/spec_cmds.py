"""CLI commands for job files: `reconciler validate` and `reconciler fmt`.

Thin wrappers over `reconciler.spec`: they read a file, call the library, print what it
says and set the exit code (0 good, 1 invalid or not formatted, 2 usage problems). The
lead registers `validate_cmd` and `fmt_cmd` on the main command group; `variable_options`
gives `apply` and `plan` the same `-var` / `-var-file` flags, and `parse_var_flags` turns
them into the mapping the loaders take.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.spec import SpecError, format_hcl, load_job_file, parse_job
from reconciler.spec.loader import format_of

F = TypeVar("F", bound=Callable[..., Any])


def variable_options(fn: F) -> F:
    """Adds Nomad's `-var name=value` and `-var-file FILE` flags (repeatable) to a command."""
    fn = click.option(
        "-var-file", "--var-file", "var_files", multiple=True, metavar="FILE",
        help="HCL (or .json) file of variable values; repeatable, later files win.",
    )(fn)
    fn = click.option(
        "-var", "--var", "var_flags", multiple=True, metavar="NAME=VALUE",
        help="Value of a variable declared in the job file; repeatable, wins over files and NOMAD_VAR_*.",
    )(fn)
    return fn


def parse_var_flags(flags: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`("a=1", "b=x=y")` as `{"a": "1", "b": "x=y"}`; click.UsageError on a flag without `=`."""
    out: dict[str, str] = {}
    for flag in flags:
        name, sep, value = flag.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f'-var "{flag}": expected NAME=VALUE')
        out[name.strip()] = value
    return out


def _print_errors(exc: SpecError) -> None:
    for issue in exc.errors:
        click.echo(str(issue), err=True)


@click.command("validate")
@variable_options
@click.argument("file", type=click.Path(dir_okay=False))
def validate_cmd(file: str, var_flags: tuple[str, ...], var_files: tuple[str, ...]) -> None:
    """Check a job file (.nomad, .hcl, .json, .yaml) and list every error."""
    variables = parse_var_flags(var_flags)
    try:
        load_job_file(file, variables=variables, var_files=list(var_files), env=os.environ)
    except SpecError as exc:
        click.echo("Job validation errors:", err=True)
        _print_errors(exc)
        sys.exit(1)
    click.echo("Job validation successful")


def _has_inputs(text: str) -> bool:
    return any(line.lstrip().startswith(("variable ", "variable\t", "locals ", "locals{")) for line in text.splitlines())


@click.command("fmt")
@click.option("-check", "--check", "check", is_flag=True, help="Exit 1 (and name the file) if it is not formatted; write nothing.")
@click.option("-write", "-w", "--write", "write", is_flag=True, help="Rewrite the file in canonical form.")
@variable_options
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def fmt_cmd(file: str, check: bool, write: bool, var_flags: tuple[str, ...], var_files: tuple[str, ...]) -> None:
    """Print a job file in canonical HCL (defaults left out, fixed order and alignment).

    The canonical form is the evaluated job: comments are not kept, and a file with
    `variable` or `locals` blocks is shown with their values filled in (so -write and
    -check refuse such files)."""
    if file == "-":
        text, name, fmt = sys.stdin.read(), "<stdin>", "hcl"
    else:
        try:
            text = Path(file).read_text(encoding="utf-8")
            fmt = format_of(file)
        except (OSError, UnicodeDecodeError) as exc:
            raise click.UsageError(f"cannot read {file}: {exc}") from None
        except SpecError as exc:
            _print_errors(exc)
            sys.exit(2)
        name = file
    try:
        job = parse_job(text, filename=name, format=fmt, variables=parse_var_flags(var_flags),
                        var_files=list(var_files), env=os.environ)
    except SpecError as exc:
        _print_errors(exc)
        sys.exit(1)
    formatted = format_hcl(job)
    if (check or write) and fmt == "hcl" and _has_inputs(text):
        click.echo(f"{name}: has variable or locals blocks; fmt would replace them with their values", err=True)
        sys.exit(2)
    if check:
        if text != formatted:
            click.echo(name)
            sys.exit(1)
        return
    if write:
        if file == "-" or fmt != "hcl":
            raise click.UsageError("-write needs an HCL file (.nomad or .hcl)")
        if text != formatted:
            if "#" in text or "//" in text or "/*" in text:
                click.echo(f"{name}: comments are not kept by fmt", err=True)
            Path(file).write_text(formatted, encoding="utf-8")
            click.echo(name)
        return
    click.echo(formatted, nl=False)
