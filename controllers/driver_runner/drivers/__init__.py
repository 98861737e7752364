"""Task drivers (`raw_exec`, `exec`, `java`) and the registry the agent builds from its
configuration. `validate_task_config(driver, config)` is what spec validation calls so an
unknown driver or config field fails at validation time, not at start."""

from __future__ import annotations

from typing import Any

from controllers.driver_runner.drivers.base import DriverError, Fingerprint, TaskContext, TaskDriver
from controllers.driver_runner.drivers.exec import CHROOT_ENV, ExecDriver
from controllers.driver_runner.drivers.java import JavaDriver
from controllers.driver_runner.drivers.raw_exec import RawExecDriver

__all__ = [
    "KNOWN_DRIVERS",
    "DriverError",
    "ExecDriver",
    "Fingerprint",
    "JavaDriver",
    "RawExecDriver",
    "TaskContext",
    "TaskDriver",
    "build_drivers",
    "validate_task_config",
]

KNOWN_DRIVERS = ("raw_exec", "exec", "java")


def build_drivers(
    *, raw_exec_enabled: bool, enabled: tuple[str, ...] | None = None, exec_chroot_env: tuple[str, ...] = ()
) -> dict[str, TaskDriver]:
    """The drivers of a node agent; `exec_chroot_env` () keeps exec's default (CHROOT_ENV)."""
    drivers: dict[str, TaskDriver] = {
        "raw_exec": RawExecDriver(enabled=raw_exec_enabled),
        "exec": ExecDriver(exec_chroot_env or CHROOT_ENV),
        "java": JavaDriver(exec_chroot_env or CHROOT_ENV),
    }
    if enabled is not None:
        drivers = {k: v for k, v in drivers.items() if k in enabled}
    return drivers


def validate_task_config(driver: str, config: dict[str, Any]) -> list[str]:
    """Errors in a task's driver and config, without needing the driver to be present."""
    impl: dict[str, TaskDriver] = {
        "raw_exec": RawExecDriver(enabled=True),
        "exec": ExecDriver(),
        "java": JavaDriver(),
    }
    if driver not in impl:
        return [f"unknown driver {driver!r} (known: {', '.join(KNOWN_DRIVERS)})"]
    return impl[driver].validate(config)
