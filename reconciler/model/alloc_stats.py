"""Resource usage of an allocation's tasks (Nomad's AllocResourceUsage, for
`/v1/client/allocation/<id>/stats` and `alloc status -stats`), read where the node agent
left the facts: `.state/<task>.handle.json` (the task's pid and its start time, so a
recycled pid is never measured) and the launch spec's `cgroup_dirs`.

Memory comes from the task's memory cgroup when it has one (v2 `memory.current`/`peak`/
`stat`, v1 `memory.usage_in_bytes`/`max_usage_in_bytes`/`stat`), else from /proc of the
task's processes (raw_exec without a writable cgroup). CPU is the processes' user and
system time from /proc; `Percent` is measured between two reads of the same task (the
first read reports 0), as Nomad's is between samples.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.model.alloc_dir import AllocDir, launch_spec_file, read_launch_spec

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

MAX_SAMPLES = 4096
# the previous read of each task, for Percent: (alloc, task, pid) -> (monotonic time, cpu seconds)
_last: dict[tuple[str, str, int], tuple[float, float]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ProcStat:
    ppid: int
    start: int
    user: float  # seconds
    system: float
    rss: int  # bytes


def proc_stat(pid: int) -> ProcStat | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return None
    try:
        f = raw[raw.rindex(")") + 2 :].split()
        return ProcStat(int(f[1]), int(f[19]), int(f[11]) / TICKS, int(f[12]) / TICKS, int(f[21]) * PAGE)
    except (ValueError, IndexError):
        return None


def task_pid(state: Path, task: str) -> int:
    """The task's pid if that very process still runs, else 0."""
    try:
        info = json.loads((state / f"{task}.handle.json").read_text())
        pid, start = int(info["pid"]), int(info["start"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    st = proc_stat(pid)
    return pid if st is not None and (start == 0 or st.start == start) else 0


def _cgroup_pids(dirs: list[str]) -> set[int]:
    pids: set[int] = set()
    for d in dirs:
        try:
            pids.update(int(p) for p in Path(d, "cgroup.procs").read_text().split())
        except (OSError, ValueError):
            continue
    return pids


def _descendants(root: int) -> set[int]:
    """`root` and every process below it, from the ppid links in /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := proc_stat(int(name))) is not None:
            children.setdefault(st.ppid, []).append(int(name))
    out, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.add(pid)
            todo.extend(children.get(pid, []))
    return out


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stat_file(path: Path) -> dict[str, int]:
    try:
        pairs = (line.split() for line in path.read_text().splitlines())
        return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}
    except OSError:
        return {}


def _cgroup_memory(dirs: list[str]) -> dict[str, Any] | None:
    for d in map(Path, dirs):
        if (usage := _read_int(d / "memory.current")) is not None:  # v2
            st = _stat_file(d / "memory.stat")
            peak = _read_int(d / "memory.peak") or 0
            return _memory(st.get("anon", 0), st.get("file", 0), st.get("swap", 0), usage, peak)
        if (usage := _read_int(d / "memory.usage_in_bytes")) is not None:  # v1
            st = _stat_file(d / "memory.stat")
            peak = _read_int(d / "memory.max_usage_in_bytes") or 0
            return _memory(st.get("rss", 0), st.get("cache", 0), st.get("swap", 0), usage, peak)
    return None


def _memory(rss: int, cache: int, swap: int, usage: int, max_usage: int) -> dict[str, Any]:
    return {
        "RSS": rss,
        "Cache": cache,
        "Swap": swap,
        "MappedFile": 0,
        "Usage": usage,
        "MaxUsage": max_usage,
        "KernelUsage": 0,
        "KernelMaxUsage": 0,
        "Measured": ["RSS", "Cache", "Swap", "Usage", "Max Usage"],
    }


def _percent(key: tuple[str, str, int], now: float, cpu: float) -> float:
    with _lock:
        before = _last.get(key)
        _last[key] = (now, cpu)
        if len(_last) > MAX_SAMPLES:  # tasks long gone: keep the newest half
            for old in sorted(_last, key=lambda k: _last[k][0])[: MAX_SAMPLES // 2]:
                del _last[old]
    if before is None or now <= before[0]:
        return 0.0
    return max(0.0, (cpu - before[1]) / (now - before[0]) * 100)


def task_usage(adir: AllocDir, task: str, now_ns: int) -> dict[str, Any]:
    """Nomad's TaskResourceUsage of one task (zeros when it does not run here)."""
    spec = read_launch_spec(launch_spec_file(adir.state, task))
    raw_dirs = spec.get("cgroup_dirs") or []
    dirs = [str(d) for d in raw_dirs] if isinstance(raw_dirs, list) else []
    pid = task_pid(adir.state, task)
    pids = (_cgroup_pids(dirs) | _descendants(pid)) if pid else set()
    procs = [s for p in sorted(pids) if (s := proc_stat(p)) is not None]
    user, system = sum(s.user for s in procs), sum(s.system for s in procs)
    rss = sum(s.rss for s in procs)
    memory = (_cgroup_memory(dirs) if pid else None) or _memory(rss, 0, 0, rss, 0)
    if not dirs or memory["Usage"] == rss:
        memory["Measured"] = ["RSS"]
    percent = _percent((adir.alloc_id, task, pid), time.monotonic(), user + system) if pid else 0.0
    cpu = {
        "SystemMode": system,
        "UserMode": user,
        "TotalTicks": percent / 100 * _core_mhz(),
        "ThrottledPeriods": 0,
        "ThrottledTime": 0,
        "Percent": percent,
        "Measured": ["System Mode", "User Mode", "Percent"],
    }
    return {"ResourceUsage": {"MemoryStats": memory, "CpuStats": cpu}, "Timestamp": now_ns, "Pids": None}


def _core_mhz() -> float:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1])
    except (OSError, ValueError, IndexError):
        pass
    return 1000.0


def alloc_usage(adir: AllocDir, tasks: list[str]) -> dict[str, Any]:
    """Nomad's AllocResourceUsage: each task's usage and their sum."""
    now_ns = time.time_ns()
    per_task = {t: task_usage(adir, t, now_ns) for t in tasks}
    total_mem = _memory(0, 0, 0, 0, 0)
    total_cpu: dict[str, Any] = {k: 0.0 for k in ("SystemMode", "UserMode", "TotalTicks", "Percent")}
    for u in per_task.values():
        for k in ("RSS", "Cache", "Swap", "Usage", "MaxUsage"):
            total_mem[k] += u["ResourceUsage"]["MemoryStats"][k]
        for k in total_cpu:
            total_cpu[k] += u["ResourceUsage"]["CpuStats"][k]
    total_cpu |= {
        "ThrottledPeriods": 0,
        "ThrottledTime": 0,
        "Measured": ["System Mode", "User Mode", "Percent"],
    }
    return {
        "ResourceUsage": {"MemoryStats": total_mem, "CpuStats": total_cpu},
        "Tasks": per_task,
        "Timestamp": now_ns,
    }
