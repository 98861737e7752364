"""The launch spec file: the contract between the node agent (writer) and the exec endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.model.alloc_dir import AllocDir, launch_spec_file, write_launch_spec

ALLOC = "a1b2c3d4-0000-0000-0000-000000000001"


@pytest.mark.parametrize(
    ("content", "task", "want"),
    [
        (
            {"argv": ["/bin/true"], "env": {"A": "1"}, "cwd": "/tmp"},
            "web",
            {"argv": ["/bin/true"], "env": {"A": "1"}, "cwd": "/tmp"},
        ),
        (None, "web", {}),
        (b"not marshal", "web", {}),
        ({"argv": []}, "../web", {}),
    ],
    ids=["written-by-the-agent", "never-started", "garbage", "not-a-task-name"],
)
def test_read_launch_spec(
    tmp_path: Path, content: dict[str, object] | bytes | None, task: str, want: dict[str, object]
) -> None:
    adir = AllocDir(tmp_path, ALLOC)
    adir.build(["web"])
    path = launch_spec_file(adir.state, "web")
    if isinstance(content, dict):
        write_launch_spec(path, content)
        assert path.stat().st_mode & 0o777 == 0o600
    elif content is not None:
        path.write_bytes(content)
    assert adir.read_launch_spec(task) == want
