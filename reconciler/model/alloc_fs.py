"""Browsing an allocation directory the way Nomad's client file system API does (`alloc fs`,
`/v1/client/fs/{ls,stat,cat,readat,stream}`): what the user may see and how an entry is
described (Nomad's AllocFileInfo).

A path is relative to the allocation root (`/` is the root, `/alloc/logs` its logs) and is
resolved with `alloc_dir.inside_task_area`: no `..`, no absolute escape, no symbolic link
whose target lies outside, nothing in the agent's `.state/`. As in Nomad, a task's
`secrets/` directory is never readable through this API (it holds Vault and workload
identity tokens). Files are opened with O_NOFOLLOW, so a link swapped in after the check is
not followed either.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.model.alloc_dir import STATE_DIR, PathEscapeError, inside_task_area

MAX_READ = 1 << 20  # one frame / one readat answer at most


def resolve(root: Path, path: str) -> Path:
    """The entry `path` names under the allocation root; PathEscapeError when it leaves the
    root, enters `.state/`, or enters a task's `secrets/`."""
    rel = path.lstrip("/") or "."
    target = inside_task_area(root, rel)
    real_root = root.resolve()
    if target != real_root:
        parts = target.relative_to(real_root).parts
        if len(parts) >= 2 and parts[1] == "secrets" and parts[0] != "alloc":
            raise PathEscapeError(f"reading secret file prohibited: {path}")
    return target


def content_type(path: Path) -> str:
    """A MIME type from the name, as Nomad's stat reports (application/octet-stream unknown)."""
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def file_info(path: Path, *, with_type: bool = False) -> dict[str, Any]:
    """Nomad's AllocFileInfo for `path` (not following a final symbolic link)."""
    st = os.lstat(path)
    is_dir = stat.S_ISDIR(st.st_mode)
    info: dict[str, Any] = {
        "Name": path.name,
        "IsDir": is_dir,
        "Size": st.st_size,
        "FileMode": stat.filemode(st.st_mode),
        "ModTime": datetime.fromtimestamp(st.st_mtime, UTC).isoformat().replace("+00:00", "Z"),
        "ContentType": "" if is_dir or not with_type else content_type(path),
    }
    return info


def list_dir(root: Path, target: Path) -> list[dict[str, Any]]:
    """The entries of directory `target`, by name; the root's `.state/` is left out."""
    hide = {STATE_DIR} if target == root.resolve() else set()
    names = sorted(n for n in os.listdir(target) if n not in hide)
    out = []
    for name in names:
        try:
            out.append(file_info(target / name))
        except FileNotFoundError:
            continue  # removed while listing
    return out


def read_at(target: Path, offset: int, limit: int) -> bytes:
    """Up to `limit` bytes of regular file `target` from `offset` (limit < 0: to the end)."""
    fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
    with open(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise IsADirectoryError(f"{target.name} is not a regular file")
        fh.seek(max(0, offset))
        return fh.read(limit if limit >= 0 else -1)


def file_size(target: Path) -> int:
    return os.stat(target).st_size
