"""The HCL functions a job file may call, as pure Python functions over plain values.

The expression evaluator looks names up in `FUNCTIONS`; each function checks its own
arguments and raises `FunctionError` with a sentence the evaluator places at the call.
`file()` is not here: it needs the job file's directory, so the evaluator binds it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

MAX_SIZE = 1_000_000  # the largest value an expression may build: characters plus elements
MAX_RANGE = 1024

_V = TypeVar("_V")


class FunctionError(ValueError):
    """A function was called with arguments it cannot use."""


def value_size(v: Any, limit: int = MAX_SIZE) -> int:
    """Characters plus elements of `v` as if written out, stopping once over `limit`.

    Locals are shared, not copied, so `l1 = [l0, l0] ... l40 = [l39, l39]` costs nothing to
    build but writes out as 2^40 elements (review finding H9). Sizes are memoised by object
    identity, so this is linear in the distinct values, however often they are shared."""
    memo: dict[int, int] = {}

    def size(x: Any) -> int:
        if isinstance(x, str):
            return len(x) + 1
        if not isinstance(x, list | dict):
            return 1
        key = id(x)
        if key not in memo:
            items = x.values() if isinstance(x, dict) else x
            total = 1 + (sum(len(k) for k in x) if isinstance(x, dict) else 0)
            for item in items:
                total += size(item)
                if total > limit:
                    break
            memo[key] = total
        return memo[key]

    return size(v)


def check_size(v: _V, what: str) -> _V:
    if value_size(v) > MAX_SIZE:
        raise FunctionError(f"{what} would be larger than {MAX_SIZE} characters and elements")
    return v


def _str(v: Any, fn: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return _num_text(v)
    if isinstance(v, str):
        return v
    raise FunctionError(f"{fn}() needs a string, got {type_name(v)}")


def _num_text(v: int | float) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _num(v: Any, fn: str) -> int | float:
    if isinstance(v, bool):
        raise FunctionError(f"{fn}() needs a number, got a bool")
    if isinstance(v, int | float):
        return v
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                pass
    raise FunctionError(f"{fn}() needs a number, got {type_name(v)}")


def _int(v: Any, fn: str) -> int:
    n = _num(v, fn)
    if isinstance(n, float):
        if not n.is_integer():
            raise FunctionError(f"{fn}() needs a whole number, got {n}")
        return int(n)
    return n


def _list(v: Any, fn: str) -> list[Any]:
    if isinstance(v, list):
        return v
    raise FunctionError(f"{fn}() needs a list, got {type_name(v)}")


def _map(v: Any, fn: str) -> dict[str, Any]:
    if isinstance(v, dict):
        return v
    raise FunctionError(f"{fn}() needs a map, got {type_name(v)}")


def type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a bool"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a map"
    return type(v).__name__


def _arity(args: tuple[Any, ...], fn: str, lo: int, hi: int | None = None) -> None:
    hi = lo if hi is None else hi
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise FunctionError(f"{fn}() takes {want} arguments, got {len(args)}")


def f_upper(*a: Any) -> str:
    _arity(a, "upper", 1)
    return _str(a[0], "upper").upper()


def f_lower(*a: Any) -> str:
    _arity(a, "lower", 1)
    return _str(a[0], "lower").lower()


def _format_v(val: Any) -> str:
    return _str(val, "format") if not isinstance(val, list | dict) else json.dumps(val)


# format()'s verbs, as Go's fmt (which HCL's format follows) renders them
_VERBS: dict[str, Callable[[Any], str]] = {
    "s": lambda v: _str(v, "format"),
    "d": lambda v: str(_int(v, "format")),
    "f": lambda v: f"{float(_num(v, 'format')):f}",
    "v": _format_v,
    "q": lambda v: json.dumps(_format_v(v)),
}


def f_format(*a: Any) -> str:
    if not a:
        raise FunctionError("format() needs a format string")
    spec = _str(a[0], "format")
    out: list[str] = []
    args = list(a[1:])
    i = 0
    while i < len(spec):
        ch = spec[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(spec):
            raise FunctionError("format() string ends with a lone %")
        verb = spec[i + 1]
        i += 2
        if verb == "%":
            out.append("%")
            continue
        if not args:
            raise FunctionError("format() has more verbs than arguments")
        render = _VERBS.get(verb)
        if render is None:
            raise FunctionError(f"format() does not support %{verb}")
        out.append(render(args.pop(0)))
    return "".join(out)


def f_join(*a: Any) -> str:
    _arity(a, "join", 2)
    sep = _str(a[0], "join")
    return sep.join(_str(x, "join") for x in _list(a[1], "join"))


def f_split(*a: Any) -> list[str]:
    _arity(a, "split", 2)
    sep = _str(a[0], "split")
    if not sep:
        raise FunctionError("split() needs a non-empty separator")
    return _str(a[1], "split").split(sep)


def f_element(*a: Any) -> Any:
    _arity(a, "element", 2)
    items = _list(a[0], "element")
    if not items:
        raise FunctionError("element() cannot take an element of an empty list")
    return items[_int(a[1], "element") % len(items)]


def f_length(*a: Any) -> int:
    _arity(a, "length", 1)
    v = a[0]
    if isinstance(v, str | list | dict):
        return len(v)
    raise FunctionError(f"length() needs a string, list or map, got {type_name(v)}")


def f_concat(*a: Any) -> list[Any]:
    out: list[Any] = []
    for x in a:
        out.extend(_list(x, "concat"))
    return out


def f_merge(*a: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for x in a:
        out.update(_map(x, "merge"))
    return out


def f_lookup(*a: Any) -> Any:
    _arity(a, "lookup", 2, 3)
    m = _map(a[0], "lookup")
    key = _str(a[1], "lookup")
    if key in m:
        return m[key]
    if len(a) == 3:
        return a[2]
    raise FunctionError(f'lookup() found no key "{key}" and no default was given')


def f_coalesce(*a: Any) -> Any:
    for x in a:
        if x is not None and x != "":
            return x
    raise FunctionError("coalesce() needs at least one non-null, non-empty argument")


def f_replace(*a: Any) -> str:
    _arity(a, "replace", 3)
    s, old, new = (_str(x, "replace") for x in a)
    hits = s.count(old) if old else len(s) + 1
    if len(s) + hits * (len(new) - len(old)) > MAX_SIZE:
        raise FunctionError(f"replace() result would be longer than {MAX_SIZE} characters")
    return s.replace(old, new)


def f_trimspace(*a: Any) -> str:
    _arity(a, "trimspace", 1)
    return _str(a[0], "trimspace").strip()


def f_substr(*a: Any) -> str:
    _arity(a, "substr", 3)
    s = _str(a[0], "substr")
    offset = _int(a[1], "substr")
    length = _int(a[2], "substr")
    if offset < 0:
        offset = max(0, len(s) + offset)
    if length < 0:
        return s[offset:]
    return s[offset : offset + length]


def f_contains(*a: Any) -> bool:
    _arity(a, "contains", 2)
    return a[1] in _list(a[0], "contains")


def f_keys(*a: Any) -> list[str]:
    _arity(a, "keys", 1)
    return sorted(_map(a[0], "keys"))


def f_values(*a: Any) -> list[Any]:
    _arity(a, "values", 1)
    m = _map(a[0], "values")
    return [m[k] for k in sorted(m)]


def f_range(*a: Any) -> list[int]:
    _arity(a, "range", 1, 3)
    nums = [_int(x, "range") for x in a]
    if len(nums) == 3 and nums[2] == 0:
        raise FunctionError("range() step must not be zero")
    numbers = range(*nums)
    if len(numbers) > MAX_RANGE:  # a range's length is known before it is made
        raise FunctionError(f"range() would make {len(numbers)} numbers; the limit is {MAX_RANGE}")
    return list(numbers)


def f_jsonencode(*a: Any) -> str:
    _arity(a, "jsonencode", 1)
    return json.dumps(a[0], separators=(",", ":"), sort_keys=True)


def f_jsondecode(*a: Any) -> Any:
    _arity(a, "jsondecode", 1)
    try:
        return json.loads(_str(a[0], "jsondecode"))
    except ValueError as exc:
        raise FunctionError(f"jsondecode() got invalid JSON: {exc}") from None


def f_min(*a: Any) -> int | float:
    if not a:
        raise FunctionError("min() needs at least one number")
    return min(_num(x, "min") for x in a)


def f_max(*a: Any) -> int | float:
    if not a:
        raise FunctionError("max() needs at least one number")
    return max(_num(x, "max") for x in a)


def f_abs(*a: Any) -> int | float:
    _arity(a, "abs", 1)
    return abs(_num(a[0], "abs"))


def f_tostring(*a: Any) -> str:
    _arity(a, "tostring", 1)
    return _str(a[0], "tostring")


def f_tonumber(*a: Any) -> int | float:
    _arity(a, "tonumber", 1)
    return _num(a[0], "tonumber")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "upper": f_upper,
    "lower": f_lower,
    "format": f_format,
    "join": f_join,
    "split": f_split,
    "element": f_element,
    "length": f_length,
    "concat": f_concat,
    "merge": f_merge,
    "lookup": f_lookup,
    "coalesce": f_coalesce,
    "replace": f_replace,
    "trimspace": f_trimspace,
    "substr": f_substr,
    "contains": f_contains,
    "keys": f_keys,
    "values": f_values,
    "range": f_range,
    "jsonencode": f_jsonencode,
    "jsondecode": f_jsondecode,
    "min": f_min,
    "max": f_max,
    "abs": f_abs,
    "tostring": f_tostring,
    "tonumber": f_tonumber,
}
