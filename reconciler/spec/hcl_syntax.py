"""HCL text to python-hcl2's Lark tree, with syntax errors said in words.

The first step of reading a `.nomad`/`.hcl` file. Lark reports what it expected as
terminal names (`DBLQUOTE`, `RBRACE`); users get "expected a value (a quoted string,
number, list or object), found '}'" with the line and column instead.
"""

from __future__ import annotations

import re

import hcl2
from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from reconciler.spec.errors import SpecError, SpecIssue, excerpt
from reconciler.spec.rawtree import child_path

_WORDS: dict[str, str] = {
    "DBLQUOTE": "a quoted string",
    "INT_LITERAL": "a number",
    "FLOAT_LITERAL": "a number",
    "NAME": "a name",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "EQ": "'='",
    "COLON": "':'",
    "COMMA": "','",
    "DOT": "'.'",
    "QMARK": "'?'",
    "NL_OR_COMMENT": "a new line",
    "INTERP_START": "'${'",
    "ELLIPSIS": "'...'",
    "FOR_OBJECT_ARROW": "'=>'",
    "$END": "the end of the file",
}
_VALUE_STARTS = {"DBLQUOTE", "INT_LITERAL", "LSQB", "LBRACE"}
_OPERATORS = {
    "PLUS",
    "MINUS",
    "ASTERISK",
    "SLASH",
    "PERCENT",
    "DOUBLE_EQ",
    "NEQ",
    "LT",
    "GT",
    "LEQ",
    "GEQ",
    "DOUBLE_AMP",
    "DOUBLE_PIPE",
    "QMARK",
    "NOT",
}
_SKIP = {
    "TEMPLATE_STRING",
    "HEREDOC_TEMPLATE",
    "HEREDOC_TEMPLATE_TRIM",
    "FLOAT_LITERAL",
    "ATTR_SPLAT",
    "FULL_SPLAT_START",
    "COLONS",
    "IN",
    "FOR",
    "IF",
    "FOR_EACH",
    "ELSE",
    "ENDIF",
    "ENDFOR",
    "TRUE",
    "FALSE",
    "NULL",
    "STRIP_MARKER",
    "STRING_CHARS",
    "ESCAPED_INTERPOLATION",
    "ESCAPED_DIRECTIVE",
    "DIRECTIVE_START",
}


def expected_words(expected: set[str] | frozenset[str]) -> str:
    """Lark's expected terminals as a phrase: "a quoted string or '}'"."""
    names = set(expected)
    words: list[str] = []
    if names >= _VALUE_STARTS:
        words.append("a value (a quoted string, number, list or object)")
        names -= _VALUE_STARTS | {"NAME", "LPAR", "MINUS", "NOT", "FLOAT_LITERAL"}
    if names & _OPERATORS and len(names & _OPERATORS) > 3:
        words.append("an operator")
    names -= _OPERATORS | _SKIP
    for name in sorted(names, key=lambda n: list(_WORDS).index(n) if n in _WORDS else 99):
        word = _WORDS.get(name)
        if word and word not in words:
            words.append(word)
    if not words:
        return ""
    if len(words) > 4:
        return ""
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _found(text: str, token_type: str) -> str:
    if token_type == "$END":
        return "the end of the file"
    stripped = text.lstrip(" \t\r")
    if stripped.startswith("\n") or stripped.startswith("#") or stripped.startswith("//"):
        return "the end of the line"
    if not stripped:
        return "the end of the file"
    first = stripped.split("\n", 1)[0]
    if len(first) > 20:
        first = first[:20] + "..."
    return f"'{first}'"


def unclosed_string(text: str) -> tuple[int, int] | None:
    """Line and column of a quoted string that runs to the end of the file, if any."""
    line, col = 1, 0
    start: tuple[int, int] | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        col += 1
        if start is not None:
            if ch == "\\":
                i += 1
                col += 1
            elif ch == '"':
                start = None
        elif ch == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif ch == '"':
            start = (line, col)
        if i < len(text) and text[i] == "\n":
            line, col = line + 1, 0
        i += 1
    return start


