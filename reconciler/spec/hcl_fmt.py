"""`reconciler fmt`: HCL job files formatted as text, the way `nomad fmt` (hclwrite) does.

The file is formatted, not re-rendered: comments, `variable` and `locals` blocks,
expressions and the order of everything stay as written. What changes is layout only:
each line is indented two spaces per open `{`, `[` or `(`, spaces around a leading
attribute's `=` become one, the `=` of consecutive one-line attributes at the same depth
line up, trailing whitespace goes and the file ends with one newline. Heredoc bodies and the
inside of `/* ... */` comments are left exactly as they are. The text must parse (the
syntax check is the loader's), so a formatted file means the same job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reconciler.spec.hcl_syntax import parse_tree

_ATTRIBUTE = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*=(?!=)\s*(.*)$")
_HEREDOC = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_-]*)\s*$")
OPENERS, CLOSERS = "{[(", "}])"


@dataclass
class _Line:
    text: str  # stripped, or verbatim for heredoc bodies and comment interiors
    depth: int = 0
    verbatim: bool = False
    name: str = ""  # the attribute's name when the line is `name = value`
    value: str = ""
    closed: bool = True  # the attribute's value ends on this line


def _code_only(code: str, in_comment: bool) -> tuple[str, bool]:
    """The line without its strings' contents and its comments (each string becomes `""`),
    and whether a /* comment is still open at its end."""
    out: list[str] = []
    i, in_string = 0, False
    while i < len(code):
        ch, two = code[i], code[i : i + 2]
        if in_comment:
            in_comment, i = (False, i + 2) if two == "*/" else (True, i + 1)
        elif in_string:
            in_string = ch != '"'
            i += 2 if ch == "\\" else 1
            out.append("" if in_string else '"')
        elif two == "/*":
            in_comment, i = True, i + 2
        elif ch == "#" or two == "//":
            break
        else:
            in_string = ch == '"'
            out.append(ch)
            i += 1
    return "".join(out), in_comment


def _scan(code: str, in_comment: bool) -> tuple[int, int, bool]:
    """(leading closers, net bracket change, still inside a /* comment) of one line,
    counting brackets outside strings and comments."""
    bare, in_comment = _code_only(code, in_comment)
    bare = bare.strip()
    leading = len(bare) - len(bare.lstrip(CLOSERS + " \t"))
    leading = sum(1 for ch in bare[:leading] if ch in CLOSERS)
    net = sum(1 for ch in bare if ch in OPENERS) - sum(1 for ch in bare if ch in CLOSERS)
    return leading, net, in_comment


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    depth, heredoc, in_comment = 0, "", False
    for raw in text.split("\n"):
        if heredoc:
            out.append(_Line(raw, verbatim=True))
            if raw.strip() == heredoc:
                heredoc = ""
            continue
        code = raw.strip()
        if in_comment:
            out.append(_Line(raw.rstrip(), verbatim=True))
            _lead, _net, in_comment = _scan(code, True)
            continue
        leading, net, in_comment = _scan(code, False)
        line = _Line(code, max(depth - leading, 0))
        found = _ATTRIBUTE.match(code)
        if found:
            line.name, line.value, line.closed = found[1], found[2], net == 0
        depth = max(depth + net, 0)
        out.append(line)
        opened = _HEREDOC.search(_code_only(code, False)[0])  # not one inside a string
        if opened:
            heredoc = opened[1]
    return out


def _align(lines: list[_Line]) -> None:
    """Pad names so that the `=` of consecutive one-line attributes at one depth line up;
    an attribute whose value goes on over more lines ends its run."""
    run: list[_Line] = []

    def flush() -> None:
        width = max((len(x.name) for x in run), default=0)
        for x in run:
            x.text = f"{x.name.ljust(width)} = {x.value}".rstrip()
        run.clear()

    for line in lines:
        if line.name and not line.verbatim and (not run or run[0].depth == line.depth):
            run.append(line)
            if not line.closed:
                flush()
            continue
        flush()
        if line.name and not line.verbatim:
            run.append(line)
            if not line.closed:
                flush()
    flush()


def format_hcl_text(text: str, filename: str = "<input>") -> str:
    """`text` (an HCL job file) formatted as `nomad fmt` would; SpecError if it does not parse."""
    parse_tree(text, filename)
    lines = _lines(text)
    _align(lines)
    body = "\n".join(x.text if x.verbatim else ("  " * x.depth + x.text if x.text else "") for x in lines)
    return body.strip("\n") + "\n"
