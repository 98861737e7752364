"""The module-size rule of docs/architecture.md, checked rather than hoped for: no module of
`reconciler`, `controllers` or `tests` over 400 lines unless its docstring says why ("Over
400 lines because ..."), so that a long file is a decision someone wrote down, not an
accident. The tests, their helpers and benchmarks included, are held to it as the code is."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 400
REASON = "Over 400 lines because"


def modules() -> list[Path]:
    return sorted(p for pkg in ("reconciler", "controllers", "tests") for p in (ROOT / pkg).rglob("*.py"))


def oversized_without_reason(paths: list[Path], root: Path = ROOT) -> list[str]:
    """Each module over the limit whose docstring gives no reason, with its length."""
    found = []
    for path in paths:
        text = path.read_text()
        lines = text.count("\n")
        if lines <= LIMIT:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if REASON not in " ".join(doc.split()):
            found.append(f"{path.relative_to(root)}: {lines} lines")
    return found


def test_the_packages_are_found() -> None:
    assert len(modules()) > 100


def test_no_module_is_over_400_lines_without_saying_why() -> None:
    assert oversized_without_reason(modules()) == []


@pytest.mark.parametrize(
    ("body", "flagged"),
    [
        ('"""Short."""\n' + "x = 1\n" * 10, False),
        ('"""Long, no reason."""\n' + "x = 1\n" * 401, True),
        ('"""Long.\n\nOver 400 lines because it is one thing."""\n' + "x = 1\n" * 401, False),
        ('"""Long.\n\nOver 400\nlines because the reason wraps."""\n' + "x = 1\n" * 401, False),
        ("# no docstring\n" + "x = 1\n" * 401, True),
    ],
)
def test_the_rule(tmp_path: Path, body: str, flagged: bool) -> None:
    path = tmp_path / "m.py"
    path.write_text(body)
    assert bool(oversized_without_reason([path], tmp_path)) is flagged
