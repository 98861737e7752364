"""Host volumes in the job model: what a group asks for and where its tasks see it (Nomad's
`volume` and `volume_mount`), apart from job.py to keep that module's size. The node's side
is `objects.HostVolume`; docs/storage.md describes the whole."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class VolumeRequest:
    """A group's `volume "name"`: the agent's host volume `source`, for its tasks to mount.
    Only `type = "host"` (CSI volumes need plugins this project does not run)."""

    name: str = ""
    type: str = "host"
    source: str = ""
    read_only: bool = False


@dataclass
class VolumeMount:
    """A task's `volume_mount`: the group's volume at `destination` inside the task dir."""

    volume: str = ""
    destination: str = ""
    read_only: bool = False
    propagation_mode: str = "private"  # the only mode a symlink or a private bind mount has
