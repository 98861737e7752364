"""java: run a jar (`jar_path`) and/or a class (`class`, with `class_path`) on the host's JVM,
with `jvm_options` and `args`, in the exec driver's sandbox (review H3: namespaces, a chroot
of the task directory with `chroot_env` bound read-only, the task's `user`, default
`nobody`, no capabilities, no_new_privs), as Nomad's java driver runs in its executor. The
JVM must therefore live under a `chroot_env` directory (`/usr/lib/jvm` is under `/usr`),
and `jar_path`/`class_path` are paths inside the task directory (its root). Detected only
when `java -version` answers; healthy only where the sandbox can run (root, util-linux
`unshare` and `setpriv`), as Nomad's java driver needs root on Linux."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

from controllers.driver_runner.drivers.base import (
    DriverError,
    Fingerprint,
    TaskContext,
    check_fields,
    python_types,
)
from controllers.driver_runner.drivers.exec import CHROOT_ENV, sandbox_fingerprint, sandboxed_spec
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


def inside_chroot_env(path: str, chroot_env: tuple[str, ...]) -> bool:
    """Whether `path` (the JVM, symlinks resolved) is under a directory the sandbox binds."""
    real = os.path.realpath(path)
    dirs = [d.rstrip("/") for d in chroot_env]
    return any(real == d or real.startswith(d + "/") for d in dirs if d)


class JavaDriver:
    name = "java"

    def __init__(self, chroot_env: tuple[str, ...] = CHROOT_ENV) -> None:
        self.java = shutil.which("java") or ""
        self.unshare = shutil.which("unshare") or ""
        self.setpriv = shutil.which("setpriv") or ""
        self.chroot_env = chroot_env
        self._fp: Fingerprint | None = None

    def fingerprint(self) -> Fingerprint:
        if self._fp is None:
            self._fp = self._fingerprint()
        return self._fp

    def _fingerprint(self) -> Fingerprint:
        version = java_version(self.java) if self.java else None
        if version is None:
            return Fingerprint(False, False, "no JVM answers `java -version`")
        problem = sandbox_fingerprint(self.unshare, self.setpriv)
        if problem is not None:
            problem.description = "java: " + problem.description
            return problem
        if not inside_chroot_env(self.java, self.chroot_env):
            return Fingerprint(True, False, f"the JVM {os.path.realpath(self.java)} is outside chroot_env")
        return Fingerprint(True, True, "healthy", {"driver.java": "1", "driver.java.version": version})

    def validate(self, config: dict[str, Any]) -> list[str]:
        return check_fields(config, SCHEMA)

    def prepare(self, ctx: TaskContext) -> LaunchSpec:
        if not self.java:
            raise DriverError("java driver: no java binary on PATH")
        if not (self.unshare and self.setpriv):
            raise DriverError("java driver: unshare or setpriv not found")
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
        return sandboxed_spec(ctx, self.unshare, self.chroot_env, argv)
