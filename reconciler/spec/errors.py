"""The one error type for bad job specifications, and the issues it carries.

Every stage (HCL/YAML/JSON parsing, variable evaluation, decoding, validation) reports
problems as `SpecIssue`s: file, line, column, the field's path (`job.todo.group.web.count`)
and a sentence. Stages collect issues in an `Issues` list so a user sees every error at
once; the loaders raise one `SpecError` holding all of them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Pos:
    """Where something is in a source file (1-based line and column; 0 when unknown)."""

    line: int = 0
    column: int = 0


NOWHERE = Pos()

# How a validation rule reports: `add(path, message)`; the position is added later, from
# where the decoder saw the path.
Add = Callable[[str, str], None]


@dataclass(frozen=True)
class SpecIssue:
    file: str
    line: int
    column: int
    path: str
    message: str
    # the source line with a caret under the column, as HCL's diagnostics print it (syntax
    # errors); shown by `detailed()`, not part of the one-line form or of equality
    excerpt: str = field(default="", compare=False)

    def detailed(self) -> str:
        """The one-line form, then the excerpt (if any) below it."""
        return f"{self}\n{self.excerpt}" if self.excerpt else str(self)

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        if self.path:
            return f"{where}: {self.path}: {self.message}"
        return f"{where}: {self.message}"

    def located(self, file: str, pos: Pos) -> SpecIssue:
        """The same issue placed in `file` at `pos` (keeps a position it already has)."""
        if self.line:
            return replace(self, file=self.file or file)
        return replace(self, file=file, line=pos.line, column=pos.column)


class SpecError(Exception):
    """A job specification that cannot be read or is not valid; `errors` lists every issue."""

    def __init__(self, errors: Iterable[SpecIssue]) -> None:
        self.errors: list[SpecIssue] = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors) or "invalid job specification")


class Issues:
    """An ordered collector of issues for one source file."""

    def __init__(self, file: str = "<input>") -> None:
        self.file = file
        self.items: list[SpecIssue] = []
        self.failed_paths: set[str] = set()  # fields that failed for a reason reported elsewhere

    def add(self, path: str, message: str, pos: Pos = NOWHERE) -> None:
        self.items.append(SpecIssue(self.file, pos.line, pos.column, path, message))

    def extend(self, issues: Iterable[SpecIssue]) -> None:
        self.items.extend(issues)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError(self.items)


def excerpt(text: str, line: int, column: int) -> str:
    """Line `line` of `text` (1-based) and a caret under `column`, both indented, e.g.

    3 |     count =
      |             ^
    """
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return ""
    source = lines[line - 1].expandtabs(1)
    margin = " " * len(str(line))
    return f"  {line} | {source}\n  {margin} | " + " " * max(column - 1, 0) + "^"


def suggestion(word: str, known: Iterable[str]) -> str:
    """`, did you mean "x"?` for the closest known word, or an empty string."""
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f', did you mean "{close[0]}"?' if close else ""


def quote(value: object) -> str:
    """A value as users wrote it, for messages: strings in double quotes."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return str(value)
