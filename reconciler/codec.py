"""JSON for every stored object, through msgspec (fast, typed, works on plain data classes).

One place encodes and decodes what goes into etcd so that every key holds readable JSON
and decoding validates types. Decoding a wrong shape raises `CodecError`.
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
# msgspec builds a data class's type info lazily, in Python code called from C, on the first
# decode that meets it; two threads doing that at once crash the interpreter (seen with
# the node agent's workers). Decoding holds the GIL anyway, so one lock costs nothing.
_lock = threading.Lock()


class CodecError(ValueError):
    """A stored value does not have the shape of the type it is read as."""


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def decode(data: bytes | str, typ: type[T]) -> T:
    with _lock:
        dec = _decoders.get(typ)
        if dec is None:
            dec = _decoders[typ] = msgspec.json.Decoder(typ)
        try:
            return dec.decode(data)  # type: ignore[no-any-return]
        except msgspec.DecodeError as exc:
            raise CodecError(f"cannot decode {typ.__name__}: {exc}") from exc


def to_builtins(obj: Any) -> Any:
    """Plain dicts/lists for an object (for the API's JSON and for diffs)."""
    return msgspec.to_builtins(obj)


def convert(data: Any, typ: type[T]) -> T:
    try:
        with _lock:
            return msgspec.convert(data, typ)
    except msgspec.ValidationError as exc:
        raise CodecError(f"cannot convert to {typ.__name__}: {exc}") from exc
