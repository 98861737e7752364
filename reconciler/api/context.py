"""What handlers need, handed in by the agent's wiring (the API never imports controllers:
controller-provided functions such as the scheduler's dry-run arrive here as callables)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.store import Store


@dataclass
class ApiContext:
    store: Store
    data_dir: Path
    region: str = "global"
    datacenter: str = "dc1"
    node_name: str = ""
    # planner(job, store) -> plan result (see reconciler.model.plan); None until wired
    planner: Callable[..., Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
