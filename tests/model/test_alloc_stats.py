"""Where a task's usage comes from (model.alloc_stats): cgroup v2 and v1 memory files,
/proc of the task's own process when it has no cgroup, nothing for a pid that is not the
task's any more."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconciler.model import alloc_stats
from reconciler.model.alloc_dir import AllocDir, launch_spec_file, write_launch_spec


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {
                "memory.current": "300\n",
                "memory.peak": "500\n",
                "memory.stat": "anon 200\nfile 100\nswap 0\n",
            },
            {"RSS": 200, "Cache": 100, "Usage": 300, "MaxUsage": 500},
        ),
        (
            {
                "memory.usage_in_bytes": "400\n",
                "memory.max_usage_in_bytes": "600\n",
                "memory.stat": "cache 150\nrss 250\nswap 0\n",
            },
            {"RSS": 250, "Cache": 150, "Usage": 400, "MaxUsage": 600},
        ),
        ({"cpu.shares": "100\n"}, None),
    ],
    ids=["v2", "v1", "no-memory-controller"],
)
def test_cgroup_memory(tmp_path: Path, files: dict[str, str], expected: dict[str, int] | None) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    got = alloc_stats._cgroup_memory([str(tmp_path)])
    if expected is None:
        assert got is None
    else:
        assert got is not None
        assert {k: got[k] for k in expected} == expected


def _adir(tmp_path: Path, pid: int, start: int) -> AllocDir:
    adir = AllocDir(tmp_path, "a1")
    adir.build(["web"])
    (adir.state / "web.handle.json").write_text(json.dumps({"pid": pid, "start": start}))
    write_launch_spec(launch_spec_file(adir.state, "web"), {"cgroup_dirs": []})
    return adir


def test_a_task_without_cgroup_is_measured_from_proc(tmp_path: Path) -> None:
    me = alloc_stats.proc_stat(os.getpid())
    assert me is not None
    usage = alloc_stats.task_usage(_adir(tmp_path, os.getpid(), me.start), "web", 1)["ResourceUsage"]
    assert usage["MemoryStats"]["RSS"] >= me.rss // 2 > 0
    assert usage["MemoryStats"]["Measured"] == ["RSS"]
    assert usage["CpuStats"]["UserMode"] > 0


def test_a_recycled_pid_is_not_measured(tmp_path: Path) -> None:
    me = alloc_stats.proc_stat(os.getpid())
    assert me is not None
    usage = alloc_stats.task_usage(_adir(tmp_path, os.getpid(), me.start + 1), "web", 1)["ResourceUsage"]
    assert usage["MemoryStats"]["RSS"] == 0
    assert usage["CpuStats"]["Percent"] == 0


def test_percent_is_cpu_time_over_wall_time_between_reads() -> None:
    key = ("alloc", "task", 1)
    assert alloc_stats._percent(key, 100.0, 5.0) == 0.0  # the first read
    assert alloc_stats._percent(key, 102.0, 6.0) == pytest.approx(50.0)
    assert alloc_stats._percent(key, 102.0, 7.0) == 0.0  # no time passed
