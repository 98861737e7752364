"""The child jobs launched from template jobs: a periodic job's `<id>/periodic-<t>` and a
parameterized job's `<id>/dispatch-<t>-<hex>` (Nomad's deriveJob and Dispatch), and the
rules a dispatch request must follow. Pure: no clock, no I/O."""

from __future__ import annotations

import base64
import copy

from reconciler.model.job import Job, Parameterized, PayloadRule

# Nomad's DispatchPayloadSizeLimit: a payload travels inside the job record
MAX_PAYLOAD = 16 * 1024


def derive_periodic(parent: Job, child_id: str) -> Job:
    """The job launched from periodic `parent` as `child_id`: a copy without the `periodic`
    block (so it runs), named after its ID, pointing at its parent."""
    child = copy.deepcopy(parent)
    child.id = child_id
    child.name = child_id
    child.periodic = None
    child.parent_id = parent.id
    return child


def derive_dispatched(parent: Job, child_id: str, *, payload: bytes, meta: dict[str, str], token: str) -> Job:
    """The job dispatched from parameterized `parent`: a copy marked `dispatched` (it keeps
    the `parameterized` block, as Nomad's does, and runs), its meta merged over the
    parent's, carrying the payload for the tasks' `dispatch_payload` files."""
    child = copy.deepcopy(parent)
    child.id = child_id
    child.name = child_id
    child.parent_id = parent.id
    child.dispatched = True
    child.meta = {**parent.meta, **meta}
    child.payload = base64.b64encode(payload).decode("ascii")
    child.dispatch_idempotency_token = token
    return child


def payload_bytes(job: Job) -> bytes:
    """A dispatched job's payload, as the dispatch gave it."""
    return base64.b64decode(job.payload) if job.payload else b""


def dispatch_problems(rule: Parameterized, payload: bytes, meta: dict[str, str]) -> list[tuple[str, str]]:
    """What is wrong with dispatching `payload` and `meta` under `rule`, as (request
    field, message) pairs in Nomad's words; empty when the dispatch may go ahead."""
    problems: list[tuple[str, str]] = []
    if rule.payload == PayloadRule.FORBIDDEN and payload:
        problems.append(("Payload", "Payload is not allowed"))
    if rule.payload == PayloadRule.REQUIRED and not payload:
        problems.append(("Payload", "Payload is not provided but required"))
    if len(payload) > MAX_PAYLOAD:
        problems.append(("Payload", f"Payload exceeds maximum size; {len(payload)} > {MAX_PAYLOAD}"))
    missing = sorted(set(rule.meta_required) - set(meta))
    if missing:
        problems.append(("Meta", f"Dispatch did not provide required meta keys: {missing}"))
    unpermitted = sorted(set(meta) - set(rule.meta_required) - set(rule.meta_optional))
    if unpermitted:
        problems.append(("Meta", f"Dispatch provided unpermitted meta keys: {unpermitted}"))
    return problems
