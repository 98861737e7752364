"""Evaluates HCL2 expressions from python-hcl2's Lark parse tree.

The HCL reader hands every attribute's expression tree here, with a `Scope` holding the
job's variables, its locals and the job file's directory. Supported: literals, lists,
objects, `var.*` and `local.*` references, indexing and attributes, templates ("a-${x}"),
heredocs, arithmetic, comparison, logic, conditionals and the functions of `functions.py`.

Runtime interpolations (`${NOMAD_PORT_http}`, `${node.unique.name}`, `${attr.kernel.name}`,
`${meta.x}`, `${env["X"]}`) name things only the node agent knows: inside a string they are
kept exactly as written; anywhere else they are an error. Evaluating the tree rather than the
`${...}` strings python-hcl2 also produces gives every error its line and column and avoids
a second parser. Nothing here calls Python's eval().
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import hcl2
from lark import Token, Tree

from reconciler.model.alloc_dir import PathEscapeError, inside
from reconciler.spec.errors import NOWHERE, Pos, suggestion
from reconciler.spec.functions import FUNCTIONS, MAX_SIZE, FunctionError, check_size, type_name
from reconciler.spec.hcl_syntax import body_of

MAX_DEPTH = 64
_V = TypeVar("_V")


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


class _RuntimeRef(Exception):
    """An expression names something only known on the node (kept verbatim in strings)."""


@dataclass
class Scope:
    variables: dict[str, Any] = field(default_factory=dict)
    local: Callable[[str, Pos], Any] | None = None
    base_dir: Path | None = None


class _Root:
    def __init__(self, kind: str) -> None:
        self.kind = kind


def pos_of(node: Tree[Token] | Token) -> Pos:
    if isinstance(node, Token):
        return Pos(node.line or 0, node.column or 0)
    meta = node.meta
    if getattr(meta, "empty", True):
        return NOWHERE
    return Pos(getattr(meta, "line", 0), getattr(meta, "column", 0))


def _subtrees(node: Tree[Token]) -> list[Tree[Token]]:
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


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


def _to_text(v: Any, pos: Pos) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, str):
        return v
    raise EvalError(f"cannot put {type_name(v)} into a string", pos)


def _number(v: Any, pos: Pos) -> int | float:
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


def _tidy(n: float | int) -> int | float:
    if isinstance(n, float) and n.is_integer() and abs(n) < 2**53:
        return int(n)
    if isinstance(n, int) and abs(n) >= 2**63:
        raise OverflowError("the result is too large")
    return n


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


class Evaluator:
    """Evaluates expression trees of one source text in one scope."""

    def __init__(self, source: str, scope: Scope) -> None:
        self.source = source
        self.scope = scope
        self.depth = 0

    def evaluate(self, node: Tree[Token] | Token) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise EvalError("expression is nested too deeply", pos_of(node))
            return self._eval(node)
        except _RuntimeRef as ref:
            raise EvalError(
                f'unknown name "{ref}": only var.*, local.* and functions can be used outside a '
                'string; runtime values such as "${NOMAD_PORT_http}" must be inside quotes',
                pos_of(node),
            ) from None
        finally:
            self.depth -= 1

    def _eval(self, node: Tree[Token] | Token) -> Any:
        if isinstance(node, Token):
            raise EvalError(f"unexpected {node.value!r}", pos_of(node))
        handler = getattr(self, "_e_" + str(node.data), None)
        if handler is None:
            raise EvalError(f"{str(node.data).replace('_', ' ')} is not supported in job files", pos_of(node))
        return handler(node)

    # -- terms --------------------------------------------------------------------------

    def _e_expr_term(self, node: Tree[Token]) -> Any:
        subs = _subtrees(node)
        if len(subs) != 1:
            raise EvalError("malformed expression", pos_of(node))
        return self._eval(subs[0])

    def _e_int_lit(self, node: Tree[Token]) -> int:
        text = str(node.children[0])
        if len(text.lstrip("-")) > 18:
            raise EvalError(f"number {text[:20]}... is too large", pos_of(node))
        return int(text)

    def _e_float_lit(self, node: Tree[Token]) -> float | int:
        return _tidy(float(str(node.children[0])))

    def _e_literal_value(self, node: Tree[Token]) -> Any:
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _e_identifier(self, node: Tree[Token]) -> Any:
        name = str(node.children[0])
        if name in ("var", "local"):
            return _Root(name)
        raise _RuntimeRef(name)

    def _e_keyword(self, node: Tree[Token]) -> Any:
        raise EvalError(f'"{node.children[0]}" cannot be used as a value', pos_of(node))

    def _e_tuple(self, node: Tree[Token]) -> list[Any]:
        return self._bounded([self._value(c) for c in _subtrees(node)], "this list", node)

    def _e_object(self, node: Tree[Token]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for elem in _subtrees(node):
            key_node, value_node = _subtrees(elem)
            out[self._key(key_node)] = self._value(value_node)
        return self._bounded(out, "this object", node)

    @staticmethod
    def _bounded(value: _V, what: str, node: Tree[Token]) -> _V:
        try:
            return check_size(value, what)
        except FunctionError as exc:
            raise EvalError(str(exc), pos_of(node)) from None

    def _key(self, key_node: Tree[Token]) -> str:
        inner = _subtrees(key_node)
        if not inner:  # a keyword used as a key
            return str(key_node.children[0].children[0]) if isinstance(key_node.children[0], Tree) else ""
        expr = inner[0]
        if expr.data == "keyword":
            return str(expr.children[0])
        if expr.data == "expr_term":
            subs = _subtrees(expr)
            if len(subs) == 1 and subs[0].data == "identifier":
                return str(subs[0].children[0])
        key = self._value(expr)
        if isinstance(key, bool) or not isinstance(key, str | int | float):
            raise EvalError(f"an object key must be a string, got {type_name(key)}", pos_of(expr))
        return _to_text(key, pos_of(expr))

    def _value(self, node: Tree[Token]) -> Any:
        v = self._eval(node)
        if isinstance(v, _Root):
            raise EvalError(f'"{v.kind}" alone is not a value; write {v.kind}.NAME', pos_of(node))
        return v

    # -- strings ------------------------------------------------------------------------

    def _e_string(self, node: Tree[Token]) -> Any:
        parts = [c for c in node.children if isinstance(c, Tree) and c.data == "string_part"]
        pieces: list[Any] = []
        for part in parts:
            child = part.children[0]
            if isinstance(child, Token):
                if child.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                    pieces.append(unescape(str(child)[1:]))
                else:
                    pieces.append(unescape(str(child)))
            elif child.data == "interpolation":
                pieces.append(self._interpolation(child))
            else:
                raise EvalError("template directives (%{ ... }) are not supported", pos_of(child))
        return self._join(pieces, pos_of(node))

    def _join(self, pieces: list[Any], pos: Pos) -> Any:
        values = [p for p in pieces if not isinstance(p, _Verbatim)]
        if len(pieces) == 1 and values and not isinstance(pieces[0], str):
            return pieces[0]  # "${x}" alone keeps x's type, as in HCL
        result = "".join(p.text if isinstance(p, _Verbatim) else _to_text(p, pos) for p in pieces)
        if len(result) > MAX_SIZE:
            raise EvalError(f"string is longer than {MAX_SIZE} characters", pos)
        return result

    def _interpolation(self, node: Tree[Token]) -> Any:
        subs = _subtrees(node)
        try:
            return self._value(subs[0])
        except _RuntimeRef:
            meta = node.meta
            return _Verbatim(self.source[meta.start_pos : meta.end_pos])

    def _e_template_string(self, node: Tree[Token]) -> Any:
        raise EvalError("escaped template strings are not supported", pos_of(node))

    def _e_heredoc_template(self, node: Tree[Token]) -> Any:
        return self._heredoc(str(node.children[0]), trim=False, pos=pos_of(node))

    def _e_heredoc_template_trim(self, node: Tree[Token]) -> Any:
        return self._heredoc(str(node.children[0]), trim=True, pos=pos_of(node))

    def _heredoc(self, raw: str, *, trim: bool, pos: Pos) -> Any:
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
        text = "".join(ln + "\n" for ln in lines)
        return self._template_text(text, pos)

    def _template_text(self, text: str, pos: Pos) -> Any:
        """Interpolations in heredoc text (a quoted string is parsed by the grammar instead)."""
        pieces: list[Any] = []
        i = 0
        while i < len(text):
            start = text.find("${", i)
            if start < 0:
                pieces.append(text[i:])
                break
            if start > 0 and text[start - 1] == "$":
                pieces.append(text[i : start - 1] + "${")
                i = start + 2
                continue
            pieces.append(text[i:start])
            end = matching_brace(text, start + 2)
            if end < 0:
                raise EvalError("unclosed ${ in heredoc", pos)
            inner = text[start + 2 : end]
            pieces.append(self._sub_expression(inner, text[start : end + 1], pos))
            i = end + 1
        return self._join([p for p in pieces if p != ""] or [""], pos)

    def _sub_expression(self, inner: str, verbatim: str, pos: Pos) -> Any:
        try:
            tree = hcl2.parses_to_tree(f"x = {inner}\n")
            expr = _attr_expr(tree)
        except Exception:
            raise EvalError(f"cannot parse the expression ${{{inner}}}", pos) from None
        sub = Evaluator(f"x = {inner}\n", self.scope)
        sub.depth = self.depth
        try:
            return sub._value(expr)
        except _RuntimeRef:
            return _Verbatim(verbatim)
        except EvalError as exc:
            raise EvalError(exc.message, pos, reported=exc.reported) from None

    # -- references, calls ------------------------------------------------------------------

    def _e_get_attr_expr_term(self, node: Tree[Token]) -> Any:
        base_node, attr = _subtrees(node)
        base = self._eval(base_node)
        name_node = _subtrees(attr)[0]
        name = str(name_node.children[0])
        if isinstance(base, _Root):
            if base.kind == "var":
                return self._variable(name, pos_of(node))
            if self.scope.local is None:
                raise EvalError(f'reference to unknown local "{name}"', pos_of(node))
            return self.scope.local(name, pos_of(node))
        if isinstance(base, dict):
            if name not in base:
                raise EvalError(f'object has no attribute "{name}"', pos_of(node))
            return base[name]
        raise EvalError(f'cannot read attribute "{name}" of {type_name(base)}', pos_of(node))

    def _variable(self, name: str, pos: Pos) -> Any:
        if name not in self.scope.variables:
            raise EvalError(
                f'reference to undeclared variable "{name}"' + suggestion(name, self.scope.variables), pos
            )
        value = self.scope.variables[name]
        if value is UNSET:
            raise EvalError(f'variable "{name}" is not set', pos, reported=True)
        return value

    def _e_index_expr_term(self, node: Tree[Token]) -> Any:
        base_node, index = _subtrees(node)
        base = self._eval(base_node)
        if index.data == "short_index":
            key: Any = int(str(index.children[-1]))
        else:
            key = self._value(_subtrees(index)[0])
        if isinstance(base, _Root):
            if base.kind == "var" and isinstance(key, str):
                return self._variable(key, pos_of(node))
            raise EvalError(f"write {base.kind}.NAME to use a {base.kind} value", pos_of(node))
        if isinstance(base, list):
            if isinstance(key, bool) or not isinstance(key, int | float | str):
                raise EvalError(f"a list index must be a number, got {type_name(key)}", pos_of(node))
            i = int(_number(key, pos_of(node)))
            if not 0 <= i < len(base):
                raise EvalError(f"index {i} is out of range for a list of {len(base)}", pos_of(node))
            return base[i]
        if isinstance(base, dict):
            k = _to_text(key, pos_of(node))
            if k not in base:
                raise EvalError(f'map has no key "{k}"', pos_of(node))
            return base[k]
        raise EvalError(f"cannot index {type_name(base)}", pos_of(node))

    def _e_function_call(self, node: Tree[Token]) -> Any:
        subs = _subtrees(node)
        name = str(subs[0].children[0])
        args: list[Any] = []
        expand = False
        for arg_group in subs[1:]:
            if arg_group.data == "arguments":
                args = [self._value(a) for a in _subtrees(arg_group)]
                expand = any(isinstance(t, Token) and t.type == "ELLIPSIS" for t in arg_group.children)
            elif arg_group.data == "identifier":
                raise EvalError("provider functions (a::b::c) are not supported", pos_of(node))
        if expand:
            if not args or not isinstance(args[-1], list):
                raise EvalError(f"{name}(...) expansion needs a list as the last argument", pos_of(node))
            args = args[:-1] + args[-1]
        if name == "file":
            return self._file(args, pos_of(node))
        fn = FUNCTIONS.get(name)
        if fn is None:
            raise EvalError(
                f'unknown function "{name}"' + suggestion(name, [*FUNCTIONS, "file"]), pos_of(node)
            )
        try:
            return check_size(fn(*args), f"the result of {name}()")
        except FunctionError as exc:
            raise EvalError(str(exc), pos_of(node)) from None
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            raise EvalError(f"{name}(): {exc}", pos_of(node)) from None

    def _file(self, args: list[Any], pos: Pos) -> str:
        """Reads only below the job file's own directory; text without a file of its own (sent
        over the API, pasted in the UI) may not read at all, so parsing never discloses the
        server's files (review finding H2)."""
        if len(args) != 1 or not isinstance(args[0], str):
            raise EvalError("file() takes one path", pos)
        base = self.scope.base_dir
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

    # -- operators ----------------------------------------------------------------------

    def _e_unary_op(self, node: Tree[Token]) -> Any:
        op = str(node.children[0])
        value = self._value(_subtrees(node)[0])
        if op == "!":
            if not isinstance(value, bool):
                raise EvalError(f"! needs a bool, got {type_name(value)}", pos_of(node))
            return not value
        try:
            return _tidy(-_number(value, pos_of(node)))
        except OverflowError as exc:
            raise EvalError(str(exc), pos_of(node)) from None

    def _e_binary_op(self, node: Tree[Token]) -> Any:
        left_node, term = _subtrees(node)[:2]
        op_node, right_node = _subtrees(term)[:2]
        op = str(op_node.children[0]).strip()
        pos = pos_of(node)
        left = self._value(left_node)
        if op in ("&&", "||"):
            if not isinstance(left, bool):
                raise EvalError(f"{op} needs bools, got {type_name(left)}", pos)
            if (op == "&&" and not left) or (op == "||" and left):
                return left
            right = self._value(right_node)
            if not isinstance(right, bool):
                raise EvalError(f"{op} needs bools, got {type_name(right)}", pos)
            return right
        right = self._value(right_node)
        if op == "==":
            return left == right
        if op == "!=":
            return left != right
        a, b = _number(left, pos), _number(right, pos)
        if op in _COMPARE:
            return _COMPARE[op](a, b)
        if op in ("/", "%") and b == 0:
            raise EvalError("division by zero", pos)
        try:
            return _tidy(_ARITH[op](a, b))
        except (OverflowError, KeyError, ValueError) as exc:
            raise EvalError(f"cannot compute {op}: {exc}", pos) from None

    def _e_conditional(self, node: Tree[Token]) -> Any:
        cond_node, yes, no = _subtrees(node)[:3]
        cond = self._value(cond_node)
        if not isinstance(cond, bool):
            raise EvalError(f"a condition must be a bool, got {type_name(cond)}", pos_of(node))
        return self._value(yes if cond else no)


