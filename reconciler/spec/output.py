"""One job in the output format a user asks for (`reconciler job inspect -o json|yaml|hcl`)."""

from __future__ import annotations

import json

from reconciler.model.job import Job
from reconciler.spec.errors import SpecError, SpecIssue
from reconciler.spec.hcl_format import format_hcl
from reconciler.spec.nomad_json import job_to_nomad
from reconciler.spec.yaml_format import job_to_yaml

OUTPUT_FORMATS = ("json", "yaml", "hcl")


def render_job(job: Job, output: str) -> str:
    """The job as Nomad API JSON (`{"Job": ...}`, indented), YAML or canonical HCL text."""
    if output == "json":
        return json.dumps({"Job": job_to_nomad(job)}, indent=2, ensure_ascii=False) + "\n"
    if output == "yaml":
        return job_to_yaml(job)
    if output == "hcl":
        return format_hcl(job)
    raise SpecError([SpecIssue("", 0, 0, "", f'unknown output format "{output}": use json, yaml or hcl')])
