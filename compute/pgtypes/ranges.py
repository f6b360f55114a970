"""The built-in range types: parsing, canonical form, output, the binary format, and storage keys.

Storage is a text key that sorts the way range_cmp orders ranges (empty first, then the lower bound,
-infinity first and inclusive before exclusive, then the upper bound, exclusive before inclusive and
+infinity last), so =, ORDER BY, GROUP BY and unique indexes are plain SQLite text comparisons:

    empty        "0"
    otherwise    "1" <lower> <upper>
    lower        "0" (unbounded) | "1" <element key> US ("0" inclusive | "1" exclusive)
    upper        "2" (unbounded) | "1" <element key> US ("0" exclusive | "1" inclusive)

An element key sorts as the element: integers as offset hex, dates and timestamps as their storage
text, numerics as a sortable digit string followed by GS and the value as written (so the scale
prints back; two numerics equal in value but written with different scales compare unequal).
"""

from __future__ import annotations

import datetime as _dt
import struct
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from compute.pgtypes.oids import DATE, INT4, INT8, NUMERIC, TIMESTAMP, TIMESTAMPTZ
from compute.sqlstate import SqlError

INT4RANGE = 3904
INT4RANGE_ARRAY = 3905
NUMRANGE = 3906
NUMRANGE_ARRAY = 3907
TSRANGE = 3908
TSRANGE_ARRAY = 3909
TSTZRANGE = 3910
TSTZRANGE_ARRAY = 3911
DATERANGE = 3912
DATERANGE_ARRAY = 3913
INT8RANGE = 3926
INT8RANGE_ARRAY = 3927

SUBTYPE: dict[int, int] = {INT4RANGE: INT4, INT8RANGE: INT8, NUMRANGE: NUMERIC, DATERANGE: DATE,
                           TSRANGE: TIMESTAMP, TSTZRANGE: TIMESTAMPTZ}
RANGE_NAMES: dict[int, str] = {INT4RANGE: "int4range", INT8RANGE: "int8range", NUMRANGE: "numrange",
                               DATERANGE: "daterange", TSRANGE: "tsrange", TSTZRANGE: "tstzrange"}
DISCRETE = (INT4RANGE, INT8RANGE, DATERANGE)

_US = "\x1f"  # ends an element key (sorts below every character a key holds)
_GS = "\x1d"  # between a numeric's sort digits and its text
_INT_BIAS = 1 << 63
_EMPTY, _LB_INC, _UB_INC, _LB_INF, _UB_INF = 0x01, 0x02, 0x04, 0x08, 0x10  # range flags on the wire


@dataclass(frozen=True, slots=True)
class Range:
    """A range value; bounds are element storage values, None when unbounded."""

    empty: bool
    lower: Any = None
    upper: Any = None
    lower_inc: bool = False
    upper_inc: bool = False


EMPTY = Range(True)


def sort_value(sub: int, value: Any) -> Any:
    """An element as a Python value that compares as PostgreSQL compares the subtype."""
    if sub == NUMERIC:
        return Decimal(value)
    return value


def compare(sub: int, a: Any, b: Any) -> int:
    x, y = sort_value(sub, a), sort_value(sub, b)
    return (x > y) - (x < y)


# --------------------------------------------------------------------------- construction


_INFINITE = ("infinity", "-infinity")


def _successor(sub: int, value: Any) -> Any:
    if sub in (INT4, INT8):
        out = int(value) + 1
        if out >= (1 << 31 if sub == INT4 else 1 << 63):
            raise SqlError("22003", "integer out of range" if sub == INT4 else "bigint out of range")
        return out
    if value in ("infinity", "-infinity"):
        return value
    return (_dt.date.fromisoformat(value) + _dt.timedelta(days=1)).isoformat()


def make(range_oid: int, lower: Any, upper: Any, lower_inc: bool, upper_inc: bool) -> Range:
    """range_serialize + canonicalize: 22000 when lower > upper; discrete ranges as [a,b)."""
    sub = SUBTYPE[range_oid]
    if lower is None:
        lower_inc = False
    if upper is None:
        upper_inc = False
    if lower is not None and upper is not None:
        order = compare(sub, lower, upper)
        if order > 0:
            raise SqlError("22000", "range lower bound must be less than or equal to range upper bound")
        if order == 0 and not (lower_inc and upper_inc):
            return EMPTY
    if range_oid in DISCRETE:  # infinite dates stay as they are (daterange_canonical)
        if lower is not None and not lower_inc and lower not in _INFINITE:
            lower, lower_inc = _successor(sub, lower), True
        if upper is not None and upper_inc and upper not in _INFINITE:
            upper, upper_inc = _successor(sub, upper), False
        if lower is not None and upper is not None and compare(sub, lower, upper) >= 0:
            return EMPTY
    return Range(False, lower, upper, lower_inc, upper_inc)


# --------------------------------------------------------------------------- storage keys


def _numeric_key(text: str) -> str:
    d = Decimal(text)
    if d == 0:
        return "1" + _GS + text
    sign, digits, _exp = d.normalize().as_tuple()
    body = "".join(map(str, digits)).rstrip("0") or "0"
    adjusted = d.adjusted() + 50000
    if not sign:
        return f"2{adjusted:06d}{body}{_GS}{text}"
    flipped = "".join(str(9 - int(ch)) for ch in body)
    return f"0{99999 - adjusted:06d}{flipped}~{_GS}{text}"


def _element_key(sub: int, value: Any) -> str:
    if sub in (INT4, INT8):
        return f"{int(value) + _INT_BIAS:016x}"
    if sub == NUMERIC:
        return _numeric_key(str(value))
    return str(value)


