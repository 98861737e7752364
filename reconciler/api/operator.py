"""The scheduler configuration in Nomad's paths and shapes:

    GET /v1/operator/scheduler/configuration
    PUT|POST /v1/operator/scheduler/configuration[?cas=<index>]   {SchedulerConfiguration}

Only `PreemptionConfig` is acted on (controllers/scheduler/preemption.py); Nomad's other
fields are answered with the values this scheduler works with and refused (400, naming the
field) when a request asks for anything else. As in Nomad's agent, a `PreemptionConfig`
flag missing from the body is false.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.api.http import body_object, ok, run
from reconciler.model.scheduler_config import PreemptionConfig, SchedulerConfig
from reconciler.ops.operator import StoredConfig, get_scheduler_config, set_scheduler_config

routes = web.RouteTableDef()

PATH = "/v1/operator/scheduler/configuration"

# Nomad's fields this scheduler has one value for: (JSON key, the only value accepted)
FIXED: tuple[tuple[str, Any], ...] = (
    ("SchedulerAlgorithm", "binpack"),
    ("MemoryOversubscriptionEnabled", False),
    ("RejectJobRegistration", False),
    ("PauseEvalBroker", False),
)
_PREEMPTION = (
    ("SystemSchedulerEnabled", "system_scheduler_enabled"),
    ("SysBatchSchedulerEnabled", "sysbatch_scheduler_enabled"),
    ("BatchSchedulerEnabled", "batch_scheduler_enabled"),
    ("ServiceSchedulerEnabled", "service_scheduler_enabled"),
)


def config_json(stored: StoredConfig) -> dict[str, Any]:
    p = stored.config.preemption_config
    return {
        **dict(FIXED),
        "PreemptionConfig": {key: getattr(p, attr) for key, attr in _PREEMPTION},
        "CreateIndex": stored.create_index,
        "ModifyIndex": stored.modify_index,
    }


def config_from(body: dict[str, Any]) -> SchedulerConfig:
    """The configuration a PUT body asks for; 400 naming the field it cannot honour."""
    for key, only in FIXED:
        value = body.get(key)
        if value not in (None, "", only):
            raise ApiError(400, f"{key}: {value!r} is not supported yet (only {only!r})", field=key)
    pre = body.get("PreemptionConfig") or {}
    if not isinstance(pre, dict):
        raise ApiError(400, "PreemptionConfig must be an object", field="PreemptionConfig")
    flags: dict[str, bool] = {}
    for key, attr in _PREEMPTION:
        value = pre.get(key, False)
        if not isinstance(value, bool):
            raise ApiError(400, f"must be a boolean, got {value!r}", field=f"PreemptionConfig.{key}")
        flags[attr] = value
    return SchedulerConfig(preemption_config=PreemptionConfig(**flags))


@routes.get(PATH)
async def get_config(request: web.Request) -> web.Response:
    stored = await run(get_scheduler_config, request.app[CTX].store)
    index = stored.modify_index or None  # never written: the caches' revision (views.nomad_headers)
    return ok(
        {"SchedulerConfig": config_json(stored), "Index": stored.modify_index, "KnownLeader": True},
        index=index,
    )


@routes.post(PATH)
@routes.put(PATH)
async def set_config(request: web.Request) -> web.Response:
    body = await body_object(request)
    cas_text = request.query.get("cas")
    cas: int | None = None
    if cas_text is not None:
        if not cas_text.isdigit():
            raise ApiError(400, f"cas: {cas_text!r} is not an index", field="cas")
        cas = int(cas_text)
    written = await run(set_scheduler_config, request.app[CTX].store, config_from(body), cas=cas)
    return ok({"Updated": written is not None, "Index": written or 0}, index=written)
