"""Host volumes in the task directory: each `volume_mount` of a task becomes a symlink at its
destination (inside the task dir) to the directory the node offers under the volume's
`source` (`--host-volume name=/path`).

A symlink, not a bind mount: raw_exec sees the host's filesystem, so a link is what it sees,
and it needs no privilege. exec's chroot (drivers/exec.py) binds each volume's directory at
the same path inside, from `host_paths` (the job and the node, not the link, which the task
can replace), so the same link resolves there, read-only when asked. The link is the only
way out of the allocation directory: the readers of user paths (`alloc_dir.inside`) resolve
links and still refuse anything outside, so an artifact or template cannot be written
through a volume. Removing the allocation directory removes the link, never the volume's
data. `read_only` is advisory for raw_exec, as in Nomad: nothing stops the task's user from
writing there.
"""

from __future__ import annotations

import logging
import os
import posixpath
from pathlib import Path

from reconciler.model.alloc_dir import AllocDir, PathEscapeError, inside
from reconciler.model.job import Task, TaskGroup
from reconciler.model.objects import HostVolume
from reconciler.model.volumes import VolumeMount

log = logging.getLogger(__name__)


class VolumeError(Exception):
    """A mount cannot be made here (the reason is the allocation's failure description)."""


def link_mounts(group: TaskGroup, offered: dict[str, HostVolume], alloc_dir: AllocDir) -> None:
    """Link every task's mounts (idempotent: an agent restart finds its links in place)."""
    for task in group.tasks:
        for mount in task.volume_mounts:
            request = group.volumes.get(mount.volume)
            if request is None:
                raise VolumeError(f"task {task.name!r} mounts {mount.volume!r}, not a volume of the group")
            host = offered.get(request.source)
            if host is None:
                raise VolumeError(f"host volume {request.source!r} is not offered by this node")
            _link(alloc_dir.task_dir(task.name), mount, Path(host.path))
            log.info(
                "alloc=%s task=%s volume=%s linked at %s",
                alloc_dir.alloc_id,
                task.name,
                request.source,
                mount.destination,
            )


def host_paths(group: TaskGroup, offered: dict[str, HostVolume], task: Task) -> list[tuple[str, bool]]:
    """(host directory, read_only) of each of `task`'s mounts that this node offers, from the
    job and the node, never from the link in the task dir (which a task may replace): what
    the exec sandbox binds at the same path inside its chroot so that the link resolves."""
    out: list[tuple[str, bool]] = []
    for mount in task.volume_mounts:
        request = group.volumes.get(mount.volume)
        host = offered.get(request.source) if request is not None else None
        if request is not None and host is not None:
            out.append((host.path, mount.read_only or request.read_only or host.read_only))
    return out


def _link(task_dir: Path, mount: VolumeMount, target: Path) -> None:
    rel = posixpath.normpath(mount.destination.lstrip("/"))
    parent_rel, name = posixpath.split(rel)
    try:
        parent = inside(task_dir, parent_rel or ".")
    except PathEscapeError as exc:
        raise VolumeError(f"volume_mount destination {mount.destination!r}: {exc}") from None
    parent.mkdir(parents=True, exist_ok=True)
    link = parent / name
    if link.is_symlink():
        if os.readlink(link) == str(target):
            return
        link.unlink()
    elif link.exists():
        raise VolumeError(f"volume_mount destination {mount.destination!r} already exists in the task dir")
    link.symlink_to(target, target_is_directory=True)
