"""Nomad's `?filter=` expressions (HashiCorp's go-bexpr language) over the JSON shapes the
list endpoints answer with. PyPI has no implementation of it, so this is a small one.

    Status == "running" and TaskGroup != cache
    "web" in Tags   Tags contains "web"   Name matches "^api-[0-9]+$"
    DeploymentID is empty   not (ClientStatus == failed or Node.Meta["zone"] is not empty)

Selectors are the answer's field names (`Status`, `Meta.x`, `Node.Meta["a.b"]`); a value
is a quoted string ("..." or `...`), a number, or a bare word. Operators: `==`, `!=`,
`in`, `not in`, `contains`, `not contains`, `matches`, `not matches`, `is empty`,
`is not empty`, joined by `and`, `or`, `not` and parentheses (`not` binds tightest, then
`and`, then `or`). A value is compared as the field's type: numbers as numbers, booleans
as `true`/`false`, anything else as text. A selector that names no field selects
nothing: `==` is false, `!=` true, `is empty` true.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Predicate = Callable[[Any], bool]

_MISSING = object()

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<lparen>\() | (?P<rparen>\)) | (?P<op>==|!=)
    | (?P<dq>"(?:[^"\\]|\\.)*") | (?P<raw>`[^`]*`)
    | (?P<word>[A-Za-z0-9_\-+.:/*]+(?:\[\s*(?:"(?:[^"\\]|\\.)*"|`[^`]*`)\s*\][A-Za-z0-9_\-.:/]*)*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "contains", "matches", "is", "empty"}
_SEGMENT = re.compile(r"""\.?([A-Za-z0-9_\-/:]+)|\[\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*\]""")


class FilterError(ValueError):
    """The expression is not valid; the message says where."""


@dataclass(frozen=True)
class Token:
    kind: str  # lparen, rparen, op, string, word
    text: str
    pos: int


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


def _unquote(text: str) -> str:
    """A string literal's text: backticks as written; double quotes with Go's escapes for
    quote, backslash, newline and tab (any other backslash stays, as regexes need it)."""
    if text.startswith("`"):
        return text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text[1:-1])


def tokenize(expr: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            raise FilterError(f"unexpected character {expr[pos:].lstrip()[:1]!r} at position {pos}")
        kind = m.lastgroup or ""
        text = m.group(kind)
        if kind in ("dq", "raw"):
            out.append(Token("string", _unquote(text), m.start(kind)))
        else:
            out.append(Token(kind, text, m.start(kind)))
        pos = m.end()
    return out


def _selector(text: str, pos: int) -> list[str]:
    parts: list[str] = []
    i = 0
    while i < len(text):
        m = _SEGMENT.match(text, i)
        if m is None or m.end() == i:
            raise FilterError(f"invalid selector {text!r} at position {pos}")
        parts.append(m.group(1) if m.group(1) is not None else _unquote(m.group(2)))
        i = m.end()
    return parts


def select(row: Any, path: list[str]) -> Any:
    cur = row
    for part in path:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def _equal(field: Any, value: str) -> bool:
    if field is _MISSING:
        return False
    if isinstance(field, bool):
        return value.lower() == str(field).lower()
    if isinstance(field, int | float):
        try:
            return float(value) == float(field)
        except ValueError:
            return False
    if field is None:
        return value == ""
    return str(field) == value


def _empty(field: Any) -> bool:
    return field is _MISSING or field is None or (isinstance(field, str | list | dict) and len(field) == 0)


def _contains(field: Any, value: str) -> bool:
    if isinstance(field, str):
        return value in field
    if isinstance(field, dict):
        return value in field
    if isinstance(field, list):
        return any(_equal(item, value) for item in field)
    return False


def _matcher(path: list[str], op: str, value: str, pos: int) -> Predicate:
    test: Predicate
    if op in ("matches", "not matches"):
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise FilterError(f"invalid regular expression {value!r} at position {pos}: {exc}") from None
        test = lambda f: isinstance(f, str) and pattern.search(f) is not None  # noqa: E731
    else:
        test = {
            "==": lambda f: _equal(f, value),
            "!=": lambda f: _equal(f, value),
            "contains": lambda f: _contains(f, value),
            "not contains": lambda f: _contains(f, value),
            "in": lambda f: _contains(f, value),
            "not in": lambda f: _contains(f, value),
            "is empty": _empty,
            "is not empty": _empty,
        }[op]
    negate = op.startswith("not ") or op in ("!=", "is not empty")
    return lambda row: test(select(row, path)) != negate


class _Parser:
    def __init__(self, expr: str) -> None:
        self.tokens = tokenize(expr)
        self.i = 0
        self.end = len(expr)

    def peek(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def word(self, ahead: int = 0) -> str:
        t = self.peek(ahead)
        return t.text.lower() if t is not None and t.kind == "word" else ""

    def take(self) -> Token:
        t = self.peek()
        if t is None:
            raise FilterError(f"unexpected end of expression at position {self.end}")
        self.i += 1
        return t

    def expect_word(self, *words: str) -> None:
        t = self.take()
        if t.kind != "word" or t.text.lower() not in words:
            raise FilterError(f"expected {' or '.join(words)!s} at position {t.pos}, got {t.text!r}")

    def parse(self) -> Predicate:
        if not self.tokens:
            raise FilterError("empty filter expression")
        pred = self.or_expr()
        t = self.peek()
        if t is not None:
            raise FilterError(f"unexpected {t.text!r} at position {t.pos}")
        return pred

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.word() == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.word() == "and":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def unary(self) -> Predicate:
        if self.word() == "not":
            self.take()
            inner = self.unary()
            return lambda row: not inner(row)
        t = self.peek()
        if t is not None and t.kind == "lparen":
            self.take()
            inner = self.or_expr()
            close = self.take()
            if close.kind != "rparen":
                raise FilterError(f"expected ')' at position {close.pos}, got {close.text!r}")
            return inner
        return self.match()

    def value(self) -> Token:
        t = self.take()
        if t.kind not in ("string", "word") or (t.kind == "word" and t.text.lower() in _KEYWORDS):
            raise FilterError(f"expected a value at position {t.pos}, got {t.text!r}")
        return t

    def match(self) -> Predicate:
        # `Value in Selector` / `Value not in Selector`
        if self.word(1) == "in" or (self.word(1) == "not" and self.word(2) == "in"):
            value = self.value()
            op = "in" if self.word() == "in" else "not in"
            self.i += 1 if op == "in" else 2
            sel = self.take()
            if sel.kind != "word":
                raise FilterError(f"expected a selector at position {sel.pos}, got {sel.text!r}")
            return _matcher(_selector(sel.text, sel.pos), op, value.text, value.pos)
        sel = self.take()
        if sel.kind != "word" or sel.text.lower() in _KEYWORDS:
            raise FilterError(f"expected a selector at position {sel.pos}, got {sel.text!r}")
        path = _selector(sel.text, sel.pos)
        op = self.operator()
        if op in ("is empty", "is not empty"):
            return _matcher(path, op, "", sel.pos)
        value = self.value()
        return _matcher(path, op, value.text, value.pos)

    def operator(self) -> str:
        t = self.take()
        if t.kind == "op":
            return t.text
        word = t.text.lower() if t.kind == "word" else ""
        if word in ("contains", "matches"):
            return word
        if word == "not":
            self.expect_word("contains", "matches")
            return "not " + self.tokens[self.i - 1].text.lower()
        if word == "is":
            if self.word() == "not":
                self.take()
                self.expect_word("empty")
                return "is not empty"
            self.expect_word("empty")
            return "is empty"
        raise FilterError(f"expected an operator at position {t.pos}, got {t.text!r}")


def compile_filter(expr: str) -> Predicate:
    """A predicate over one row of an answer; FilterError if `expr` is not valid."""
    return _Parser(expr).parse()