class _Verbatim:
    """A runtime interpolation kept as the user wrote it."""

    def __init__(self, text: str) -> None:
        self.text = text


def _attr_expr(tree: Tree[Token]) -> Tree[Token]:
    attr = next(c for c in body_of(tree).children if isinstance(c, Tree) and c.data == "attribute")
    return _subtrees(attr)[-1]


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


@functools.lru_cache(maxsize=1024)
def is_runtime_reference(inner: str) -> bool:
    """True if `${inner}` names only what the node agent fills in (kept verbatim by the reader)."""
    source = f"x = {inner}\n"
    try:
        expr = _attr_expr(hcl2.parses_to_tree(source))
    except Exception:
        return False
    try:
        Evaluator(source, Scope())._value(expr)
    except _RuntimeRef:
        return True
    except (EvalError, RecursionError):
        return False
    return False


def evaluate(node: Tree[Token], source: str, scope: Scope) -> Any:
    """The value of the expression tree `node`, parsed from `source`."""
    ev = Evaluator(source, scope)
    try:
        value = ev.evaluate(node)
    except RecursionError:
        raise EvalError("expression is nested too deeply", pos_of(node)) from None
    if isinstance(value, _Root):
        raise EvalError(f'"{value.kind}" alone is not a value; write {value.kind}.NAME', pos_of(node))
    if isinstance(value, _Verbatim):
        return value.text
    return value
