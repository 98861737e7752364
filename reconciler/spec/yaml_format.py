"""The job model as YAML text in the shape `yaml_reader` reads (`job: {todo: {group: ...}}`).

Built from the canonical HCL: `format_hcl` decides what to write (defaults left out), the
HCL reader turns that text into the format-neutral raw tree, and the tree is laid out as
YAML (labelled blocks as maps by label, repeated blocks as lists). So HCL and YAML output
always agree and both read back to the same job.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from reconciler.model.job import Job
from reconciler.spec.errors import Issues, SpecError
from reconciler.spec.hcl_format import format_hcl
from reconciler.spec.hcl_reader import Locals, split_top, to_raw
from reconciler.spec.hcl_syntax import parse_tree
from reconciler.spec.rawtree import RawBlock
from reconciler.spec.yaml_reader import LABELLED


def raw_to_data(raw: RawBlock) -> dict[str, Any]:
    """A raw block's body as plain YAML-ready data."""
    out: dict[str, Any] = {name: rv.value for name, rv in raw.attrs.items()}
    for block in raw.blocks:
        body = raw_to_data(block)
        if block.type in LABELLED:
            out.setdefault(block.type, {})[block.labels[0]] = body
        elif block.type in out:
            existing = out[block.type]
            out[block.type] = [*existing, body] if isinstance(existing, list) else [existing, body]
        else:
            out[block.type] = body
    return out


def _safe_strings(value: Any) -> Any:
    """Strings with line separators or control characters double-quoted (ruamel mangles them otherwise)."""
    if isinstance(value, dict):
        return {_safe_strings(k): _safe_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe_strings(v) for v in value]
    if isinstance(value, str) and not value.isprintable():
        return DoubleQuotedScalarString(value)
    return value


def job_to_data(job: Job) -> dict[str, Any]:
    text = format_hcl(job)
    issues = Issues("<format>")
    hcl = split_top(parse_tree(text, "<format>"), issues)
    raw = to_raw(
        hcl.jobs[0], parent="", index=0, source=text, scope=Locals([], text, {}, None).scope, issues=issues
    )
    if issues:
        raise SpecError(issues.items)
    return {"job": {job.id: raw_to_data(raw)}}


def job_to_yaml(job: Job) -> str:
    """YAML text for `job`; `parse_job(text, format="yaml")` reads it back to the same job."""
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 4096
    buf = io.StringIO()
    yaml.dump(_safe_strings(job_to_data(job)), buf)
    return buf.getvalue()
