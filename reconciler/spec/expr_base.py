"""What HCL expressions are made of and evaluate to, shared by the evaluator and the readers:
the error with its position, the scope, the markers of `var`/`local` roots and of runtime
references kept verbatim, value conversions and operators, and `file()`'s sandboxed read.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Token, Tree

from reconciler.model.alloc_dir import PathEscapeError, inside
from reconciler.spec.errors import NOWHERE, Pos
from reconciler.spec.functions import MAX_SIZE, type_name


class EvalError(Exception):
    """An expression cannot be evaluated; `pos` says where."""

    def __init__(self, message: str, pos: Pos = NOWHERE, *, reported: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.reported = reported  # already reported elsewhere (e.g. an unset variable)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # the value of a declared variable that was given no value


class RuntimeRef(Exception):
    """An expression names something only known on the node (kept verbatim in strings)."""


@dataclass
class Scope:
    variables: dict[str, Any] = field(default_factory=dict)
    local: Callable[[str, Pos], Any] | None = None
    base_dir: Path | None = None


class Root:
    def __init__(self, kind: str) -> None:
        self.kind = kind


def pos_of(node: Tree[Token] | Token) -> Pos:
    if isinstance(node, Token):
        return Pos(node.line or 0, node.column or 0)
    meta = node.meta
    if getattr(meta, "empty", True):
        return NOWHERE
    return Pos(getattr(meta, "line", 0), getattr(meta, "column", 0))


def subtrees(node: Tree[Token]) -> list[Tree[Token]]:
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def to_text(v: Any, pos: Pos) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, str):
        return v
    raise EvalError(f"cannot put {type_name(v)} into a string", pos)


def to_number(v: Any, pos: Pos) -> int | float:
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise EvalError(f"needs a number, got {type_name(v)}", pos)
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                raise EvalError(f'needs a number, got "{v}"', pos) from None
    return v


def tidy(n: float | int) -> int | float:
    if isinstance(n, float) and n.is_integer() and abs(n) < 2**53:
        return int(n)
    if isinstance(n, int) and abs(n) >= 2**63:
        raise OverflowError("the result is too large")
    return n


ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


class Verbatim:
    """A runtime interpolation kept as the user wrote it."""

    def __init__(self, text: str) -> None:
        self.text = text


def read_file(args: list[Any], base: Path | None, pos: Pos) -> str:
    """`file(path)`: reads only below the job file's own directory (`base`); text without a
    file of its own (sent over the API, pasted in the UI) may not read at all, so parsing
    never discloses the server's files (review finding H2)."""
    if len(args) != 1 or not isinstance(args[0], str):
        raise EvalError("file() takes one path", pos)
    if base is None:
        raise EvalError(
            f'file("{args[0]}") is not available here: a job sent over the API is parsed without '
            "reading the server's files; run it from a file with the CLI, or inline the content",
            pos,
        )
    try:
        path = inside(base, args[0])
    except PathEscapeError:
        raise EvalError(
            f'file("{args[0]}"): only files below the job file\'s directory {base} can be read', pos
        ) from None
    try:
        with path.open("rb") as f:
            data = f.read(MAX_SIZE + 1)
    except OSError as exc:
        raise EvalError(f'file("{args[0]}"): cannot read {path}: {exc.strerror or exc}', pos) from None
    if len(data) > MAX_SIZE:
        raise EvalError(f'file("{args[0]}"): {path} is larger than {MAX_SIZE} bytes', pos)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EvalError(f'file("{args[0]}"): cannot read {path}: {exc}', pos) from None
