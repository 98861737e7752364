"""What handlers need, handed in by the agent's wiring and stored on the application under
`CTX` (the API never imports controllers: controller-provided functions such as the
scheduler's dry run arrive here typed by a Protocol)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aiohttp import web

from reconciler.api.watched import WatchedState
from reconciler.model.job import Job
from reconciler.model.plan import PlanResult
from reconciler.store import Store


class Planner(Protocol):
    """The scheduler's dry run: what submitting `job` would do to the cluster as it is now.
    Writes nothing."""

    def __call__(self, store: Store, job: Job) -> PlanResult: ...


@dataclass
class ApiContext:
    store: Store
    data_dir: Path
    region: str = "global"
    datacenter: str = "dc1"
    node_name: str = ""
    planner: Planner | None = None  # None on an agent that runs no scheduler
    # the caches reads are served from; the application starts its own when None
    watched: WatchedState | None = None


CTX = web.AppKey("ctx", ApiContext)
