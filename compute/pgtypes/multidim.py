"""Multi-dimensional arrays: stored as nested JSON arrays (``[[1,2],[3,4]]``), rectangular as in
PostgreSQL. The text literal parser for nested braces, dimension checks, and the ndim > 1 binary
form; one-dimensional arrays never come here (codec.py keeps its own fast paths for them)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from compute.sqlstate import SqlError

MAX_DIMS = 6  # PostgreSQL's MAXDIM
_BLANKS = " \t\n\r\v\f"


def is_nested(items: list[Any]) -> bool:
    """Whether a stored array (already loaded) has more than one dimension."""
    return bool(items) and isinstance(items[0], list)


def dims(items: list[Any]) -> list[int]:
    """The length of each dimension (``[]`` for an empty array)."""
    out: list[int] = []
    level: Any = items
    while isinstance(level, list):
        out.append(len(level))
        if not level:
            return [] if len(out) == 1 else out
        level = level[0]
    return out


def flatten(items: list[Any]) -> list[Any]:
    """The elements in storage order (row-major), as unnest and array_to_string see them."""
    if not is_nested(items):
        return items
    out: list[Any] = []
    for item in items:
        out.extend(flatten(item) if isinstance(item, list) else [item])
    return out


def check_rectangular(items: list[Any], error: Callable[[], SqlError]) -> None:
    """Every sub-array at one depth has the same length and depth (else ``error()``)."""
    shape = dims(items)
    if len(shape) > MAX_DIMS:
        raise SqlError("54000", f"number of array dimensions ({len(shape)}) exceeds the maximum allowed ({MAX_DIMS})")

    def walk(level: Any, depth: int) -> None:
        if depth == len(shape):
            if isinstance(level, list):
                raise error()
            return
        if not isinstance(level, list) or len(level) != shape[depth]:
            raise error()
        for item in level:
            walk(item, depth + 1)

    walk(items, 0)


def parse_nested_literal(text: str, body: str) -> list[Any]:
    """``{{1,2},{3,NULL}}`` -> nested lists of element texts (None for NULL); 22P02 as array_in."""
    def malformed(detail: str) -> SqlError:
        return SqlError("22P02", f'malformed array literal: "{text}"', detail=detail)

    pos = 0

    def skip() -> None:
        nonlocal pos
        while pos < len(body) and body[pos] in _BLANKS:
            pos += 1

    def element() -> str | None:
        nonlocal pos
        if body[pos] == '"':
            pos += 1
            buf = []
            while pos < len(body) and body[pos] != '"':
                if body[pos] == "\\":
                    pos += 1
                buf.append(body[pos])
                pos += 1
            if pos >= len(body):
                raise malformed("Unexpected end of input.")
            pos += 1
            return "".join(buf)
        start = pos
        while pos < len(body) and body[pos] not in ",{}\"":
            pos += 1
        raw = body[start:pos].strip(_BLANKS)
        if not raw:
            raise malformed('Unexpected "%s" character.' % (body[pos] if pos < len(body) else ""))
        return None if raw.upper() == "NULL" else raw

    def array() -> list[Any]:
        nonlocal pos
        pos += 1  # '{'
        items: list[Any] = []
        skip()
        if pos < len(body) and body[pos] == "}":
            pos += 1
            return items
        while True:
            skip()
            if pos >= len(body):
                raise malformed("Unexpected end of input.")
            items.append(array() if body[pos] == "{" else element())
            skip()
            if pos < len(body) and body[pos] == ",":
                pos += 1
                continue
            if pos < len(body) and body[pos] == "}":
                pos += 1
                return items
            raise malformed("Unexpected end of input." if pos >= len(body) else
                            f'Unexpected "{body[pos]}" character.')

    out = array()
    skip()
    if pos != len(body):
        raise malformed("Junk after closing right brace.")
    if any(isinstance(v, list) for v in out) and not all(isinstance(v, list) for v in out):
        raise malformed("Unexpected array element.")
    if any(v == [] for v in out):  # '{{},{}}' and '{{1},{}}' alike
        raise malformed("Multidimensional arrays must have sub-arrays with matching dimensions.")
    check_rectangular(out, lambda: malformed("Multidimensional arrays must have sub-arrays with matching dimensions."))
    return out


def map_nested(items: list[Any], convert: Callable[[Any], Any]) -> list[Any]:
    """``convert`` applied to every element of nested lists (None stays None)."""
    return [map_nested(v, convert) if isinstance(v, list) else None if v is None else convert(v) for v in items]


def binary(elem_oid: int, items: list[Any], encode: Callable[[Any], bytes]) -> bytes:
    """array_send for ndim > 1: dimensions with lower bound 1, then the elements row-major."""
    shape = dims(items)
    flat = flatten(items)
    has_null = any(v is None for v in flat)
    out = [struct.pack("!iii", len(shape), 1 if has_null else 0, elem_oid)]
    out.extend(struct.pack("!ii", n, 1) for n in shape)
    for v in flat:
        if v is None:
            out.append(b"\xff\xff\xff\xff")
        else:
            data = encode(v)
            out.append(struct.pack("!i", len(data)) + data)
    return b"".join(out)


def reshape(flat: list[Any], shape: list[int]) -> list[Any]:
    """Row-major elements back into nested lists of ``shape``."""
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0] if shape[0] else 0
    return [reshape(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]
