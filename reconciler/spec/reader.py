"""Typed field access on one `RawBlock`, recording wrong types and unknown fields.

The decoder builds each stanza of the model through a `FieldReader`: it asks for the
fields the stanza knows, each with its type and default, and `finish()` reports whatever
is left as an unknown field with a "did you mean" suggestion. Every attribute and block
read records its position under its path, so later checks (`validate.py`) can point at
the line.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from reconciler.spec.durations import parse_duration
from reconciler.spec.errors import Issues, Pos, quote, suggestion
from reconciler.spec.rawtree import INVALID, RawBlock, RawValue, child_path
from reconciler.spec.unsupported import screen

E = TypeVar("E", bound=StrEnum)

Positions = dict[str, Pos]


def scalar_text(value: Any) -> str | None:
    """A scalar as the text Nomad would store, or None for lists, maps and null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


class FieldReader:
    def __init__(self, raw: RawBlock, path: str, issues: Issues, positions: Positions) -> None:
        self.raw = raw
        self.path = path
        self.issues = issues
        self.positions = positions
        self.known: set[str] = set()
        self.refused: set[str] = set()  # fields reported as not supported: no other error
        positions.setdefault(path, raw.pos)
        for name, pos in raw.duplicates:
            issues.add(f"{path}.{name}", f'"{name}" is set more than once', pos)
        self._screen()

    def _screen(self) -> None:
        """Report what the table of unsupported fields refuses (`unsupported.py`), and drop
        what it marks unused, so the stanza is decoded as if that were not written. A refused
        field stays, so that what follows from it is decoded as written."""
        for name, rv in list(self.raw.attrs.items()):
            verdict = None if rv.value is INVALID else screen(self.raw.type, name, rv.value)
            if verdict == "":
                del self.raw.attrs[name]
            elif verdict:
                self.refused.add(name)
                self.issues.add(f"{self.path}.{name}", verdict, rv.pos)
        for block in self.raw.blocks:
            verdict = screen(self.raw.type, block.type, None, block=True)
            if verdict and block.type not in self.refused:
                self.refused.add(block.type)
                self.issues.add(f"{self.path}.{block.type}", verdict, block.pos)

    # -- plumbing -----------------------------------------------------------------------

    def _get(self, name: str) -> RawValue | None:
        self.known.add(name)
        rv = self.raw.attrs.get(name)
        if rv is not None:
            self.positions[f"{self.path}.{name}"] = rv.pos
            if rv.value is INVALID:
                return None
        return rv

    def error(self, name: str, message: str, pos: Pos | None = None) -> None:
        rv = self.raw.attrs.get(name)
        where = pos or (rv.pos if rv is not None else self.raw.pos)
        self.issues.add(f"{self.path}.{name}" if name else self.path, message, where)

    def _bad(self, name: str, rv: RawValue, want: str) -> None:
        self.issues.add(f"{self.path}.{name}", f"must be {want}, got {quote(rv.value)}", rv.pos)

    def has(self, name: str) -> bool:
        return name in self.raw.attrs or any(b.type == name for b in self.raw.blocks)

    # -- scalars ------------------------------------------------------------------------

    def integer(self, name: str, default: int, *, want: str = "an integer") -> int:
        rv = self._get(name)
        if rv is None:
            return default
        v = rv.value
        if isinstance(v, bool):
            self._bad(name, rv, want)
            return default
        if isinstance(v, int):
            return v
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, str):
            try:
                return int(v.strip())
            except ValueError:
                pass
        self._bad(name, rv, want)
        return default

    def choice(self, name: str, default: E) -> E:
        """A string that must be one of `default`'s enum values, as that enum."""
        return type(default)(self.text(name, default, choices=tuple(type(default))))

    def text(self, name: str, default: str, *, choices: tuple[str, ...] = ()) -> str:
        rv = self._get(name)
        if rv is None:
            return default
        text = scalar_text(rv.value)
        if text is None:
            self._bad(name, rv, "a string")
            return default
        if choices and text not in choices and name in self.refused:
            return default
        if choices and text not in choices:
            msg = "must be one of " + ", ".join(f'"{c}"' for c in choices) + f", got {quote(text)}"
            self.issues.add(
                f"{self.path}.{name}", msg + suggestion(text, choices).replace(",", ";", 1), rv.pos
            )
            return default
        return text

    def flag(self, name: str, default: bool) -> bool:
        rv = self._get(name)
        if rv is None:
            return default
        v = rv.value
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v in ("true", "false"):
            return v == "true"
        self._bad(name, rv, "true or false")
        return default

    def duration(self, name: str, default: int) -> int:
        rv = self._get(name)
        if rv is None:
            return default
        v = rv.value
        if isinstance(v, str):
            ns = parse_duration(v.strip())
            if ns is not None:
                return ns
        elif isinstance(v, int) and not isinstance(v, bool) and v == 0:
            return 0
        self._bad(name, rv, 'a duration such as "30s", "5m" or "1h30m"')
        return default

    def str_list(self, name: str, default: list[str]) -> list[str]:
        rv = self._get(name)
        if rv is None:
            return list(default)
        v = rv.value
        if isinstance(v, str | int | float) and name == "datacenters" and isinstance(v, str):
            return [v]
        if isinstance(v, list):
            texts = [scalar_text(x) for x in v]
            if all(t is not None for t in texts):
                return [t for t in texts if t is not None]
        self._bad(name, rv, "a list of strings")
        return list(default)

    # -- maps and blocks ----------------------------------------------------------------

    def _map_source(self, name: str) -> list[tuple[dict[str, Any], Pos]]:
        """The maps given for `name`, as an attribute (`meta = {...}`) or block(s)."""
        found: list[tuple[dict[str, Any], Pos]] = []
        rv = self._get(name)
        if rv is not None:
            if isinstance(rv.value, dict):
                found.append((rv.value, rv.pos))
            else:
                self._bad(name, rv, "a map")
        for i, block in enumerate(self.raw.children(name)):
            bpath = child_path(self.path, name, block.labels, i)
            self.positions[bpath] = block.pos
            if block.labels:
                self.issues.add(bpath, f'a "{name}" block takes no label', block.pos)
            value: dict[str, Any] = {}
            for key, attr in block.attrs.items():
                self.positions[f"{bpath}.{key}"] = attr.pos
                if attr.value is not INVALID:
                    value[key] = attr.value
            for name2, pos2 in block.duplicates:
                self.issues.add(f"{bpath}.{name2}", f'"{name2}" is set more than once', pos2)
            for sub in block.blocks:
                value.setdefault(sub.type, [])
                if isinstance(value[sub.type], list):
                    value[sub.type].append(_block_to_value(sub))
            found.append((value, block.pos))
        return found

    def str_map(self, name: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for value, pos in self._map_source(name):
            for key, v in value.items():
                text = scalar_text(v)
                if text is None:
                    self.issues.add(f"{self.path}.{name}.{key}", f"must be a string, got {quote(v)}", pos)
                else:
                    out[str(key)] = text
        return out

    def list_map(self, name: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for value, pos in self._map_source(name):
            for key, v in value.items():
                items = v if isinstance(v, list) else [v]
                texts = [scalar_text(x) for x in items]
                if any(t is None for t in texts):
                    self.issues.add(
                        f"{self.path}.{name}.{key}", f"must be a list of strings, got {quote(v)}", pos
                    )
                else:
                    out[str(key)] = [t for t in texts if t is not None]
        return out

    def any_map(self, name: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for value, _pos in self._map_source(name):
            out.update(value)
        return out

    def blocks(self, name: str, *, labels: int = 0) -> list[tuple[RawBlock, str]]:
        self.known.add(name)
        out = []
        for i, block in enumerate(self.raw.children(name)):
            bpath = child_path(self.path, name, block.labels, i)
            if len(block.labels) != labels:
                want = "no label" if labels == 0 else "a name, as in " + f'{name} "NAME" {{ ... }}'
                self.issues.add(bpath, f'a "{name}" block takes {want}', block.pos)
                if labels and not block.labels:
                    continue
                block = RawBlock(
                    block.type, block.labels[:labels], block.attrs, block.blocks, block.pos, block.duplicates
                )
                bpath = child_path(self.path, name, block.labels, i)
            self.positions[bpath] = block.pos
            out.append((block, bpath))
        if name in self.raw.attrs:
            self.error(name, f'"{name}" is a block: write {name} {{ ... }}')
        return out

    def block(self, name: str) -> tuple[RawBlock, str] | None:
        found = self.blocks(name)
        for extra, path in found[1:]:
            self.issues.add(path, f'only one "{name}" block is allowed here', extra.pos)
        return found[0] if found else None

    def finish(self) -> None:
        """Report every attribute and block this stanza does not know."""
        for name, rv in self.raw.attrs.items():
            if name not in self.known and name not in self.refused:
                self.issues.add(
                    f"{self.path}.{name}", f'unknown field "{name}"' + suggestion(name, self.known), rv.pos
                )
        reported: set[str] = set()
        for block in self.raw.blocks:
            if block.type not in self.known | self.refused and block.type not in reported:
                reported.add(block.type)
                self.issues.add(
                    f"{self.path}.{block.type}",
                    f'unknown block "{block.type}"' + suggestion(block.type, self.known),
                    block.pos,
                )


def _block_to_value(block: RawBlock) -> dict[str, Any]:
    """A nested block inside free-form config, as a map (labels become nested keys)."""
    value: dict[str, Any] = {k: v.value for k, v in block.attrs.items() if v.value is not INVALID}
    for sub in block.blocks:
        value.setdefault(sub.type, [])
        if isinstance(value[sub.type], list):
            value[sub.type].append(_block_to_value(sub))
    for label in reversed(block.labels):
        value = {label: value}
    return value
