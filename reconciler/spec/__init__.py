"""Job specifications: HCL2, Nomad JSON and YAML into one validated job model.

The public surface other packages use (API, CLI, specs watcher, plan):

- `load_job_file(path, *, variables, var_files, env) -> Job` and
  `parse_job(text, *, filename, format, variables, var_files, env) -> Job`
- `job_from_nomad(data) -> Job`, `job_to_nomad(job) -> dict`
- `validate(job) -> list[SpecIssue]`
- `canonical(job) -> dict`, `spec_hash(job) -> str`
- `diff_jobs(old, new) -> JobDiff`, `render_diff(diff, *, verbose, group_counts) -> str`,
  `diff_to_nomad(diff, group_counts) -> dict` (the plan API's `Diff`)
- `format_hcl(job) -> str`, `job_to_yaml(job) -> str`, `render_job(job, "json"|"yaml"|"hcl") -> str`
- `SpecError` (the one error type, `.errors: list[SpecIssue]`)

Names are imported on first use, so `import reconciler.model.job` (what most of the code
base needs) does not load the HCL and YAML parsers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reconciler.model.job import Job

# Light modules (no parser libraries) are imported at once; some share a name with the
# function they export (`validate`, `canonical`, `render_diff`), so they must not be lazy.
from reconciler.spec.canonical import canonical, spec_hash
from reconciler.spec.defaults import fill_defaults
from reconciler.spec.diff import JobDiff, diff_jobs
from reconciler.spec.diff_json import diff_to_nomad
from reconciler.spec.errors import SpecError, SpecIssue
from reconciler.spec.nomad_json import job_from_nomad, job_from_request, job_to_nomad
from reconciler.spec.render_diff import render_diff
from reconciler.spec.validate import validate

if TYPE_CHECKING:
    from reconciler.spec.hcl_format import format_hcl
    from reconciler.spec.loader import load_job_file, parse_job
    from reconciler.spec.output import OUTPUT_FORMATS, render_job
    from reconciler.spec.yaml_format import job_to_yaml

# Names whose modules load python-hcl2 / Lark / ruamel.yaml: imported on first use.
_LAZY: dict[str, str] = {
    "format_hcl": "reconciler.spec.hcl_format",
    "load_job_file": "reconciler.spec.loader",
    "parse_job": "reconciler.spec.loader",
    "OUTPUT_FORMATS": "reconciler.spec.output",
    "render_job": "reconciler.spec.output",
    "job_to_yaml": "reconciler.spec.yaml_format",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reconciler.spec' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "OUTPUT_FORMATS",
    "Job",
    "JobDiff",
    "SpecError",
    "SpecIssue",
    "canonical",
    "diff_jobs",
    "diff_to_nomad",
    "fill_defaults",
    "format_hcl",
    "job_from_nomad",
    "job_from_request",
    "job_to_nomad",
    "job_to_yaml",
    "load_job_file",
    "parse_job",
    "render_diff",
    "render_job",
    "spec_hash",
    "validate",
]
