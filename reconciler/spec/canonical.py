"""The canonical form of a job and its stable hash, to tell whether a spec changed.

The canonical form is the Nomad API JSON of the job with defaults filled in; the hash is
the SHA-256 of that form serialised with sorted keys and no whitespace. Two files that
mean the same job (HCL or YAML or JSON, any formatting, defaults written or not) hash
the same.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from reconciler.model.job import Job
from reconciler.spec.defaults import fill_defaults
from reconciler.spec.nomad_json import job_to_nomad


def canonical(job: Job) -> dict[str, Any]:
    """The job as plain data in Nomad's API shape, defaults filled in."""
    return job_to_nomad(fill_defaults(job))


def spec_hash(job: Job) -> str:
    """A hex SHA-256 of the canonical form: equal for equal jobs, across processes and runs."""
    text = json.dumps(canonical(job), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
