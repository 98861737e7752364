"""The allocation directory layout, shared by the node agent (which creates it) and the API
(which reads logs from it).

    <data-dir>/allocs/<alloc-id>/
        alloc/                 shared by the group's tasks (NOMAD_ALLOC_DIR)
        alloc/logs/            <task>.stdout.N / <task>.stderr.N, N counting up from 0
        <task>/local/          NOMAD_TASK_DIR
        <task>/secrets/        NOMAD_SECRETS_DIR
        <task>/tmp/
        .state/                the agent's bookkeeping: <task>.spec (see below), task
                               handles and exit files (controllers/driver_runner/handles.py)

`alloc/data` and each `<task>/local/` are what a group's `ephemeral_disk { sticky }` hands
over to the allocation replacing it (`take_over` on the same node, `write_snapshot` /
`read_snapshot` from another node's agent: controllers/driver_runner/prev_alloc.py).

Not pure: besides path helpers (every path built from user input goes through `inside()`,
which refuses anything that would resolve outside its base directory: `..`, absolute
paths, symlinks), it creates the directories (`AllocDir.build`) and reads the files that
the node agent writes and the API serves (logs, launch specs). Both sides import it, so the
layout and these file formats are one contract, kept here.

The launch spec `<task>.spec` is what the executor runs the task with: a `marshal`-encoded
dict (the executor starts with built-in modules only, see controllers/driver_runner/
executor.py) with at least `argv` (list of str), `env` (dict of str), `cwd` (str),
`logs_dir` and `task`, plus the executor's own settings. The node agent writes it at each
start (`write_launch_spec`); the API's exec endpoint reads `env` and `cwd` from it to run a
command as the task would (`AllocDir.read_launch_spec`).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from reconciler.model.ids import is_valid_name

LOG_TYPES = ("stdout", "stderr")
STATE_DIR = ".state"


class PathEscapeError(ValueError):
    """A path built from user input would leave the directory it must stay in."""


def inside(base: Path, relative: str) -> Path:
    """`base/relative`, resolved; raises PathEscapeError when it is not under `base`."""
    if "\x00" in relative:
        raise PathEscapeError(f"path {relative!r} contains a NUL byte")
    rel = relative.lstrip("/") if not os.path.isabs(relative) else None
    if rel is None:
        raise PathEscapeError(f"path {relative!r} is absolute; it must be relative to {base}")
    root = base.resolve()
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise PathEscapeError(f"path {relative!r} escapes {base}")
    return target


def inside_task_area(alloc_root: Path, relative: str) -> Path:
    """`inside(alloc_root, relative)` that also refuses the agent's `.state` bookkeeping: a
    job's artifact or template must neither forge task handles, exit codes and stored specs
    nor read them (review finding M5)."""
    target = inside(alloc_root, relative)
    state = (alloc_root / STATE_DIR).resolve()
    if target == state or state in target.parents:
        raise PathEscapeError(f"path {relative!r} is in the agent's private {STATE_DIR}/ directory")
    return target


def open_beneath(root: Path, directory: Path, *, create: bool = False) -> int:
    """A descriptor of `directory` (a resolved path under `root`), reached from `root` one
    component at a time with O_NOFOLLOW (made first when `create`): a component swapped for
    a link after `inside()` checked the path is refused (ELOOP/ENOTDIR), never followed, and
    `.state` is never reached (review M5). This is openat2's RESOLVE_BENEATH |
    RESOLVE_NO_SYMLINKS, done with plain `openat`, so it needs no fallback."""
    rel = os.path.relpath(directory, root.resolve())
    parts = [] if rel == os.curdir else rel.split(os.sep)
    if parts and parts[0] in (os.pardir, STATE_DIR):
        raise PathEscapeError(f"{directory} is not in the task area of {root}")
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    fd = os.open(root, flags)
    try:
        for name in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, dir_fd=fd)
            fd, parent = os.open(name, flags, dir_fd=fd), fd
            os.close(parent)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file_beneath(root: Path, path: Path) -> int:
    """A read-only descriptor of the file `path` under `root`: its directories reached
    without following a link (`open_beneath`), the file itself opened with O_NOFOLLOW."""
    dfd = open_beneath(root, path.parent)
    try:
        return os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
    finally:
        os.close(dfd)


def check_name(value: str, what: str) -> str:
    if not is_valid_name(value):
        raise ValueError(f"invalid {what} {value!r}")
    return value


@dataclass(frozen=True)
class AllocDir:
    data_dir: Path
    alloc_id: str

    def __post_init__(self) -> None:
        check_name(self.alloc_id, "allocation id")

    @property
    def root(self) -> Path:
        return self.data_dir / "allocs" / self.alloc_id

    @property
    def shared(self) -> Path:
        return self.root / "alloc"

    @property
    def logs(self) -> Path:
        return self.shared / "logs"

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    def task_dir(self, task: str) -> Path:
        return self.root / check_name(task, "task name")

    def local_dir(self, task: str) -> Path:
        return self.task_dir(task) / "local"

    def secrets_dir(self, task: str) -> Path:
        return self.task_dir(task) / "secrets"

    def tmp_dir(self, task: str) -> Path:
        return self.task_dir(task) / "tmp"

    def build(self, tasks: list[str]) -> None:
        """Create every directory (idempotent). The allocation and its logs are 0750, as in
        Nomad: other local users read neither logs nor artifacts (review L5)."""
        for d in (self.shared, self.logs, self.shared / "data", self.shared / "tmp"):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o750)
        os.chmod(self.logs, 0o750)
        self.state.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state, 0o700)
        for t in tasks:
            for d in (self.local_dir(t), self.secrets_dir(t), self.tmp_dir(t)):
                d.mkdir(parents=True, exist_ok=True)
            os.chmod(self.secrets_dir(t), 0o700)

    def data_dirs(self, tasks: list[str]) -> list[str]:
        """What an `ephemeral_disk` hand-over carries (Nomad's AllocDir.Move): the shared
        `alloc/data` and each task's `local/`, as paths relative to the allocation root."""
        return ["alloc/data", *(f"{check_name(t, 'task name')}/local" for t in tasks)]

    def take_over(self, src_root: Path, tasks: list[str]) -> list[str]:
        """Move `src_root`'s data directories (`data_dirs`) here, replacing the empty ones
        `build` made: a rename, so a previous allocation's data on this node moves whole
        and at once. Returns what moved; a directory the source lacks is left empty."""
        moved = []
        for rel in self.data_dirs(tasks):
            old, new = src_root / rel, self.root / rel
            if not old.is_dir() or old.is_symlink():
                continue
            shutil.rmtree(new, ignore_errors=True)
            new.parent.mkdir(parents=True, exist_ok=True)
            os.replace(old, new)
            moved.append(rel)
        return moved

    def write_snapshot(self, out: BinaryIO) -> None:
        """A tar of the data directories (`data_dirs` of every task dir here) that exist, for
        another node's agent to take over (`/v1/client/allocation/<id>/snapshot`). Symbolic
        links are left out: on the other node they would point elsewhere (host volume links
        are made again there)."""
        tasks = sorted(
            e.name for e in os.scandir(self.root) if e.is_dir(follow_symlinks=False) and is_valid_name(e.name)
        )
        tasks = [t for t in tasks if t not in ("alloc", STATE_DIR)]
        with tarfile.open(fileobj=out, mode="w|") as tar:
            for rel in self.data_dirs(tasks):
                path = self.root / rel
                if path.is_dir() and not path.is_symlink():
                    tar.add(path, arcname=rel, filter=_no_links)

    def write_payload(self, task: str, file: str, data: bytes) -> Path:
        """A dispatched job's payload as `<task>/local/<file>` (Nomad's dispatch_payload),
        written before the task starts; PathEscapeError if `file` leaves `local/`."""
        target = inside(self.local_dir(task), file)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        return target

    def log_files(self, task: str, log_type: str) -> list[Path]:
        """The task's log files of one type, oldest first (by their index N)."""
        return log_files(self.logs, task, log_type)

    def read_launch_spec(self, task: str) -> dict[str, Any]:
        """The task's launch spec ({} if the task never started here, or `task` is no name)."""
        if not is_valid_name(task):
            return {}
        return read_launch_spec(launch_spec_file(self.state, task))


def launch_spec_file(state_dir: Path, task: str) -> Path:
    return state_dir / f"{task}.spec"


def write_launch_spec(path: Path, spec: dict[str, Any]) -> None:
    """Write a launch spec, readable by the agent's user only (it holds the task's env)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        marshal.dump(spec, fh)


def read_launch_spec(path: Path) -> dict[str, Any]:
    """A launch spec ({} if missing or unreadable)."""
    try:
        with open(path, "rb") as fh:
            data = marshal.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, EOFError, ValueError, TypeError):
        return {}


def log_prefix(task: str, log_type: str) -> str:
    if log_type not in LOG_TYPES:
        raise ValueError(f"invalid log type {log_type!r}: stdout or stderr")
    return f"{check_name(task, 'task name')}.{log_type}."


def log_files(logs_dir: Path, task: str, log_type: str) -> list[Path]:
    prefix = log_prefix(task, log_type)
    pat = re.compile(re.escape(prefix) + r"(\d+)$")
    found: list[tuple[int, Path]] = []
    try:
        entries = list(os.scandir(logs_dir))
    except FileNotFoundError:
        return []
    for entry in entries:
        m = pat.match(entry.name)
        # a symlink a task planted here must not make the logs API read its target (review M5)
        if m and entry.is_file(follow_symlinks=False):
            found.append((int(m.group(1)), logs_dir / entry.name))
    return [p for _, p in sorted(found)]


@dataclass(frozen=True)
class LogChunk:
    data: bytes
    file: str  # the file the chunk ends in
    offset: int  # the offset in that file after the chunk


def read_logs(files: list[Path], *, origin: str = "start", offset: int = 0, limit: int = 1 << 20) -> LogChunk:
    """Read the concatenated log files like Nomad's fs/logs: `origin=start` skips `offset`
    bytes from the beginning of the oldest file kept, `origin=end` returns the last `offset`
    bytes. At most `limit` bytes."""
    if not files:
        return LogChunk(b"", "", 0)
    sizes = []
    for f in files:
        try:
            sizes.append(f.stat().st_size)
        except FileNotFoundError:
            sizes.append(0)
    total = sum(sizes)
    start = max(0, total - offset) if origin == "end" else min(offset, total)
    out = bytearray()
    pos = 0
    last_file, last_off = files[-1].name, sizes[-1]
    for f, size in zip(files, sizes, strict=True):
        if pos + size <= start:
            pos += size
            continue
        skip = max(0, start - pos)
        try:
            with open(os.open(f, os.O_RDONLY | os.O_NOFOLLOW), "rb") as fh:
                fh.seek(skip)
                data = fh.read(min(size - skip, limit - len(out)))
        except OSError:  # gone, or replaced by a symlink since it was listed
            data = b""
        out += data
        last_file, last_off = f.name, skip + len(data)
        pos += size
        if len(out) >= limit:
            break
    return LogChunk(bytes(out), last_file, last_off)


def tail_lines(data: bytes, n: int) -> bytes:
    """The last `n` lines of `data` (a trailing newline does not count as a line)."""
    if n <= 0:
        return b""
    lines = data.splitlines(keepends=True)
    return b"".join(lines[-n:])


def _no_links(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if info.issym() or info.islnk() or not (info.isfile() or info.isdir()) else info


def read_snapshot(src: BinaryIO, dest: Path) -> None:
    """Unpack a `write_snapshot` stream under `dest`; tarfile's `data` filter refuses any
    member that would land outside it, links, devices and set-id bits."""
    with tarfile.open(fileobj=src, mode="r|") as tar:
        tar.extractall(dest, filter="data")