def _element_from_key(sub: int, key: str) -> Any:
    if sub in (INT4, INT8):
        return int(key, 16) - _INT_BIAS
    if sub == NUMERIC:
        return key.split(_GS, 1)[1]
    return key


def key(sub: int, r: Range) -> str:
    if r.empty:
        return "0"
    lower = "0" if r.lower is None else f"1{_element_key(sub, r.lower)}{_US}{'0' if r.lower_inc else '1'}"
    upper = "2" if r.upper is None else f"1{_element_key(sub, r.upper)}{_US}{'1' if r.upper_inc else '0'}"
    return "1" + lower + upper


def from_key(sub: int, value: str) -> Range:
    if value == "0":
        return EMPTY
    pos = 1
    lower: Any = None
    lower_inc = upper_inc = False
    if value[pos] == "0":
        pos += 1
    else:
        end = value.index(_US, pos)
        lower, lower_inc = _element_from_key(sub, value[pos + 1:end]), value[end + 1] == "0"
        pos = end + 2
    upper: Any = None
    if value[pos] == "1":
        end = value.index(_US, pos)
        upper, upper_inc = _element_from_key(sub, value[pos + 1:end]), value[end + 1] == "1"
    return Range(False, lower, upper, lower_inc, upper_inc)


# --------------------------------------------------------------------------- text


def _malformed(text: str, detail: str) -> SqlError:
    return SqlError("22P02", f'malformed range literal: "{text}"', detail=detail)


def _bound(text: str, pos: int, stops: str) -> tuple[str | None, int]:
    """One bound's text from ``pos`` (quotes and backslashes as range_parse_bound reads them)."""
    out: list[str] = []
    quoted = False
    seen = False
    while pos < len(text) and (quoted or text[pos] not in stops):
        ch = text[pos]
        seen = True
        if ch == "\\":
            pos += 1
            if pos >= len(text):
                raise _malformed(text, "Unexpected end of input.")
            out.append(text[pos])
        elif ch == '"':
            if quoted and pos + 1 < len(text) and text[pos + 1] == '"':
                out.append('"')
                pos += 1
            else:
                quoted = not quoted
        else:
            out.append(ch)
        pos += 1
    if quoted:
        raise _malformed(text, "Unexpected end of input.")
    return ("".join(out) if seen else None), pos


def parse(range_oid: int, text: str, element: Callable[[int, str], Any]) -> Range:
    """range_in: ``element(subtype_oid, text)`` parses one bound to its storage value."""
    body = text.strip()
    if body.lower() == "empty":
        return EMPTY
    if not body or body[0] not in "[(":
        raise _malformed(text, 'Missing left parenthesis or bracket.')
    lower_inc = body[0] == "["
    lower_text, pos = _bound(body, 1, ",")
    if pos >= len(body) or body[pos] != ",":
        raise _malformed(text, "Missing comma after lower bound.")
    upper_text, pos = _bound(body, pos + 1, "])")
    if pos >= len(body) or body[pos] not in "])":
        raise _malformed(text, "Too many commas." if pos < len(body) else "Missing right parenthesis or bracket.")
    if pos != len(body) - 1:
        raise _malformed(text, "Junk after right parenthesis or bracket.")
    upper_inc = body[pos] == "]"
    sub = SUBTYPE[range_oid]
    lower = None if lower_text is None else element(sub, lower_text)
    upper = None if upper_text is None else element(sub, upper_text)
    return make(range_oid, lower, upper, lower_inc, upper_inc)


def _quote(text: str) -> str:
    if text and not any(ch in '"\\()[],' or ch.isspace() for ch in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_range(r: Range, element: Callable[[Any], str]) -> str:
    """range_out: ``element(value)`` prints one bound."""
    if r.empty:
        return "empty"
    lower = "" if r.lower is None else _quote(element(r.lower))
    upper = "" if r.upper is None else _quote(element(r.upper))
    return f"{'[' if r.lower_inc else '('}{lower},{upper}{']' if r.upper_inc else ')'}"


# --------------------------------------------------------------------------- binary


def to_binary(r: Range, element: Callable[[Any], bytes]) -> bytes:
    if r.empty:
        return bytes([_EMPTY])
    flags = (_LB_INC if r.lower_inc else 0) | (_UB_INC if r.upper_inc else 0)
    flags |= (_LB_INF if r.lower is None else 0) | (_UB_INF if r.upper is None else 0)
    out = bytes([flags])
    for bound in (r.lower, r.upper):
        if bound is not None:
            data = element(bound)
            out += struct.pack("!i", len(data)) + data
    return out


def from_binary(range_oid: int, data: bytes, element: Callable[[int, bytes], Any]) -> Range:
    if not data:
        raise SqlError("22P03", "insufficient data left in message")
    flags = data[0]
    if flags & _EMPTY:
        return EMPTY
    pos = 1
    bounds: list[Any] = []
    for infinite in (flags & _LB_INF, flags & _UB_INF):
        if infinite:
            bounds.append(None)
            continue
        try:
            (length,) = struct.unpack("!i", data[pos:pos + 4])
        except struct.error:
            raise SqlError("22P03", "insufficient data left in message") from None
        bounds.append(element(SUBTYPE[range_oid], data[pos + 4:pos + 4 + length]))
        pos += 4 + length
    return make(range_oid, bounds[0], bounds[1], bool(flags & _LB_INC), bool(flags & _UB_INC))


def parse_flags(flags: str) -> tuple[bool, bool]:
    """The third argument of a range constructor: '[)', '[]', '(]' or '()'."""
    if len(flags) != 2 or flags[0] not in "[(" or flags[1] not in "])":
        raise SqlError("42601", "invalid range bound flags", hint='Valid values are "[]", "[)", "(]", and "()".')
    return flags[0] == "[", flags[1] == "]"