def syntax_error(exc: Exception, text: str, filename: str) -> SpecError:
    """A SpecError describing the parser's exception in words."""
    line = getattr(exc, "line", 0) or 0
    column = getattr(exc, "column", 0) or 0
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        found = _found(str(token), token.type)
        want = expected_words(exc.expected)
        if token.type == "$END":
            lines = text.split("\n")
            line, column = len(lines), len(lines[-1]) + 1
        msg = f"expected {want}, found {found}" if want else f"unexpected {found}"
        opened = unclosed_string(text)
        if token.type == "$END" and opened is not None:
            line, column = opened
            msg = "unterminated string: this quoted string is never closed"
    elif isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream if isinstance(exc.pos_in_stream, int) else -1
        ch = text[at] if 0 <= at < len(text) else ""
        if ch == '"':
            msg = "unterminated string: a quoted string must close on the same line"
        else:
            msg = f"unexpected character {ch!r}"
            want = expected_words(exc.allowed or set())
            if want:
                msg += f", expected {want}"
    elif isinstance(exc, UnexpectedEOF):
        lines = text.split("\n")
        line, column = len(lines), len(lines[-1]) + 1
        want = expected_words(set(exc.expected))
        msg = "unexpected end of the file" + (f", expected {want}" if want else "")
    else:
        msg = f"cannot parse: {exc}".splitlines()[0]
    if line < 0:
        line, column = 0, 0
    return SpecError(
        [SpecIssue(filename, line, column, _attribute_at(text, line), msg, excerpt(text, line, column))]
    )


def _attribute_at(text: str, line: int) -> str:
    """The path of the attribute written on `line` (`job.todo.group.web.count` for
    `    count = `), found by following the block openings and closings above it; "" when the
    line holds no attribute. The file does not parse, so this reads lines, not a tree."""
    lines = text.split("\n")
    found = _ATTRIBUTE.match(lines[line - 1]) if 1 <= line <= len(lines) else None
    if found is None:
        return ""
    path = ""
    stack: list[tuple[str, dict[str, int]]] = [("", {})]
    for source in lines[: line - 1]:
        opened = _OPENING.match(source)
        if opened:
            btype, labels = opened[1], re.findall(r'"([^"]*)"', opened[2])
            counts = stack[-1][1]
            index = counts.get(btype, 0)
            counts[btype] = index + 1
            stack.append((child_path(stack[-1][0], btype, labels, index), {}))
        elif _CLOSING.match(source) and len(stack) > 1:
            stack.pop()
    path = stack[-1][0]
    return f"{path}.{found[1]}" if path else found[1]


_ATTRIBUTE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=")
_OPENING = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_-]*)((?:\s+"[^"]*")*)\s*\{\s*(#.*)?$')
_CLOSING = re.compile(r"^\s*\}\s*(#.*)?$")


def parse_tree(text: str, filename: str) -> Tree[Token]:
    """python-hcl2's Lark tree for `text`; SpecError with line, column and words on bad syntax."""
    if not text.endswith("\n"):
        text += "\n"
    try:
        return hcl2.parses_to_tree(text)
    except UnexpectedInput as exc:
        raise syntax_error(exc, text, filename) from None
    except RecursionError:
        raise SpecError([SpecIssue(filename, 0, 0, "", "the file is nested too deeply")]) from None
    except MemoryError:
        raise  # not the text's fault: the parse worker's limit (api/parsing.py)
    except Exception as exc:  # python-hcl2 raises plain errors for a few malformed inputs
        raise syntax_error(exc, text, filename) from None


def body_of(tree: Tree[Token]) -> Tree[Token]:
    """The body of a parsed file: python-hcl2's start rule has exactly one child, the body."""
    body = tree.children[0]
    if not isinstance(body, Tree):
        raise TypeError(f"python-hcl2 returned a start rule without a body: {tree!r}")
    return body
