"""java: run a jar (`jar_path`) and/or a class (`class`, with `class_path`) on the host's JVM,
with `jvm_options` and `args`. Detected only when `java -version` answers."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

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

SCHEMA = DRIVER_SCHEMAS["java"]
FIELDS = python_types(SCHEMA)


_VERSIONS: dict[str, str | None] = {}


def java_version(java: str) -> str | None:
    """The JVM's version, or None when `java -version` does not answer (cached per binary
    for the life of the process: starting a JVM costs most of a second)."""
    if java in _VERSIONS:
        return _VERSIONS[java]
    _VERSIONS[java] = _java_version(java)
    return _VERSIONS[java]


def _java_version(java: str) -> str | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = out.stderr + out.stdout
    m = re.search(r'version "([^"]+)"', text)
    return m.group(1) if m else (None if out.returncode else "unknown")


class JavaDriver:
    name = "java"

    def __init__(self) -> None:
        self.java = shutil.which("java") or ""
        self._fp: Fingerprint | None = None

    def fingerprint(self) -> Fingerprint:
        if self._fp is None:
            version = java_version(self.java) if self.java else None
            if version is None:
                self._fp = Fingerprint(False, False, "no JVM answers `java -version`")
            else:
                self._fp = Fingerprint(
                    True, True, "healthy", {"driver.java": "1", "driver.java.version": version}
                )
        return self._fp

    def validate(self, config: dict[str, Any]) -> list[str]:
        return check_fields(config, SCHEMA)

    def prepare(self, ctx: TaskContext) -> LaunchSpec:
        if not self.java:
            raise DriverError("java driver: no java binary on PATH")
        c = ctx.config
        # Nomad's order: JVM options, class path, jar, class, arguments
        argv = [self.java, *[str(o) for o in c.get("jvm_options", [])]]
        if c.get("class_path"):
            argv += ["-cp", c["class_path"]]
        if c.get("jar_path"):
            argv += ["-jar", c["jar_path"]]
        if c.get("class"):
            argv.append(c["class"])
        argv += [str(a) for a in c.get("args", [])]
        return base_spec(ctx, argv)
