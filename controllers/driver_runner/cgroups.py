"""Resource limits through cgroups, where the kernel lets us write them.

`detect()` finds a writable hierarchy: cgroup v2 (unified, with the memory controller
enabled at /sys/fs/cgroup or /sys/fs/cgroup/unified) or v1 (/sys/fs/cgroup/memory and
/sys/fs/cgroup/cpu). `create()` makes one group per task and returns the `cgroup.procs`
files the executor joins before exec. Anything unavailable is reported as a reason string,
which the task runner turns into an event (never a silent skip).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
GROUP = "reconciler"


@dataclass
class CgroupSetup:
    procs_files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _writable(p: Path) -> bool:
    return p.is_dir() and os.access(p, os.W_OK)


def _v2_root() -> Path | None:
    for cand in (ROOT, ROOT / "unified"):
        ctl = cand / "cgroup.controllers"
        try:
            if "memory" in ctl.read_text().split() and _writable(cand):
                return cand
        except OSError:
            continue
    return None


def detect() -> str:
    """'v2', 'v1' or '' (no writable memory cgroup)."""
    if _v2_root() is not None:
        return "v2"
    if _writable(ROOT / "memory"):
        return "v1"
    return ""


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def create(name: str, *, memory_mb: int, cpu_mhz: int) -> CgroupSetup:
    out = CgroupSetup()
    limit = str(memory_mb * 1024 * 1024)
    v2 = _v2_root()
    if v2 is not None:
        base = v2 / GROUP
        try:
            base.mkdir(exist_ok=True)
            with contextlib.suppress(OSError):
                _write(v2 / "cgroup.subtree_control", "+memory +cpu")
                _write(base / "cgroup.subtree_control", "+memory +cpu")
            d = base / name
            d.mkdir(exist_ok=True)
            _write(d / "memory.max", limit)
            with contextlib.suppress(OSError):
                _write(d / "memory.swap.max", "0")
            try:
                _write(d / "cpu.weight", str(max(1, min(10000, cpu_mhz // 10 or 1))))
            except OSError as exc:
                out.problems.append(f"cpu limit not set (cgroup v2): {exc}")
            out.procs_files.append(str(d / "cgroup.procs"))
            out.dirs.append(str(d))
        except OSError as exc:
            out.problems.append(f"memory limit not set (cgroup v2 at {v2}): {exc}")
        return out
    mem = ROOT / "memory"
    if _writable(mem):
        d = mem / GROUP / name
        try:
            d.mkdir(parents=True, exist_ok=True)
            _write(d / "memory.limit_in_bytes", limit)
            with contextlib.suppress(OSError):
                _write(d / "memory.memsw.limit_in_bytes", limit)
            with contextlib.suppress(OSError):
                _write(d / "memory.swappiness", "0")
            out.procs_files.append(str(d / "cgroup.procs"))
            out.dirs.append(str(d))
        except OSError as exc:
            out.problems.append(f"memory limit not set (cgroup v1): {exc}")
    else:
        out.problems.append("memory limit not set: no writable memory cgroup (v1 or v2) on this host")
    cpu = ROOT / "cpu"
    if _writable(cpu):
        d = cpu / GROUP / name
        try:
            d.mkdir(parents=True, exist_ok=True)
            _write(d / "cpu.shares", str(max(2, cpu_mhz)))
            out.procs_files.append(str(d / "cgroup.procs"))
            out.dirs.append(str(d))
        except OSError as exc:
            out.problems.append(f"cpu limit not set (cgroup v1): {exc}")
    else:
        out.problems.append("cpu limit not set: no writable cpu cgroup on this host")
    return out


def tracking(name: str) -> CgroupSetup:
    """A cgroup with no limits, only to find every process of a task at kill time (one that
    left the task's process group with setsid included). Empty where none is writable:
    then the process group is all we can kill."""
    out = CgroupSetup()
    v2 = _v2_root()
    candidates = [v2 / GROUP] if v2 is not None else [ROOT / "pids" / GROUP, ROOT / "memory" / GROUP]
    for base in candidates:
        if not _writable(base.parent):
            continue
        d = base / name
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        out.procs_files.append(str(d / "cgroup.procs"))
        out.dirs.append(str(d))
        break
    return out


def kill_all(dirs: list[str], sig: int) -> None:
    """Signal every process still in the task's cgroups (catches escaped process groups)."""
    for d in dirs:
        try:
            pids = Path(d, "cgroup.procs").read_text().split()
        except OSError:
            continue
        for p in pids:
            with contextlib.suppress(OSError):
                os.kill(int(p), sig)


def oom_killed(dirs: list[str]) -> bool:
    for d in dirs:
        for fname, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
            try:
                for line in Path(d, fname).read_text().splitlines():
                    k, _, v = line.partition(" ")
                    if k == key and int(v) > 0:
                        return True
            except (OSError, ValueError):
                continue
    return False


def remove(dirs: list[str], *, wait: float = 2.0) -> None:
    """Remove the task's cgroups once their last (killed) process is gone."""
    deadline = time.monotonic() + wait
    for d in dirs:
        while True:
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.02)
