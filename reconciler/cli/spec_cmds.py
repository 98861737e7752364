"""CLI commands for job files: `reconciler validate` and `reconciler fmt`.

Thin wrappers over `reconciler.spec`: they read a file, call the library, print what it
says and set the exit code (0 good, 1 invalid or not formatted, 2 usage problems). The
parsers (python-hcl2, Lark) are imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from reconciler.cli.groups import cli, job
from reconciler.cli.variables import parse_var_flags, variable_options
from reconciler.spec.errors import SpecError


def _print_errors(exc: SpecError) -> None:
    for issue in exc.errors:
        click.echo(issue.detailed(), err=True)


@cli.command("validate")
@variable_options
@click.argument("file", type=click.Path(dir_okay=False))
def validate_cmd(file: str, var_flags: tuple[str, ...], var_files: tuple[str, ...]) -> None:
    """Check a job file (.nomad, .hcl, .json, .yaml) and list every error."""
    from reconciler.spec.loader import load_job_file

    variables = parse_var_flags(var_flags)
    try:
        load_job_file(file, variables=variables, var_files=list(var_files), env=os.environ)
    except SpecError as exc:
        click.echo("Job validation errors:", err=True)
        _print_errors(exc)
        sys.exit(1)
    click.echo("Job validation successful")


job.add_command(validate_cmd, "validate")  # `job validate`, as Nomad's alias of `validate`


@cli.command("fmt")
@click.option(
    "-check",
    "--check",
    "check",
    is_flag=True,
    help="Exit 1 (and name the file) if it is not formatted; write nothing.",
)
@click.option("-write", "-w", "--write", "write", is_flag=True, help="Rewrite the file in canonical form.")
@variable_options
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def fmt_cmd(
    file: str, check: bool, write: bool, var_flags: tuple[str, ...], var_files: tuple[str, ...]
) -> None:
    """Format an HCL job file as `nomad fmt` does: indentation and `=` alignment only, with
    comments, variables and everything else kept as written (see `spec.hcl_fmt`). A JSON or
    YAML job is printed as canonical HCL instead (`-var`/`-var-file` apply to that)."""
    text, name, fmt = _read_source(file)
    try:
        formatted = _formatted(text, name, fmt, var_flags, var_files)
    except SpecError as exc:
        _print_errors(exc)
        sys.exit(1)
    if check:
        if text != formatted:
            click.echo(name)
            sys.exit(1)
        return
    if write:
        _write_formatted(file, name, fmt, text, formatted)
        return
    click.echo(formatted, nl=False)


def _formatted(text: str, name: str, fmt: str, var_flags: tuple[str, ...], var_files: tuple[str, ...]) -> str:
    from reconciler.spec.hcl_fmt import format_hcl_text
    from reconciler.spec.hcl_format import format_hcl
    from reconciler.spec.loader import parse_job

    if fmt == "hcl":
        return format_hcl_text(text, name)
    job = parse_job(
        text,
        filename=name,
        format=fmt,
        variables=parse_var_flags(var_flags),
        var_files=list(var_files),
        env=os.environ,
    )
    return format_hcl(job)


def _read_source(file: str) -> tuple[str, str, str]:
    """(text, name to show, format) of `file`, `-` being HCL on stdin."""
    from reconciler.spec.loader import format_of

    if file == "-":
        return sys.stdin.read(), "<stdin>", "hcl"
    try:
        return Path(file).read_text(encoding="utf-8"), file, format_of(file)
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"cannot read {file}: {exc}") from None
    except SpecError as exc:
        _print_errors(exc)
        sys.exit(2)


def _write_formatted(file: str, name: str, fmt: str, text: str, formatted: str) -> None:
    """fmt -write: rewrite an HCL file formatted (and name it) if that changes it."""
    if file == "-" or fmt != "hcl":
        raise click.UsageError("-write needs an HCL file (.nomad or .hcl)")
    if text != formatted:
        Path(file).write_text(formatted, encoding="utf-8")
        click.echo(name)
