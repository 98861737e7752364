"""The task executor: a tiny supervisor process between the agent and each task.

Why it exists: the agent must be killable (even with SIGKILL) without losing its tasks,
their logs or their exit codes. So the agent never is the task's parent. It starts this
script (run as `python -S -E executor.py SPEC`, in its own session), which

1. forks the task into a new session (its pid is its process group: the agent kills the
   whole group), joining the cgroups listed in the spec before exec;
2. reports `{"pid", "start", ...}` on the ready pipe (fd in the spec), or `{"error"}`;
3. copies the task's stdout/stderr pipes into `<logs>/<task>.stdout.N` / `.stderr.N`,
   rotating at `max_file_size` and keeping `max_files` (so logging survives the agent);
4. waits for the task and writes its exit status atomically to `exit_path`, then exits.

Start-up time is on every task's path, so this file imports only built-in modules (no
json, subprocess, re or threading: each costs milliseconds): the spec arrives as
`marshal` data and the small JSON documents it writes are formatted by hand.
"""

from __future__ import annotations

import _signal
import _thread
import errno
import marshal
import os
import sys
import time


class LogRotator:
    """Appends to `<dir>/<task>.<type>.N`, starting a new file past `max_size` bytes and
    deleting the oldest beyond `max_files`. Numbering continues after restarts."""

    def __init__(self, logs_dir: str, task: str, log_type: str, max_files: int, max_size: int) -> None:
        # every later open, list and unlink is relative to this descriptor: a task that swaps
        # the logs directory for a symlink afterwards cannot redirect them (review M5)
        self.dir_fd = os.open(logs_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        self.prefix = f"{task}.{log_type}."
        self.max_files = max(1, max_files)
        self.max_size = max(1, max_size)
        idx = self._indexes()
        self.index = idx[-1] if idx else 0
        self._open()

    def _indexes(self) -> list[int]:
        out = []
        n = len(self.prefix)
        for name in os.listdir(self.dir_fd):
            if name.startswith(self.prefix) and name[n:].isdigit():
                out.append(int(name[n:]))
        return sorted(out)

    def _open(self) -> None:
        """Never through a symlink: a task that plants `web.stdout.7 -> /etc/x` must not turn
        its output into an append to that file (review M5; Nomad CVE-2022-24683's class).
        Logs are 0640, readable by the agent's group, not by every local user (review L5)."""
        name = f"{self.prefix}{self.index}"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
        try:
            fd = os.open(name, flags, 0o640, dir_fd=self.dir_fd)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            os.unlink(name, dir_fd=self.dir_fd)  # unlink removes the link itself
            fd = os.open(name, flags | os.O_EXCL, 0o640, dir_fd=self.dir_fd)
        self.fh = open(fd, "ab", buffering=0)  # noqa: SIM115 - long-lived
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
            try:  # noqa: SIM105 - contextlib would cost start-up time
                os.unlink(f"{self.prefix}{old}", dir_fd=self.dir_fd)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        self.fh.close()
        os.close(self.dir_fd)


def _pump(fd: int, rotator: LogRotator | None, done: _thread.LockType) -> None:
    try:
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
    finally:
        done.release()


def _json(obj: dict[str, object]) -> str:
    """JSON for flat dicts of str/int/float (enough for the handle, exit and ready files)."""
    parts = []
    for k, v in obj.items():
        if isinstance(v, str):
            v = '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append(f'"{k}": {v}')
    return "{" + ", ".join(parts) + "}"


def _write_atomic(path: str, obj: dict[str, object]) -> None:
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, _json(obj).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def proc_start_time(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        raw = fh.read()
    return int(raw[raw.rindex(")") + 2 :].split()[19])


def _spawn(spec: dict[str, object], out_w: int, err_w: int) -> int:
    """fork + exec the task in a new session; raises OSError with the child's exec error."""
    argv = [str(a) for a in spec["argv"]]  # type: ignore[attr-defined]
    env = {str(k): str(v) for k, v in spec["env"].items()}  # type: ignore[attr-defined]
    cwd = str(spec["cwd"])
    procs = [str(p) for p in spec.get("cgroup_procs", [])]  # type: ignore[attr-defined]
    err_r, err_pipe = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # child: never returns
        try:
            os.setsid()
            for s in (_signal.SIGINT, _signal.SIGHUP, _signal.SIGPIPE, _signal.SIGTERM):
                _signal.signal(s, _signal.SIG_DFL)
            for p in procs:
                with open(p, "w") as fh:
                    fh.write(str(os.getpid()))
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.closerange(3, err_pipe)
            os.closerange(err_pipe + 1, 65536)
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        except BaseException as exc:  # report anything to the parent
            try:
                os.write(err_pipe, f"{type(exc).__name__}: {exc}".encode())
            finally:
                os._exit(127)
    os.close(err_pipe)
    msg = b""
    while True:
        chunk = os.read(err_r, 4096)
        if not chunk:
            break
        msg += chunk
    os.close(err_r)
    if msg:
        os.waitpid(pid, 0)
        raise OSError(msg.decode(errors="replace"))
    return pid


def main(spec_path: str) -> int:
    with open(spec_path, "rb") as fh:
        spec = marshal.load(fh)
    for s in (_signal.SIGINT, _signal.SIGHUP, _signal.SIGPIPE):
        _signal.signal(s, _signal.SIG_IGN)
    ready_fd = int(spec["ready_fd"])
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        pid = _spawn(spec, out_w, err_w)
    except OSError as exc:
        os.write(ready_fd, _json({"error": str(exc)}).encode())
        os.close(ready_fd)
        return 1
    os.close(out_w)
    os.close(err_w)
    try:
        start = proc_start_time(pid)
    except (OSError, ValueError):
        start = 0
    handle: dict[str, object] = {
        "pid": pid,
        "start": start,
        "executor_pid": os.getpid(),
        "executor_start": proc_start_time(os.getpid()),
    }
    _write_atomic(spec["handle_path"], handle)
    os.write(ready_fd, _json(handle).encode())
    os.close(ready_fd)

    rotators: list[LogRotator | None] = [None, None]
    if not spec.get("logs_disabled"):
        rotators = [
            LogRotator(spec["logs_dir"], spec["task"], t, int(spec["max_files"]), int(spec["max_file_size"]))
            for t in ("stdout", "stderr")
        ]
    locks = []
    for fd, r in ((out_r, rotators[0]), (err_r, rotators[1])):
        lock = _thread.allocate_lock()
        lock.acquire()
        _thread.start_new_thread(_pump, (fd, r, lock))
        locks.append(lock)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    for lock in locks:
        lock.acquire(True, 2.0)
    result: dict[str, object] = {"time": time.time()}
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        result.update(exit_code=128 + sig, signal=sig)
    else:
        result.update(exit_code=os.WEXITSTATUS(status), signal=0)
    _write_atomic(spec["exit_path"], result)
    return 0


def standby() -> int:
    """Wait (warm) for the path of a spec on stdin; EOF means the agent is gone: exit."""
    line = sys.stdin.buffer.readline().strip()
    if not line:
        return 0
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return main(line.decode())


if __name__ == "__main__":
    sys.exit(standby() if sys.argv[1] == "--standby" else main(sys.argv[1]))
