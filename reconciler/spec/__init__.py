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
"""

from typing import TYPE_CHECKING, Any

from reconciler.spec.canonical import canonical, spec_hash
from reconciler.spec.defaults import fill_defaults
from reconciler.spec.diff import JobDiff, diff_jobs
from reconciler.spec.diff_json import diff_to_nomad
from reconciler.spec.errors import SpecError, SpecIssue
from reconciler.spec.model import Job
from reconciler.spec.nomad_json import job_from_nomad, job_to_nomad
from reconciler.spec.output import OUTPUT_FORMATS, render_job
from reconciler.spec.render_diff import render_diff
from reconciler.spec.validate import validate

if TYPE_CHECKING:
    from reconciler.spec.hcl_format import format_hcl
    from reconciler.spec.loader import load_job_file, parse_job
    from reconciler.spec.yaml_format import job_to_yaml

# The text parsers and formatters are imported on first use (PEP 562): they pull in lark,
# python-hcl2 and ruamel.yaml (a third of a second), which the controllers and most CLI
# commands never need. (Names equal to a submodule's, like `validate`, are bound above: a
# submodule import would otherwise shadow them.)
_LAZY = {
    "format_hcl": "hcl_format", "load_job_file": "loader", "parse_job": "loader", "job_to_yaml": "yaml_format",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reconciler.spec' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"reconciler.spec.{module}"), name)
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
    "job_to_nomad",
    "job_to_yaml",
    "load_job_file",
    "parse_job",
    "render_diff",
    "render_job",
    "spec_hash",
    "validate",
]
