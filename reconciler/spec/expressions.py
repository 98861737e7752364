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
from typing import Any, TypeVar

import hcl2
from lark import Token, Tree

from reconciler.spec.errors import Pos, suggestion
from reconciler.spec.expr_base import (
    ARITH,
    COMPARE,
    UNSET,
    EvalError,
    Root,
    RuntimeRef,
    Scope,
    Verbatim,
    pos_of,
    read_file,
    subtrees,
    tidy,
    to_number,
    to_text,
)
from reconciler.spec.functions import FUNCTIONS, MAX_SIZE, FunctionError, check_size, type_name
from reconciler.spec.hcl_syntax import body_of
from reconciler.spec.hcl_text import heredoc_text, matching_brace, unescape

MAX_DEPTH = 64
_V = TypeVar("_V")


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
        except RuntimeRef as ref:
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
        subs = subtrees(node)
        if len(subs) != 1:
            raise EvalError("malformed expression", pos_of(node))
        return self._eval(subs[0])

    def _e_int_lit(self, node: Tree[Token]) -> int:
        text = str(node.children[0])
        if len(text.lstrip("-")) > 18:
            raise EvalError(f"number {text[:20]}... is too large", pos_of(node))
        return int(text)

    def _e_float_lit(self, node: Tree[Token]) -> float | int:
        return tidy(float(str(node.children[0])))

    def _e_literal_value(self, node: Tree[Token]) -> Any:
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _e_identifier(self, node: Tree[Token]) -> Any:
        name = str(node.children[0])
        if name in ("var", "local"):
            return Root(name)
        raise RuntimeRef(name)

    def _e_keyword(self, node: Tree[Token]) -> Any:
        raise EvalError(f'"{node.children[0]}" cannot be used as a value', pos_of(node))

    def _e_tuple(self, node: Tree[Token]) -> list[Any]:
        return self._bounded([self._value(c) for c in subtrees(node)], "this list", node)

    def _e_object(self, node: Tree[Token]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for elem in subtrees(node):
            key_node, value_node = subtrees(elem)
            out[self._key(key_node)] = self._value(value_node)
        return self._bounded(out, "this object", node)

    @staticmethod
    def _bounded(value: _V, what: str, node: Tree[Token]) -> _V:
        try:
            return check_size(value, what)
        except FunctionError as exc:
            raise EvalError(str(exc), pos_of(node)) from None

    def _key(self, key_node: Tree[Token]) -> str:
        inner = subtrees(key_node)
        if not inner:  # a keyword used as a key
            return str(key_node.children[0].children[0]) if isinstance(key_node.children[0], Tree) else ""
        expr = inner[0]
        if expr.data == "keyword":
            return str(expr.children[0])
        if expr.data == "expr_term":
            subs = subtrees(expr)
            if len(subs) == 1 and subs[0].data == "identifier":
                return str(subs[0].children[0])
        key = self._value(expr)
        if isinstance(key, bool) or not isinstance(key, str | int | float):
            raise EvalError(f"an object key must be a string, got {type_name(key)}", pos_of(expr))
        return to_text(key, pos_of(expr))

    def _value(self, node: Tree[Token]) -> Any:
        v = self._eval(node)
        if isinstance(v, Root):
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
        values = [p for p in pieces if not isinstance(p, Verbatim)]
        if len(pieces) == 1 and values and not isinstance(pieces[0], str):
            return pieces[0]  # "${x}" alone keeps x's type, as in HCL
        result = "".join(p.text if isinstance(p, Verbatim) else to_text(p, pos) for p in pieces)
        if len(result) > MAX_SIZE:
            raise EvalError(f"string is longer than {MAX_SIZE} characters", pos)
        return result

    def _interpolation(self, node: Tree[Token]) -> Any:
        subs = subtrees(node)
        try:
            return self._value(subs[0])
        except RuntimeRef:
            meta = node.meta
            return Verbatim(self.source[meta.start_pos : meta.end_pos])

    def _e_template_string(self, node: Tree[Token]) -> Any:
        raise EvalError("escaped template strings are not supported", pos_of(node))

    def _e_heredoc_template(self, node: Tree[Token]) -> Any:
        return self._heredoc(str(node.children[0]), trim=False, pos=pos_of(node))

    def _e_heredoc_template_trim(self, node: Tree[Token]) -> Any:
        return self._heredoc(str(node.children[0]), trim=True, pos=pos_of(node))

    def _heredoc(self, raw: str, *, trim: bool, pos: Pos) -> Any:
        return self._template_text(heredoc_text(raw, trim=trim), pos)

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
        except RuntimeRef:
            return Verbatim(verbatim)
        except EvalError as exc:
            raise EvalError(exc.message, pos, reported=exc.reported) from None

    # -- references, calls ------------------------------------------------------------------

    def _e_get_attr_expr_term(self, node: Tree[Token]) -> Any:
        base_node, attr = subtrees(node)
        base = self._eval(base_node)
        name_node = subtrees(attr)[0]
        name = str(name_node.children[0])
        if isinstance(base, Root):
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
        base_node, index = subtrees(node)
        base = self._eval(base_node)
        if index.data == "short_index":
            key: Any = int(str(index.children[-1]))
        else:
            key = self._value(subtrees(index)[0])
        if isinstance(base, Root):
            if base.kind == "var" and isinstance(key, str):
                return self._variable(key, pos_of(node))
            raise EvalError(f"write {base.kind}.NAME to use a {base.kind} value", pos_of(node))
        if isinstance(base, list):
            if isinstance(key, bool) or not isinstance(key, int | float | str):
                raise EvalError(f"a list index must be a number, got {type_name(key)}", pos_of(node))
            i = int(to_number(key, pos_of(node)))
            if not 0 <= i < len(base):
                raise EvalError(f"index {i} is out of range for a list of {len(base)}", pos_of(node))
            return base[i]
        if isinstance(base, dict):
            k = to_text(key, pos_of(node))
            if k not in base:
                raise EvalError(f'map has no key "{k}"', pos_of(node))
            return base[k]
        raise EvalError(f"cannot index {type_name(base)}", pos_of(node))

    def _e_function_call(self, node: Tree[Token]) -> Any:
        subs = subtrees(node)
        name = str(subs[0].children[0])
        args: list[Any] = []
        expand = False
        for arg_group in subs[1:]:
            if arg_group.data == "arguments":
                args = [self._value(a) for a in subtrees(arg_group)]
                expand = any(isinstance(t, Token) and t.type == "ELLIPSIS" for t in arg_group.children)
            elif arg_group.data == "identifier":
                raise EvalError("provider functions (a::b::c) are not supported", pos_of(node))
        if expand:
            if not args or not isinstance(args[-1], list):
                raise EvalError(f"{name}(...) expansion needs a list as the last argument", pos_of(node))
            args = args[:-1] + args[-1]
        if name == "file":
            return read_file(args, self.scope.base_dir, pos_of(node))
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

    # -- operators ----------------------------------------------------------------------

    def _e_unary_op(self, node: Tree[Token]) -> Any:
        op = str(node.children[0])
        value = self._value(subtrees(node)[0])
        if op == "!":
            if not isinstance(value, bool):
                raise EvalError(f"! needs a bool, got {type_name(value)}", pos_of(node))
            return not value
        try:
            return tidy(-to_number(value, pos_of(node)))
        except OverflowError as exc:
            raise EvalError(str(exc), pos_of(node)) from None

    def _e_binary_op(self, node: Tree[Token]) -> Any:
        left_node, term = subtrees(node)[:2]
        op_node, right_node = subtrees(term)[:2]
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
        a, b = to_number(left, pos), to_number(right, pos)
        if op in COMPARE:
            return COMPARE[op](a, b)
        if op in ("/", "%") and b == 0:
            raise EvalError("division by zero", pos)
        try:
            return tidy(ARITH[op](a, b))
        except (OverflowError, KeyError, ValueError) as exc:
            raise EvalError(f"cannot compute {op}: {exc}", pos) from None

    def _e_conditional(self, node: Tree[Token]) -> Any:
        cond_node, yes, no = subtrees(node)[:3]
        cond = self._value(cond_node)
        if not isinstance(cond, bool):
            raise EvalError(f"a condition must be a bool, got {type_name(cond)}", pos_of(node))
        return self._value(yes if cond else no)


def _attr_expr(tree: Tree[Token]) -> Tree[Token]:
    attr = next(c for c in body_of(tree).children if isinstance(c, Tree) and c.data == "attribute")
    return subtrees(attr)[-1]


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
    except RuntimeRef:
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
    if isinstance(value, Root):
        raise EvalError(f'"{value.kind}" alone is not a value; write {value.kind}.NAME', pos_of(node))
    if isinstance(value, Verbatim):
        return value.text
    return value
