"""raw_exec: run a command as the agent's user, without isolation (enabled only on purpose:
dev mode, or `raw_exec_enabled` on the agent), as in Nomad."""

from __future__ import annotations

from typing import Any

from controllers.driver_runner.drivers.base import (
    Fingerprint,
    TaskContext,
    base_spec,
    check_fields,
    python_types,
)
from controllers.driver_runner.handles import LaunchSpec
from reconciler.model.drivers import DRIVER_SCHEMAS

SCHEMA = DRIVER_SCHEMAS["raw_exec"]
FIELDS = python_types(SCHEMA)


class RawExecDriver:
    name = "raw_exec"

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled

    def fingerprint(self) -> Fingerprint:
        if not self.enabled:
            return Fingerprint(False, False, "disabled (enable raw_exec on the agent)")
        return Fingerprint(True, True, "healthy", {"driver.raw_exec": "1"})

    def validate(self, config: dict[str, Any]) -> list[str]:
        return check_fields(config, SCHEMA)

    def prepare(self, ctx: TaskContext) -> LaunchSpec:
        return base_spec(ctx, [ctx.config["command"], *ctx.config.get("args", [])])
