"""exec: run a command sandboxed as Nomad's exec driver does: its own PID, mount, IPC and
UTS namespaces (`unshare`), chrooted into its task directory with the host directories of
`CHROOT_ENV` bind-mounted read-only and `/alloc`, `/local`, `/secrets`, `/tmp` at Nomad's
paths, run as the task's `user` (default `nobody`) with no capabilities and no_new_privs
(util-linux `setpriv`); the mounts and the chroot are done by `sandbox.py` inside the new
namespaces. Memory and CPU limits through cgroups where writable; where a limit cannot be
applied, `prepare` records an event saying so (the task still runs)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sys
from pathlib import Path
from typing import Any

from controllers.driver_runner import cgroups, sandbox
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

# Nomad's `chroot_env` default: the host directories a task sees, read-only (the ones that
# do not exist here are skipped). The agent's `--exec-chroot-env` replaces it.
CHROOT_ENV = ("/bin", "/etc", "/lib", "/lib32", "/lib64", "/run/resolvconf", "/sbin", "/usr")
DEFAULT_USER = "nobody"
SETPRIV = "/usr/bin/setpriv"  # util-linux's, inside the chroot (under /usr)
# Where the task sees its directories (Nomad's paths inside the chroot).
TASK_PATHS = {"NOMAD_ALLOC_DIR": "/alloc", "NOMAD_TASK_DIR": "/local", "NOMAD_SECRETS_DIR": "/secrets"}


def lookup_user(name: str) -> tuple[int, int, list[int]]:
    """(uid, gid, supplementary groups) of `name` (a user name or a number), looked up on
    the host: the chroot need not hold /etc. A number without a passwd entry runs with
    gid the same number and no groups."""
    try:
        pw = pwd.getpwnam(name) if not name.isdigit() else pwd.getpwuid(int(name))
    except KeyError:
        if name.isdigit():
            return int(name), int(name), []
        raise DriverError(f"exec driver: unknown user {name!r}") from None
    return pw.pw_uid, pw.pw_gid, sorted(set(os.getgrouplist(pw.pw_name, pw.pw_gid)))


def setpriv_argv(uid: int, gid: int, groups: list[int]) -> list[str]:
    """The prefix that runs a command as the task's user with no capabilities (bounding and
    inheritable sets emptied; a non-root uid has no effective or permitted ones) and
    no_new_privs; run inside the chroot (so /usr/bin/setpriv must be there), by the sandbox
    at start and by `alloc exec` (reconciler/model/sandbox_exec.py)."""
    return [
        SETPRIV,
        f"--reuid={uid}",
        f"--regid={gid}",
        "--groups=" + ",".join(map(str, groups)) if groups else "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def sandbox_settings(ctx: TaskContext, chroot_env: tuple[str, ...]) -> dict[str, Any]:
    """What `sandbox.py` needs, as plain JSON: the root, the mounts and the user."""
    uid, gid, groups = lookup_user(ctx.task.user or DEFAULT_USER)
    root = Path(ctx.task_dir)
    alloc = root.parent / "alloc"
    return {
        "root": str(root),
        "alloc": str(alloc),
        "chroot_env": list(chroot_env),
        "owned": [str(root / d) for d in ("local", "secrets", "tmp")],
        "shared_rw": [str(alloc / "data"), str(alloc / "tmp")],
        "uid": uid,
        "gid": gid,
        "setpriv": setpriv_argv(uid, gid, groups),
        "volumes": [[path, read_only] for path, read_only in ctx.volumes],
    }


class ExecDriver:
    name = "exec"

    def __init__(self, chroot_env: tuple[str, ...] = CHROOT_ENV) -> None:
        self.unshare = shutil.which("unshare") or ""
        self.setpriv = shutil.which("setpriv") or ""
        self.chroot_env = chroot_env

    def fingerprint(self) -> Fingerprint:
        problem = sandbox_fingerprint(self.unshare, self.setpriv)
        if problem is not None:
            problem.description = "exec: " + problem.description
            return problem
        cg = cgroups.detect()
        return Fingerprint(True, True, "healthy", {"driver.exec": "1", "driver.exec.cgroups": cg or "none"})

    def validate(self, config: dict[str, Any]) -> list[str]:
        return check_fields(config, SCHEMA)

    def prepare(self, ctx: TaskContext) -> LaunchSpec:
        if not (self.unshare and self.setpriv):
            raise DriverError("exec driver: unshare or setpriv not found")
        command = [ctx.config["command"], *ctx.config.get("args", [])]
        return sandboxed_spec(ctx, self.unshare, self.chroot_env, command)


def sandbox_fingerprint(unshare: str, setpriv: str) -> Fingerprint | None:
    """Why the sandbox cannot run here (a fingerprint that is not healthy), None when it can:
    the exec and java drivers share it."""
    if os.uname().sysname != "Linux":
        return Fingerprint(False, False, "needs Linux")
    if os.geteuid() != 0:
        return Fingerprint(True, False, "needs root for namespaces and cgroups")
    if not unshare:
        return Fingerprint(True, False, "unshare (util-linux) not found")
    if not setpriv:
        return Fingerprint(True, False, "setpriv (util-linux) not found")
    return None


def sandboxed_spec(
    ctx: TaskContext, unshare: str, chroot_env: tuple[str, ...], command: list[str]
) -> LaunchSpec:
    """The launch of `command` (paths as the task sees them, inside its chroot) in the
    sandbox, with the task's memory and CPU limits: the exec driver's, and the java
    driver's (review H3)."""
    settings = sandbox_settings(ctx, chroot_env)
    argv = [
        unshare,
        "--pid",
        "--mount",
        "--ipc",
        "--uts",
        "--fork",
        "--kill-child",
        "--",
        sys.executable,
        "-I",
        "-S",
        sandbox.__file__,
        json.dumps(settings),
        *command,
    ]
    spec = base_spec(ctx, argv, track=False)
    spec.env = {**ctx.env, **{k: v for k, v in TASK_PATHS.items() if k in ctx.env}}
    res = ctx.task.resources
    cg = cgroups.create(ctx.cgroup_name, memory_mb=res.memory_max or res.memory, cpu_mhz=res.cpu)
    spec.cgroup_procs = cg.procs_files
    spec.cgroup_dirs = cg.dirs
    for p in cg.problems:
        ctx.events.append(("Resource Limits Unavailable", p))
    return spec
