"""The agent's `--exec-chroot-env` flag: absolute host directories, Nomad's default when
empty (the sandbox itself is tested in test_exec_sandbox.py)."""

from __future__ import annotations

import click
import pytest

from reconciler.cli.agent_cmd import _chroot_env


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("", []),
        ("/usr,/bin", ["/usr", "/bin"]),
        (" /usr/ , /etc ,", ["/usr", "/etc"]),
    ],
)
def test_chroot_env_flag_is_a_list_of_directories(value: str, want: list[str]) -> None:
    assert _chroot_env(value) == want


@pytest.mark.parametrize("value", ["usr", "/", "/usr/../root", "/bin,etc"])
def test_bad_chroot_env_is_refused_naming_the_flag(value: str) -> None:
    with pytest.raises(click.BadParameter) as err:
        _chroot_env(value)
    assert err.value.param_hint == "--exec-chroot-env"
