"""Broken job files: each gives exactly the messages (and lines) in its `.expected` file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.spec import SpecError, load_job_file
from tests.spec.paths import BROKEN

CASES = sorted(p for p in BROKEN.iterdir() if not p.name.endswith(".expected"))


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_broken_file_reports_the_expected_errors(path: Path) -> None:
    expected = (BROKEN / f"{path.name}.expected").read_text(encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(BROKEN)  # messages name the file as given
    try:
        with pytest.raises(SpecError) as info:
            load_job_file(path.name, env={})
    finally:
        os.chdir(cwd)
    assert "\n".join(str(e) for e in info.value.errors) + "\n" == expected


def test_every_broken_file_has_an_expectation() -> None:
    assert all((BROKEN / f"{p.name}.expected").exists() for p in CASES)
    assert len(CASES) >= 20
