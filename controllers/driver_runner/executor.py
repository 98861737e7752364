"""The task executor: a tiny supervisor process between the agent and each task.

Why it exists: the agent must be killable (even with SIGKILL) without losing its tasks,
their logs or their exit codes. So the agent never is the task's parent. It starts this
script (stdlib only, run as `python -S -E executor.py SPEC`, in its own session), which

1. starts the task in a new session (its pid is its process group: the agent kills the
   whole group), joining the cgroups listed in the spec before exec;
2. reports `{"pid", "start"}` on the ready pipe (fd in the spec), or `{"error"}`;
3. copies the task's stdout/stderr pipes into `<logs>/<task>.stdout.N` / `.stderr.N`,
   rotating at `max_file_size` and keeping `max_files` (so logging survives the agent);
4. waits for the task and writes its exit status atomically to `exit_path`, then exits.

An agent that restarts finds the executor still running (or the exit file written) and
adopts the task: see `handles.py`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time


class LogRotator:
    """Appends to `<dir>/<task>.<type>.N`, starting a new file past `max_size` bytes and
    deleting the oldest beyond `max_files`. Numbering continues after restarts."""

    def __init__(self, logs_dir: str, task: str, log_type: str, max_files: int, max_size: int) -> None:
        self.dir = logs_dir
        self.prefix = f"{task}.{log_type}."
        self.max_files = max(1, max_files)
        self.max_size = max(1, max_size)
        idx = self._indexes()
        self.index = idx[-1] if idx else 0
        self._open()

    def _indexes(self) -> list[int]:
        pat = re.compile(re.escape(self.prefix) + r"(\d+)$")
        out = []
        for name in os.listdir(self.dir):
            m = pat.match(name)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    def _open(self) -> None:
        path = os.path.join(self.dir, f"{self.prefix}{self.index}")
        self.fh = open(path, "ab", buffering=0)  # noqa: SIM115 - long-lived
        self.size = self.fh.tell()

    def write(self, data: bytes) -> None:
        while data:
            room = self.max_size - self.size
            if room <= 0:
                self.rotate()
                continue
            part, data = data[:room], data[room:]
            self.fh.write(part)
            self.size += len(part)

    def rotate(self) -> None:
        self.fh.close()
        self.index += 1
        self._open()
        for old in self._indexes()[: -self.max_files]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.dir, f"{self.prefix}{old}"))

    def close(self) -> None:
        self.fh.close()


def _pump(fd: int, rotator: LogRotator | None) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        if rotator is not None:
            rotator.write(data)
    os.close(fd)
    if rotator is not None:
        rotator.close()


def _write_atomic(path: str, obj: dict[str, object]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def proc_start_time(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        raw = fh.read()
    return int(raw[raw.rindex(")") + 2 :].split()[19])


def main(spec_path: str) -> int:
    with open(spec_path) as fh:
        spec = json.load(fh)
    for s in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(s, signal.SIG_IGN)
    ready_fd = int(spec["ready_fd"])
    cgroup_procs: list[str] = spec.get("cgroup_procs", [])

    def join_cgroups() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        for p in cgroup_procs:
            with open(p, "w") as fh:
                fh.write(str(os.getpid()))

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = subprocess.Popen(
            spec["argv"], env=spec["env"], cwd=spec["cwd"], stdin=subprocess.DEVNULL,
            stdout=out_w, stderr=err_w, start_new_session=True, close_fds=True,
            preexec_fn=join_cgroups,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        os.write(ready_fd, json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
        os.close(ready_fd)
        return 1
    os.close(out_w)
    os.close(err_w)
    try:
        start = proc_start_time(proc.pid)
    except (OSError, ValueError):
        start = 0
    handle: dict[str, object] = {"pid": proc.pid, "start": start, "executor_pid": os.getpid(),
              "executor_start": proc_start_time(os.getpid())}
    _write_atomic(spec["handle_path"], handle)
    os.write(ready_fd, json.dumps(handle).encode())
    os.close(ready_fd)

    rotators: list[LogRotator | None] = [None, None]
    if not spec.get("logs_disabled"):
        rotators = [
            LogRotator(spec["logs_dir"], spec["task"], t, int(spec["max_files"]), int(spec["max_file_size"]))
            for t in ("stdout", "stderr")
        ]
    pumps = [threading.Thread(target=_pump, args=(fd, r), daemon=True) for fd, r in zip((out_r, err_r), rotators, strict=True)]
    for t in pumps:
        t.start()
    status = proc.wait()
    for t in pumps:
        t.join(2.0)
    result: dict[str, object] = {"time": time.time()}
    if status < 0:
        result.update(exit_code=128 - status, signal=-status)
    else:
        result.update(exit_code=status, signal=0)
    _write_atomic(spec["exit_path"], result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
