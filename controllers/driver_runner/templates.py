"""Templates: render a subset of Nomad's template syntax into files in the allocation dir.

Supported: `{{ env "NAME" }}` (the task environment) and `{{/* comments */}}`; any other
action is an error, so a template never half-renders silently. Destinations are relative
to the task directory and must stay inside the allocation directory (`../alloc/x` is fine,
`../../x` is not). `render_all` returns which templates changed, for `change_mode`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from reconciler.model.alloc_dir import PathEscapeError, inside
from reconciler.model.job import Template


class TemplateError(Exception):
    pass


def render(text: str, env: dict[str, str], *, left: str = "{{", right: str = "}}") -> str:
    pat = re.compile(re.escape(left) + r"(-?)\s*(.*?)\s*(-?)" + re.escape(right), re.S)
    env_call = re.compile(r'^env\s+"([^"]*)"$')

    def action(m: re.Match[str]) -> str:
        body = m.group(2)
        if body.startswith("/*") and body.endswith("*/"):
            return ""
        em = env_call.match(body)
        if em:
            return env.get(em.group(1), "")
        raise TemplateError(f"unsupported template action {left} {body} {right} (only env \"NAME\" is supported)")

    out: list[str] = []
    pos = 0
    for m in pat.finditer(text):
        before = text[pos : m.start()]
        if m.group(1):
            before = before.rstrip()
        out.append(before)
        out.append(action(m))
        pos = m.end()
        if m.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
    out.append(text[pos:])
    return "".join(out)


def destination(tpl: Template, *, task_dir: Path, alloc_root: Path) -> Path:
    if not tpl.destination:
        raise TemplateError("template has no destination")
    rel = os.path.join(os.path.relpath(task_dir, alloc_root), tpl.destination)
    try:
        return inside(alloc_root, rel)
    except PathEscapeError:
        raise TemplateError(f"template destination {tpl.destination!r} escapes the allocation directory") from None


def source_text(tpl: Template, *, task_dir: Path, alloc_root: Path) -> str:
    if tpl.data or not tpl.source:
        return tpl.data
    rel = os.path.join(os.path.relpath(task_dir, alloc_root), tpl.source)
    try:
        path = inside(alloc_root, rel)
    except PathEscapeError:
        raise TemplateError(f"template source {tpl.source!r} is outside the allocation directory") from None
    try:
        return path.read_text()
    except OSError as exc:
        raise TemplateError(f"template source {tpl.source!r}: {exc.strerror}") from None


def render_all(templates: list[Template], env: dict[str, str], *, task_dir: Path, alloc_root: Path) -> list[Template]:
    """Render every template; return those whose file content changed."""
    changed: list[Template] = []
    for tpl in templates:
        dest = destination(tpl, task_dir=task_dir, alloc_root=alloc_root)
        text = render(source_text(tpl, task_dir=task_dir, alloc_root=alloc_root), env,
                      left=tpl.left_delimiter or "{{", right=tpl.right_delimiter or "}}")
        try:
            old = dest.read_text()
        except OSError:
            old = None
        if old == text:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.write_text(text)
        os.chmod(tmp, int(tpl.perms or "0644", 8))
        os.replace(tmp, dest)
        changed.append(tpl)
    return changed
