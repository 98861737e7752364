"""Nomad's `-var name=value` / `-var-file FILE` flags, shared by `apply`, `job run`, `plan`,
`validate` and `fmt`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def variable_options(fn: F) -> F:
    """Adds Nomad's `-var name=value` and `-var-file FILE` flags (repeatable) to a command."""
    fn = click.option(
        "-var-file",
        "--var-file",
        "var_files",
        multiple=True,
        metavar="FILE",
        help="HCL (or .json) file of variable values; repeatable, later files win.",
    )(fn)
    fn = click.option(
        "-var",
        "--var",
        "var_flags",
        multiple=True,
        metavar="NAME=VALUE",
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
