"""A task's logs cannot be turned against the agent (review finding M5, with L5's log file
mode): the logs API skips a planted symlink, rotation replaces one rather than writing
through it, and the logs directory, opened once with `O_NOFOLLOW`, is neither redirected by
a later swap for a link nor accepted when it is one; against real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from controllers.driver_runner.executor import LogRotator
from reconciler.model.alloc_dir import log_files, read_logs


def test_m5_logs_api_does_not_follow_a_planted_symlink(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "web.stdout.0").write_bytes(b"mine\n")
    secret = tmp_path / "shadow"
    secret.write_text("root:hash\n")
    os.symlink(secret, logs / "web.stdout.999")
    files = log_files(logs, "web", "stdout")
    assert [f.name for f in files] == ["web.stdout.0"]
    assert read_logs([*files, logs / "web.stdout.999"]).data == b"mine\n"


def test_m5_log_rotation_replaces_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    os.symlink(victim, tmp_path / "web.stdout.1")
    (tmp_path / "web.stdout.0").write_bytes(b"")
    rot = LogRotator(str(tmp_path), "web", "stdout", max_files=5, max_size=4)
    rot.write(b"12345678")
    rot.close()
    assert victim.read_text() == "untouched"
    assert (tmp_path / "web.stdout.1").read_bytes() == b"1234"
    assert not (tmp_path / "web.stdout.1").is_symlink()
    assert (tmp_path / "web.stdout.1").stat().st_mode & 0o777 == 0o640


def test_m5_swapping_the_logs_dir_for_a_symlink_redirects_nothing(tmp_path: Path) -> None:
    logs, elsewhere = tmp_path / "logs", tmp_path / "elsewhere"
    logs.mkdir()
    elsewhere.mkdir()
    rot = LogRotator(str(logs), "web", "stdout", max_files=5, max_size=4)
    rot.write(b"1234")
    logs.rename(tmp_path / "moved")
    os.symlink(elsewhere, logs)  # what a task sharing the alloc dir could do after start
    rot.write(b"5678")
    rot.close()
    assert list(elsewhere.iterdir()) == []
    assert (tmp_path / "moved" / "web.stdout.1").read_bytes() == b"5678"


def test_m5_a_logs_dir_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "logs")
    with pytest.raises(OSError, match=r"Not a directory|symbolic links"):  # O_NOFOLLOW refuses the link
        LogRotator(str(tmp_path / "logs"), "web", "stdout", max_files=5, max_size=4)
