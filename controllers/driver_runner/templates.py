"""Templates: render a subset of Nomad's template syntax into files in the allocation dir.

Supported: `{{ env "NAME" }}` (the task environment) and `{{/* comments */}}`; any other
action is an error, so a template never half-renders silently. Destinations are relative
to the task directory and must stay inside the allocation directory (`../alloc/x` is fine,
`../../x` is not), nor into the agent's `.state/`. Rendering is one linear pass and files
are written without following symlinks. `render_all` returns which templates changed, for
`change_mode`.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from reconciler.model.alloc_dir import PathEscapeError, inside_task_area, open_beneath, open_file_beneath
from reconciler.model.job import Template

MAX_TEMPLATE = 4 * 1024 * 1024  # characters, as the job file limit
ENV_CALL = re.compile(r'^env\s+"([^"]*)"$')
SPACE = re.compile(r"\s*")


class TemplateError(Exception):
    pass


def render(text: str, env: dict[str, str], *, left: str = "{{", right: str = "}}") -> str:
    """One pass with `str.find`: linear in the text whatever the delimiters (a regex scanning
    from every unclosed `{{` to the end was quadratic: review finding H8)."""
    if not left or not right:
        raise TemplateError("template delimiters must not be empty")
    if len(text) > MAX_TEMPLATE:
        raise TemplateError(f"template is {len(text)} characters; the limit is {MAX_TEMPLATE}")
    out: list[str] = []
    pos = 0
    while True:
        start = text.find(left, pos)
        if start < 0:
            break
        end = text.find(right, start + len(left))
        if end < 0:
            break  # no later action can close either: the rest is literal text
        body = text[start + len(left) : end]
        before = text[pos:start]
        if body.startswith("-"):
            before, body = before.rstrip(), body[1:]
        trim_after = body.endswith("-")
        if trim_after:
            body = body[:-1]
        out.append(before)
        out.append(_action(body.strip(), env, left, right))
        pos = end + len(right)
        if trim_after:
            pos = SPACE.match(text, pos).end()  # type: ignore[union-attr]  # \s* always matches
    out.append(text[pos:])
    return "".join(out)


def _action(body: str, env: dict[str, str], left: str, right: str) -> str:
    if body.startswith("/*") and body.endswith("*/"):
        return ""
    em = ENV_CALL.match(body)
    if em:
        return env.get(em.group(1), "")
    raise TemplateError(f'unsupported template action {left} {body} {right} (only env "NAME" is supported)')


def destination(tpl: Template, *, task_dir: Path, alloc_root: Path) -> Path:
    if not tpl.destination:
        raise TemplateError("template has no destination")
    rel = os.path.join(os.path.relpath(task_dir, alloc_root), tpl.destination)
    try:
        return inside_task_area(alloc_root, rel)
    except PathEscapeError as exc:
        raise TemplateError(
            f"template destination {tpl.destination!r} escapes the allocation directory: {exc}"
        ) from None


def source_text(tpl: Template, *, task_dir: Path, alloc_root: Path) -> str:
    if tpl.data or not tpl.source:
        return tpl.data
    rel = os.path.join(os.path.relpath(task_dir, alloc_root), tpl.source)
    try:
        path = inside_task_area(alloc_root, rel)
    except PathEscapeError as exc:
        raise TemplateError(
            f"template source {tpl.source!r} is outside the allocation directory: {exc}"
        ) from None
    try:
        data = read_beneath(alloc_root, path, MAX_TEMPLATE + 1)
    except (OSError, PathEscapeError) as exc:
        raise TemplateError(
            f"template source {tpl.source!r}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    if len(data) > MAX_TEMPLATE:
        raise TemplateError(f"template source {tpl.source!r} is larger than {MAX_TEMPLATE} bytes")
    return data.decode("utf-8", errors="replace")


def file_mode(perms: str) -> int:
    """A template's `perms` as a mode; setuid, setgid and sticky bits are refused (review L5)."""
    try:
        mode = int(perms or "0644", 8)
    except ValueError:
        raise TemplateError(f"template perms {perms!r} is not an octal mode such as 0644") from None
    if not 0 <= mode <= 0o777:
        raise TemplateError(f"template perms {perms!r}: only permission bits (at most 0777) may be set")
    return mode


def read_beneath(root: Path, path: Path, limit: int) -> bytes:
    """At most `limit` bytes of the file `path` under `root`, its directories reached
    without following a link (`open_beneath`) and the file opened with O_NOFOLLOW."""
    with os.fdopen(open_file_beneath(root, path), "rb") as fh:
        return fh.read(limit)


def write_file(dest: Path, text: str, mode: int, *, root: Path) -> None:
    """Write through a fresh temporary file opened with O_EXCL|O_NOFOLLOW, then rename,
    both relative to the destination's directory reached from `root` (the allocation
    directory) without following a link: a symlink a task planted at either name, or in
    place of a directory after the destination was checked, is refused or replaced, never
    followed (review M5)."""
    dfd = open_beneath(root, dest.parent, create=True)
    try:
        tmp = dest.name + ".tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dfd)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb", closefd=False) as fh:
                fh.write(text.encode())
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.replace(tmp, dest.name, src_dir_fd=dfd, dst_dir_fd=dfd)
    finally:
        os.close(dfd)


def render_all(
    templates: list[Template], env: dict[str, str], *, task_dir: Path, alloc_root: Path
) -> list[Template]:
    """Render every template; return those whose file content changed."""
    changed: list[Template] = []
    for tpl in templates:
        dest = destination(tpl, task_dir=task_dir, alloc_root=alloc_root)
        text = render(
            source_text(tpl, task_dir=task_dir, alloc_root=alloc_root),
            env,
            left=tpl.left_delimiter or "{{",
            right=tpl.right_delimiter or "}}",
        )
        mode = file_mode(tpl.perms)
        try:
            old: str | None = read_beneath(alloc_root, dest, MAX_TEMPLATE + 1).decode(errors="replace")
        except (OSError, PathEscapeError):
            old = None
        if old == text:
            continue
        try:
            write_file(dest, text, mode, root=alloc_root)
        except PathEscapeError as exc:
            raise TemplateError(f"template destination {tpl.destination!r}: {exc}") from None
        changed.append(tpl)
    return changed
