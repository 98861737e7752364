"""Input variables: `variable` blocks and the values given for them.

Nomad's precedence, lowest first: the block's `default`, `NOMAD_VAR_<name>` environment
variables, `-var-file` files in order, then `-var name=value` flags in order. Values given
as text (flags, environment) are converted to the declared type (`string`, `number`,
`bool`, or any HCL value for lists and maps). A declared variable without a value is an
error that names it; so is `-var` for a variable the file does not declare.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Tree

from reconciler.spec.errors import Issues, Pos, SpecError, suggestion
from reconciler.spec.expr_base import UNSET, EvalError, Scope
from reconciler.spec.expressions import evaluate
from reconciler.spec.hcl_reader import HclBlock, read_body
from reconciler.spec.hcl_syntax import body_of, parse_tree

_NOTHING = object()
_ALLOWED = ("type", "default", "description", "sensitive", "nullable")


def _type_text(block: HclBlock, source: str) -> str:
    for attr in block.attrs:
        if attr.name == "type":
            meta = attr.expr.meta
            return "".join(source[meta.start_pos : meta.end_pos].split())
    return "any"


def convert_text(name: str, text: str, type_text: str) -> Any:
    """A variable's value given as text, converted to its declared type."""
    if type_text in ("string", "any"):
        return text
    if type_text == "number":
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                raise ValueError(f'variable "{name}" must be a number, got "{text}"') from None
    if type_text == "bool":
        if text in ("true", "false"):
            return text == "true"
        raise ValueError(f'variable "{name}" must be true or false, got "{text}"')
    try:
        tree = parse_tree(f"v = {text}\n", "<-var>")
        attr = next(c for c in body_of(tree).children if isinstance(c, Tree) and c.data == "attribute")
        expr = [c for c in attr.children if isinstance(c, Tree)][-1]
        return evaluate(expr, f"v = {text}\n", Scope())
    except (SpecError, EvalError, StopIteration):
        raise ValueError(f'variable "{name}" of type {type_text} cannot take the value {text}') from None


def _check_type(name: str, value: Any, type_text: str) -> str | None:
    if type_text == "any" or value is None:
        return None
    ok = {
        "string": isinstance(value, str | int | float) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
    }.get(type_text)
    if ok is None:
        head = type_text.split("(", 1)[0]
        ok = (
            isinstance(value, list)
            if head in ("list", "set", "tuple")
            else (isinstance(value, dict) if head in ("map", "object") else True)
        )
    return None if ok else f'variable "{name}" must be of type {type_text}'


def _read_var_file(path: str, issues: Issues) -> dict[str, tuple[Any, Pos]]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issues.add("", f"cannot read variable file {path}: {getattr(exc, 'strerror', None) or exc}")
        return {}
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            issues.add("", f"variable file {path} is not valid JSON: {exc}")
            return {}
        if not isinstance(data, dict):
            issues.add("", f"variable file {path} must hold a JSON object")
            return {}
        return {str(k): (v, Pos()) for k, v in data.items()}
    sub = Issues(path)
    try:
        tree = parse_tree(text, path)
    except SpecError as exc:
        issues.extend(exc.errors)
        return {}
    attrs, blocks = read_body(body_of(tree), sub)
    for block in blocks:
        sub.add(block.type, "a variable file holds only name = value lines", block.pos)
    out: dict[str, tuple[Any, Pos]] = {}
    for attr in attrs:
        try:
            out[attr.name] = (
                evaluate(attr.expr, text + ("" if text.endswith("\n") else "\n"), Scope()),
                attr.pos,
            )
        except EvalError as exc:
            sub.add(attr.name, exc.message, exc.pos)
    issues.extend(sub.items)
    return out


def resolve_variables(
    declared: list[HclBlock],
    *,
    source: str,
    variables: Mapping[str, str] | None,
    var_files: list[str] | None,
    env: Mapping[str, str] | None,
    issues: Issues,
) -> dict[str, Any]:
    """The value of every declared variable, or issues naming those without one."""
    d = _declarations(declared, source, issues)
    values = dict(d.defaults)
    for name, (value, kind) in _given(d.types, variables, var_files, env, issues).items():
        if kind == "text" and isinstance(value, str):
            try:
                value = convert_text(name, value, d.types[name])
            except ValueError as exc:
                issues.add(f"variable.{name}", str(exc), d.where[name])
                continue
        values[name] = value
    for name, type_text in d.types.items():
        if name not in values:
            values[name] = UNSET
            issues.add(
                f"variable.{name}",
                f'variable "{name}" is not set: give it a default, -var {name}=..., '
                f"a -var-file or NOMAD_VAR_{name}",
                d.where[name],
            )
            continue
        problem = _check_type(name, values[name], type_text)
        if problem:
            issues.add(f"variable.{name}", problem, d.where[name])
    return values


@dataclass
class _Declared:
    """The `variable` blocks: each one's declared type, default and position."""

    types: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    where: dict[str, Pos] = field(default_factory=dict)


def _declarations(declared: list[HclBlock], source: str, issues: Issues) -> _Declared:
    d = _Declared()
    for block in declared:
        if len(block.labels) != 1:
            issues.add("variable", "a variable block needs exactly one name", block.pos)
            continue
        name = block.labels[0]
        if name in d.types:
            issues.add(f"variable.{name}", f'variable "{name}" is declared twice', block.pos)
            continue
        d.types[name] = _type_text(block, source)
        d.where[name] = block.pos
        _read_declaration(block, name, source, issues, d.defaults)
    return d


def _read_declaration(
    block: HclBlock, name: str, source: str, issues: Issues, defaults: dict[str, Any]
) -> None:
    """One `variable` block's fields: unknown ones are issues, its default goes in `defaults`."""
    path = f"variable.{name}"
    for attr in block.attrs:
        if attr.name not in _ALLOWED:
            issues.add(
                f"{path}.{attr.name}",
                f'unknown field "{attr.name}"' + suggestion(attr.name, _ALLOWED),
                attr.pos,
            )
        elif attr.name == "default":
            try:
                defaults[name] = evaluate(attr.expr, source, Scope())
            except EvalError as exc:
                issues.add(f"{path}.default", exc.message, exc.pos)
                defaults[name] = None
    for child in block.blocks:
        if child.type != "validation":
            issues.add(f"{path}.{child.type}", f'unknown block "{child.type}"', child.pos)


def _given(
    types: Mapping[str, str],
    variables: Mapping[str, str] | None,
    var_files: list[str] | None,
    env: Mapping[str, str] | None,
    issues: Issues,
) -> dict[str, tuple[Any, str]]:
    """The values given for declared variables, by precedence (lowest first: environment,
    files, flags); each with its kind: "text" to convert to the declared type, or "value"."""
    given: dict[str, tuple[Any, str]] = {}
    for key, text in (env or {}).items():
        if key.startswith("NOMAD_VAR_") and key[10:] in types:
            given[key[10:]] = (text, "text")
    for path in var_files or []:
        for name, (value, _pos) in _read_var_file(path, issues).items():
            if name in types:
                given[name] = (value, "value")
    for name, text in (variables or {}).items():
        if name not in types:
            issues.add(
                f"variable.{name}",
                f'-var "{name}": the job file declares no variable "{name}"' + suggestion(name, types),
            )
            continue
        given[name] = (text, "text")
    return given
