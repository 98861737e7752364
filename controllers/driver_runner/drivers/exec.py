"""exec: run a command isolated in its own PID and mount namespaces (`unshare --pid --fork
--mount-proc`), with memory and CPU limits through cgroups where writable. Where a limit
cannot be applied, `prepare` records an event saying so (the task still runs)."""

from __future__ import annotations

import os
import shutil
from typing import Any

from controllers.driver_runner import cgroups
from controllers.driver_runner.drivers.base import (
    DriverError,
    Fingerprint,
    TaskContext,
    base_spec,
    check_fields,
    python_types,
)
from controllers.driver_runner.handles import LaunchSpec
from reconciler.model.drivers import DRIVER_SCHEMAS

SCHEMA = DRIVER_SCHEMAS["exec"]
FIELDS = python_types(SCHEMA)


class ExecDriver:
    name = "exec"

    def __init__(self) -> None:
        self.unshare = shutil.which("unshare") or ""

    def fingerprint(self) -> Fingerprint:
        if os.uname().sysname != "Linux":
            return Fingerprint(False, False, "exec needs Linux")
        if os.geteuid() != 0:
            return Fingerprint(True, False, "exec needs root for namespaces and cgroups")
        if not self.unshare:
            return Fingerprint(True, False, "unshare (util-linux) not found")
        cg = cgroups.detect()
        return Fingerprint(True, True, "healthy", {"driver.exec": "1", "driver.exec.cgroups": cg or "none"})

    def validate(self, config: dict[str, Any]) -> list[str]:
        return check_fields(config, SCHEMA)

    def prepare(self, ctx: TaskContext) -> LaunchSpec:
        if not self.unshare:
            raise DriverError("exec driver: unshare not found")
        argv = [
            self.unshare,
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "--",
            ctx.config["command"],
            *ctx.config.get("args", []),
        ]
        spec = base_spec(ctx, argv, track=False)
        res = ctx.task.resources
        cg = cgroups.create(ctx.cgroup_name, memory_mb=res.memory_max or res.memory, cpu_mhz=res.cpu)
        spec.cgroup_procs = cg.procs_files
        spec.cgroup_dirs = cg.dirs
        for p in cg.problems:
            ctx.events.append(("Resource Limits Unavailable", p))
        return spec
