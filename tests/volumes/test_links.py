"""The node agent's links from a task dir to the node's host volumes (no agent, real files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controllers.driver_runner.volumes import VolumeError, link_mounts
from reconciler.model.alloc_dir import AllocDir
from reconciler.model.job import Task, TaskGroup
from reconciler.model.objects import HostVolume
from reconciler.model.volumes import VolumeMount, VolumeRequest


def _setup(tmp_path: Path, destination: str, source: str = "shared") -> tuple[TaskGroup, AllocDir, Path]:
    host = tmp_path / "host"
    host.mkdir()
    task = Task(name="t", volume_mounts=[VolumeMount(volume="v", destination=destination)])
    group = TaskGroup(name="g", tasks=[task], volumes={"v": VolumeRequest("v", source=source)})
    alloc_dir = AllocDir(tmp_path / "data", "a1")
    alloc_dir.build(["t"])
    return group, alloc_dir, host


@pytest.mark.parametrize(
    ("destination", "where"),
    [("local/data", "local/data"), ("/data", "data"), ("deep/er/dir", "deep/er/dir")],
    ids=["relative", "absolute-is-from-the-task-dir", "parents-created"],
)
def test_the_mount_links_to_the_host_directory_and_is_idempotent(
    tmp_path: Path, destination: str, where: str
) -> None:
    group, alloc_dir, host = _setup(tmp_path, destination)
    offered = {"shared": HostVolume(path=str(host))}
    link_mounts(group, offered, alloc_dir)
    link_mounts(group, offered, alloc_dir)  # an agent restart finds the link in place
    link = alloc_dir.task_dir("t") / where
    assert link.is_symlink()
    assert link.resolve() == host.resolve()


def test_a_volume_the_node_does_not_offer_fails_the_setup(tmp_path: Path) -> None:
    group, alloc_dir, _ = _setup(tmp_path, "local/data", source="absent")
    with pytest.raises(VolumeError, match="'absent' is not offered by this node"):
        link_mounts(group, {}, alloc_dir)


def test_a_destination_through_a_planted_symlink_is_refused(tmp_path: Path) -> None:
    group, alloc_dir, host = _setup(tmp_path, "out/data")
    outside = tmp_path / "outside"
    outside.mkdir()
    (alloc_dir.task_dir("t") / "out").symlink_to(outside)
    with pytest.raises(VolumeError, match="escapes"):
        link_mounts(group, {"shared": HostVolume(path=str(host))}, alloc_dir)
    assert not (outside / "data").exists()


def test_an_existing_directory_at_the_destination_is_not_replaced(tmp_path: Path) -> None:
    group, alloc_dir, host = _setup(tmp_path, "local")
    with pytest.raises(VolumeError, match="already exists"):
        link_mounts(group, {"shared": HostVolume(path=str(host))}, alloc_dir)
