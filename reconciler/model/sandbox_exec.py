"""`alloc exec` into an exec task's sandbox (review H5, with H3): the command joins the
running task's PID, mount, IPC and UTS namespaces and its chroot (util-linux `nsenter
--root --wd` of the task's pid 1) and runs as the task's user with no capabilities (the
same `setpriv` prefix the task started with), as Nomad's exec driver does.

The facts come from what the agent left: the launch spec's argv (the exec driver runs
`unshare ... python sandbox.py <settings JSON> command`, controllers/driver_runner/
drivers/exec.py) and the task's handle (its pid and start time, alloc_stats.task_pid).
Not pure: reads /proc.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reconciler.model.alloc_stats import task_pid

SANDBOX_SCRIPT = "driver_runner/sandbox.py"
# The variables naming the task's directories, which a sandboxed task sees at its own paths.
TASK_DIR_VARS = ("NOMAD_ALLOC_DIR", "NOMAD_TASK_DIR", "NOMAD_SECRETS_DIR")
NSENTER = "nsenter"


def sandbox_settings(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The sandbox settings in a launch spec, None when the task is not sandboxed."""
    argv = spec.get("argv") or []
    for i, arg in enumerate(argv[:-1]):
        if isinstance(arg, str) and arg.endswith(SANDBOX_SCRIPT):
            try:
                settings = json.loads(argv[i + 1])
            except ValueError:
                return None
            return settings if isinstance(settings, dict) else None
    return None


def _first_child(pid: int) -> int:
    """The sandbox's pid 1 as the host sees it: `unshare --fork`'s only child."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0
    return int(children[0]) if children else 0


def _chrooted(pid: int) -> bool:
    """The process has left the host's root: the sandbox is built (sandbox.py chroots last,
    just before it execs the task). Entering earlier would run the command on the host."""
    try:
        inner, host = os.stat(f"/proc/{pid}/root"), os.stat("/")
    except OSError:
        return False
    return (inner.st_dev, inner.st_ino) != (host.st_dev, host.st_ino)


def enter_argv(spec: dict[str, Any], state: Path, task: str, cmd: list[str]) -> list[str] | None:
    """`cmd` wrapped to run inside the task's sandbox; None for a task without one (raw_exec:
    run on the host in its directory). LookupError when the task does not run."""
    settings = sandbox_settings(spec)
    if settings is None:
        return None
    inner = _first_child(task_pid(state, task))
    prefix = settings.get("setpriv")
    if not inner or not isinstance(prefix, list):
        raise LookupError(f"task {task!r} is not running: its sandbox cannot be entered")
    if not _chrooted(inner):
        raise LookupError(f"task {task!r} is still starting: its sandbox is not ready to be entered")
    ns = ["--mount", "--uts", "--ipc", "--pid", "--root", "--wd"]
    return [NSENTER, f"--target={inner}", *ns, "--", *map(str, prefix), *cmd]
