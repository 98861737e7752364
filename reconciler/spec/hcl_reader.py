"""Reads a parsed HCL job file into the format-neutral `RawBlock` tree.

Sits between `hcl_syntax.parse_tree` (text to Lark tree) and `decode.decode_job` (raw
tree to model). It splits the top level into `variable` blocks, `locals` and the `job`,
resolves variable values (`variables.py`), and evaluates every attribute of the job with
`expressions.evaluate`, recording errors with their line, column and field path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Token, Tree

from reconciler.spec.errors import Issues, Pos, suggestion
from reconciler.spec.expr_base import EvalError, Scope, pos_of
from reconciler.spec.expressions import evaluate
from reconciler.spec.hcl_syntax import body_of
from reconciler.spec.hcl_text import unescape
from reconciler.spec.rawtree import INVALID, RawBlock, RawValue, child_path


@dataclass
class HclAttr:
    name: str
    expr: Tree[Token]
    pos: Pos


@dataclass
class HclBlock:
    type: str
    labels: list[str] = field(default_factory=list)
    attrs: list[HclAttr] = field(default_factory=list)
    blocks: list[HclBlock] = field(default_factory=list)
    pos: Pos = field(default_factory=Pos)


def _name(node: Tree[Token] | Token) -> str:
    if isinstance(node, Token):
        return str(node)
    if node.data in ("identifier", "keyword", "literal_value"):
        return str(node.children[0])
    return ""


def _label(node: Tree[Token], issues: Issues, path: str) -> str:
    if node.data != "string":
        return _name(node)
    out = []
    for part in node.children:
        if isinstance(part, Tree) and part.data == "string_part":
            child = part.children[0]
            if isinstance(child, Token):
                out.append(unescape(str(child)))
            else:
                issues.add(path, "a block label cannot contain an interpolation", pos_of(node))
    return "".join(out)


def read_body(body: Tree[Token], issues: Issues, path: str = "") -> tuple[list[HclAttr], list[HclBlock]]:
    attrs: list[HclAttr] = []
    blocks: list[HclBlock] = []
    for node in body.children:
        if not isinstance(node, Tree):
            continue
        if node.data == "attribute":
            subs = [c for c in node.children if isinstance(c, Tree)]
            attrs.append(HclAttr(_name(subs[0]), subs[-1], pos_of(node)))
        elif node.data == "block":
            subs = [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]
            inner = subs[-1]
            block = HclBlock(_name(subs[0]), [_label(s, issues, path) for s in subs[1:-1]], pos=pos_of(node))
            block.attrs, block.blocks = read_body(inner, issues, path)
            blocks.append(block)
    return attrs, blocks


TOP_LEVEL = ("job", "variable", "locals")


@dataclass
class HclFile:
    variables: list[HclBlock] = field(default_factory=list)
    locals: list[HclAttr] = field(default_factory=list)
    jobs: list[HclBlock] = field(default_factory=list)


def split_top(tree: Tree[Token], issues: Issues) -> HclFile:
    """The top level of a job file: variable blocks, locals and the job block."""
    out = HclFile()
    attrs, blocks = read_body(body_of(tree), issues)
    for attr in attrs:
        issues.add(
            attr.name, f'unknown top-level field "{attr.name}"' + suggestion(attr.name, TOP_LEVEL), attr.pos
        )
    for block in blocks:
        if block.type == "job":
            out.jobs.append(block)
        elif block.type == "variable":
            out.variables.append(block)
        elif block.type == "locals":
            if block.labels:
                issues.add("locals", "a locals block takes no label", block.pos)
            out.locals.extend(block.attrs)
        else:
            issues.add(
                block.type, f'unknown block "{block.type}"' + suggestion(block.type, TOP_LEVEL), block.pos
            )
    return out


class Locals:
    """Lazy, memoised evaluation of `local.*` values, detecting cycles."""

    def __init__(
        self, attrs: list[HclAttr], source: str, variables: dict[str, Any], base_dir: Path | None
    ) -> None:
        self.exprs = {a.name: a for a in attrs}
        self.source = source
        self.values: dict[str, Any] = {}
        self.active: list[str] = []
        self.scope = Scope(variables=variables, local=self.get, base_dir=base_dir)

    def get(self, name: str, pos: Pos) -> Any:
        if name in self.values:
            return self.values[name]
        attr = self.exprs.get(name)
        if attr is None:
            raise EvalError(f'reference to undeclared local "{name}"' + suggestion(name, self.exprs), pos)
        if name in self.active:
            cycle = " -> ".join([*self.active[self.active.index(name) :], name])
            raise EvalError(f"locals refer to each other in a cycle: {cycle}", pos)
        self.active.append(name)
        try:
            value = evaluate(attr.expr, self.source, self.scope)
        finally:
            self.active.pop()
        self.values[name] = value
        return value


def to_raw(
    block: HclBlock, *, parent: str, index: int, source: str, scope: Scope, issues: Issues
) -> RawBlock:
    """A `RawBlock` with every attribute evaluated; errors are recorded, not raised."""
    path = child_path(parent, block.type, block.labels, index)
    raw = RawBlock(block.type, list(block.labels), pos=block.pos)
    for attr in block.attrs:
        if attr.name in raw.attrs:
            raw.duplicates.append((attr.name, attr.pos))
            continue
        try:
            value: Any = evaluate(attr.expr, source, scope)
        except EvalError as exc:
            if exc.reported:
                issues.failed_paths.add(f"{path}.{attr.name}")
            else:
                issues.add(f"{path}.{attr.name}", exc.message, exc.pos if exc.pos.line else attr.pos)
            value = INVALID
        raw.attrs[attr.name] = RawValue(value, attr.pos)
    counts: dict[str, int] = {}
    for child in block.blocks:
        i = counts.get(child.type, 0)
        counts[child.type] = i + 1
        raw.blocks.append(to_raw(child, parent=path, index=i, source=source, scope=scope, issues=issues))
    return raw
