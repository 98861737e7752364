"""HCL string text without evaluation: escapes, heredoc bodies, and where a `${` ends.

Shared by the evaluator (`expressions`) and the canonical writer (`hcl_format`).
"""

from __future__ import annotations

import re

_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def unescape(text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        s = m.group(1)
        if s in _SIMPLE:
            return _SIMPLE[s]
        if s[0] in "uU" and len(s) > 1:
            return chr(int(s[1:], 16))
        return "\\" + s

    return _ESCAPE.sub(sub, text)


def matching_brace(text: str, i: int) -> int:
    depth = 1
    quoted = False
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def heredoc_text(raw: str, *, trim: bool) -> str:
    """A heredoc token's text: the lines between its opening line and its marker line, each
    ended by a newline; `trim` (`<<-`) removes the indentation the lines share."""
    body = raw.split("\n", 1)[1] if "\n" in raw else ""
    lines = body.split("\n")
    # The token ends with "<MARKER>\n": drop the marker line and the empty tail.
    while lines and lines[-1].strip() == "":
        lines.pop()
    if lines:
        lines.pop()
    if trim:
        indents = [len(ln) - len(ln.lstrip(" \t")) for ln in lines if ln.strip()]
        cut = min(indents) if indents else 0
        lines = [ln[cut:] for ln in lines]
    return "".join(ln + "\n" for ln in lines)
