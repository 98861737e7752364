"""Entry points that turn a job file's text into a validated `Job`.

`parse_job` picks the reader by format (HCL, Nomad JSON, YAML), decodes to the model,
fills defaults and validates; every problem from every stage comes back in one
`SpecError`, each issue placed at the line the decoder recorded for its path. Anything
unexpected inside a reader is also turned into a `SpecError`, so callers (API, CLI, specs
watcher) need to handle exactly one exception type.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from reconciler.model.job import Job
from reconciler.spec.decode import decode_job
from reconciler.spec.defaults import fill_defaults
from reconciler.spec.errors import NOWHERE, Issues, Pos, SpecError, SpecIssue
from reconciler.spec.hcl_reader import Locals, split_top, to_raw
from reconciler.spec.hcl_syntax import parse_tree
from reconciler.spec.json_positions import locate
from reconciler.spec.nomad_json import job_from_nomad
from reconciler.spec.rawtree import RawBlock
from reconciler.spec.reader import Positions
from reconciler.spec.validate import validate
from reconciler.spec.variables import resolve_variables
from reconciler.spec.yaml_reader import read_yaml

FORMATS = {".nomad": "hcl", ".hcl": "hcl", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}
MAX_BYTES = 4 * 1024 * 1024


def _locate(issue: SpecIssue, positions: Positions, file: str) -> SpecIssue:
    path = issue.path
    while path:
        pos = positions.get(path)
        if pos is not None and pos.line:
            return issue.located(file, pos)
        path = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", path) if re.search(r"(\.[^.\[]*|\[\d+\])$", path) else ""
    return issue.located(file, NOWHERE)


def _hcl_raw(
    text: str,
    filename: str,
    issues: Issues,
    *,
    variables: Mapping[str, str] | None,
    var_files: list[str] | None,
    env: Mapping[str, str] | None,
) -> RawBlock | None:
    if not text.endswith("\n"):
        text += "\n"
    tree = parse_tree(text, filename)
    hcl = split_top(tree, issues)
    values = resolve_variables(
        hcl.variables, source=text, variables=variables, var_files=var_files, env=env, issues=issues
    )
    if not hcl.jobs:
        issues.add("job", 'no job block found: a job file needs job "NAME" { ... }', Pos(1, 1))
        return None
    for extra in hcl.jobs[1:]:
        issues.add("job", "a job file holds exactly one job block", extra.pos)
    block = hcl.jobs[0]
    if len(block.labels) != 1:
        issues.add("job", 'the job block needs exactly one name: job "NAME" { ... }', block.pos)
        if not block.labels:
            return None
        block.labels = block.labels[:1]
    base_dir = Path(filename).resolve().parent if filename and not filename.startswith("<") else None
    scope = Locals(hcl.locals, text, values, base_dir).scope
    return to_raw(block, parent="", index=0, source=text, scope=scope, issues=issues)


def _follows_from(issue: SpecIssue, failed: set[str]) -> bool:
    """True for a semantic issue caused by a field that already failed to decode."""
    if issue.path in failed:
        return True
    return issue.path.count(".") > 3 and any(p.startswith(issue.path + ".") for p in failed)


def _finish(job: Job, positions: Positions, issues: Issues, *, check: bool = True) -> Job:
    job = fill_defaults(job)
    failed = {i.path for i in issues.items} | issues.failed_paths
    for issue in validate(job) if check else []:
        if not _follows_from(issue, failed):
            issues.items.append(_locate(issue, positions, issues.file))
    if issues:
        raise SpecError(sorted(issues.items, key=lambda i: (i.line == 0, i.line, i.column)))
    return job


def _parse(
    text: str,
    *,
    filename: str,
    format: str,
    variables: Mapping[str, str] | None,
    var_files: list[str] | None,
    env: Mapping[str, str] | None,
    check: bool = True,
) -> Job:
    issues = Issues(filename)
    if len(text) > MAX_BYTES:
        raise SpecError([SpecIssue(filename, 0, 0, "", f"job file is larger than {MAX_BYTES} bytes")])
    if format == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            line, col = getattr(exc, "lineno", 0), getattr(exc, "colno", 0)
            msg = getattr(exc, "msg", str(exc))
            raise SpecError([SpecIssue(filename, line, col, "", f"invalid JSON: {msg}")]) from None
        try:
            job = job_from_nomad(data)
        except SpecError as exc:
            raise SpecError([i.located(filename, locate(text, i.path)) for i in exc.errors]) from None
        return _finish(job, {}, issues, check=check)
    if format == "hcl":
        raw = _hcl_raw(text, filename, issues, variables=variables, var_files=var_files, env=env)
    elif format == "yaml":
        raw = read_yaml(text, issues)
    else:
        raise SpecError([SpecIssue(filename, 0, 0, "", f'unknown format "{format}": use hcl, json or yaml')])
    if raw is None:
        issues.raise_if_any()
        raise SpecError([SpecIssue(filename, 0, 0, "", "no job found")])
    job, positions = decode_job(raw, issues)
    return _finish(job, positions, issues, check=check)


def parse_job(
    text: str,
    *,
    filename: str = "<input>",
    format: str = "hcl",
    variables: Mapping[str, str] | None = None,
    var_files: list[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Job:
    """The validated job in `text` (format "hcl", "json" or "yaml"); SpecError lists every problem.

    `env` supplies `NOMAD_VAR_*` values (pass `os.environ` to use the process's)."""
    try:
        return _parse(
            text, filename=filename, format=format, variables=variables, var_files=var_files, env=env
        )
    except SpecError:
        raise
    except RecursionError:
        raise SpecError([SpecIssue(filename, 0, 0, "", "the job file is nested too deeply")]) from None
    except MemoryError:
        raise  # a limit, not a reader bug: the parse worker answers it (api/parsing.py)
    except Exception as exc:  # a reader bug must not escape as anything but SpecError
        raise SpecError(
            [SpecIssue(filename, 0, 0, "", f"cannot read the job: {type(exc).__name__}: {exc}")]
        ) from None


def read_job(text: str, *, filename: str = "<input>", format: str = "hcl") -> Job:
    """The job in `text` with defaults filled in, checked for syntax and types only (no `validate`).

    For tools that must handle jobs the semantic rules would reject (formatting, tests)."""
    try:
        return _parse(
            text, filename=filename, format=format, variables=None, var_files=None, env=None, check=False
        )
    except SpecError:
        raise
    except Exception as exc:
        raise SpecError(
            [SpecIssue(filename, 0, 0, "", f"cannot read the job: {type(exc).__name__}: {exc}")]
        ) from None


def format_of(path: str) -> str:
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise SpecError(
            [SpecIssue(path, 0, 0, "", "unknown file type: use .nomad, .hcl, .json, .yaml or .yml")]
        )
    return fmt


def load_job_file(
    path: str | os.PathLike[str],
    *,
    variables: dict[str, str] | None = None,
    var_files: list[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Job:
    """The validated job in the file at `path`, its format chosen by the extension."""
    name = str(path)
    fmt = format_of(name)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(
            [SpecIssue(name, 0, 0, "", f"cannot read the file: {getattr(exc, 'strerror', None) or exc}")]
        ) from None
    return parse_job(text, filename=name, format=fmt, variables=variables, var_files=var_files, env=env)
