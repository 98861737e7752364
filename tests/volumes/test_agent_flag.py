"""`reconciler agent --host-volume name=/path[,read_only]`: what the flag accepts."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from reconciler.cli.agent_cmd import _host_volumes
from reconciler.model.objects import HostVolume


def test_volumes_are_read_with_absolute_paths_and_the_read_only_flag(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    got = _host_volumes((f"one={tmp_path}/a", f"two={tmp_path}/b,read_only"))
    assert got == {
        "one": HostVolume(path=str((tmp_path / "a").resolve())),
        "two": HostVolume(path=str((tmp_path / "b").resolve()), read_only=True),
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("noequals", "expected name=/path[,read_only]"),
        ("=DIR", "expected name=/path[,read_only]"),
        ("bad name=DIR", "expected name=/path[,read_only]"),
        ("v=DIR,writable", "expected name=/path[,read_only]"),
        ("v=DIR/missing", "is not a directory"),
    ],
    ids=["no-equals", "no-name", "invalid-name", "unknown-option", "not-a-directory"],
)
def test_bad_values_are_refused_naming_the_flag(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(click.BadParameter) as err:
        _host_volumes((value.replace("DIR", str(tmp_path)),))
    assert message in str(err.value)
    assert err.value.param_hint == "--host-volume"
