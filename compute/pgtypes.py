"""PostgreSQL types: OIDs, names, lengths, and codecs between SQLite storage and the wire.

Storage representation (what a value looks like inside SQLite; see docs/sql-translation.md):

==================  ==========================================================
bool                INTEGER 0/1
int2/int4/int8/oid  INTEGER
float4/float8       ANY (REAL, or the TEXT 'NaN')
numeric             TEXT, canonical decimal (``"12.50"``), compared with the
                    ``pgnumeric`` collation; arithmetic through exact UDFs
text/varchar/name   TEXT; bpchar is stored blank-padded to its length
bytea               BLOB
date                TEXT ``YYYY-MM-DD``
time                TEXT ``HH:MM:SS[.ffffff]``
timestamp           TEXT ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (sorts as text)
timestamptz         TEXT ``YYYY-MM-DD HH:MM:SS[.ffffff]+00`` (UTC, sorts as text)
interval            TEXT in PostgreSQL's ``postgres`` output style
uuid                TEXT, lowercase canonical
json / jsonb        TEXT (jsonb normalized the way PostgreSQL prints it)
arrays              TEXT holding a JSON array (so SQLite's json functions work)
==================  ==========================================================

``encode_text``/``encode_binary`` take a storage value (never None) and return wire bytes;
``decode_text``/``decode_binary`` take wire bytes and return a storage value ready to bind.
Codecs are looked up in dicts keyed by OID so the per-value cost is one dict lookup.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import re
import struct
import uuid as _uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from compute import datetime_input as _datetime_input
from compute.sql.api import SqlError

# --------------------------------------------------------------------------- OIDs

BOOL = 16
BYTEA = 17
CHAR = 18  # "char", the one-byte internal type
NAME = 19
INT8 = 20
INT2 = 21
INT2VECTOR = 22
INT4 = 23
REGPROC = 24
TEXT = 25
OID = 26
XID = 28
OIDVECTOR = 30
JSON = 114
PG_NODE_TREE = 194
FLOAT4 = 700
FLOAT8 = 701
UNKNOWN = 705
BPCHAR = 1042
VARCHAR = 1043
DATE = 1082
TIME = 1083
TIMESTAMP = 1114
TIMESTAMPTZ = 1184
INTERVAL = 1186
TIMETZ = 1266
NUMERIC = 1700
REGCLASS = 2205
REGTYPE = 2206
RECORD = 2249
VOID = 2278
UUID = 2950
JSONB = 3802
REGNAMESPACE = 4089
REGROLE = 4096
ACLITEM = 1033

BOOL_ARRAY = 1000
BYTEA_ARRAY = 1001
CHAR_ARRAY = 1002
NAME_ARRAY = 1003
INT2_ARRAY = 1005
INT4_ARRAY = 1007
TEXT_ARRAY = 1009
BPCHAR_ARRAY = 1014
VARCHAR_ARRAY = 1015
INT8_ARRAY = 1016
FLOAT4_ARRAY = 1021
FLOAT8_ARRAY = 1022
OID_ARRAY = 1028
ACLITEM_ARRAY = 1034
TIMESTAMP_ARRAY = 1115
DATE_ARRAY = 1182
TIME_ARRAY = 1183
TIMESTAMPTZ_ARRAY = 1185
INTERVAL_ARRAY = 1187
NUMERIC_ARRAY = 1231
UUID_ARRAY = 2951
JSON_ARRAY = 199
JSONB_ARRAY = 3807
REGTYPE_ARRAY = 2211
PG_LSN = 3220  # a WAL position: stored as its int64 byte offset, written X/Y in hex
PG_LSN_ARRAY = 3221


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """One row of our pg_type: what RowDescription and pg_type need."""

    oid: int
    name: str  # pg_type.typname
    length: int  # typlen (-1 varlena, -2 cstring)
    category: str  # typcategory: B bool, N numeric, S string, D datetime, T timespan, U user, A array
    array_oid: int = 0  # typarray
    elem_oid: int = 0  # typelem for arrays
    sqlite_type: str = "TEXT"  # column type in our STRICT tables
    display: str = ""  # format_type() output, e.g. "integer"


def _t(oid: int, name: str, length: int, cat: str, arr: int, sqlite: str, display: str) -> TypeInfo:
    return TypeInfo(oid, name, length, cat, arr, 0, sqlite, display)


_BASE = [
    _t(BOOL, "bool", 1, "B", BOOL_ARRAY, "INT", "boolean"),
    _t(BYTEA, "bytea", -1, "U", BYTEA_ARRAY, "BLOB", "bytea"),
    _t(CHAR, "char", 1, "Z", CHAR_ARRAY, "TEXT", '"char"'),
    _t(NAME, "name", 64, "S", NAME_ARRAY, "TEXT", "name"),
    _t(INT8, "int8", 8, "N", INT8_ARRAY, "INT", "bigint"),
    _t(INT2, "int2", 2, "N", INT2_ARRAY, "INT", "smallint"),
    TypeInfo(INT2VECTOR, "int2vector", -1, "A", 1006, INT2, "TEXT", "int2vector"),
    _t(INT4, "int4", 4, "N", INT4_ARRAY, "INT", "integer"),
    _t(REGPROC, "regproc", 4, "N", 1008, "INT", "regproc"),
    _t(TEXT, "text", -1, "S", TEXT_ARRAY, "TEXT", "text"),
    _t(OID, "oid", 4, "N", OID_ARRAY, "INT", "oid"),
    _t(XID, "xid", 4, "U", 1011, "INT", "xid"),
    TypeInfo(OIDVECTOR, "oidvector", -1, "A", 1013, OID, "TEXT", "oidvector"),
    _t(JSON, "json", -1, "U", JSON_ARRAY, "TEXT", "json"),
    _t(PG_NODE_TREE, "pg_node_tree", -1, "Z", 0, "TEXT", "pg_node_tree"),
    # ANY, not REAL: a STRICT REAL column refuses the TEXT 'NaN' that stands for a float NaN
    _t(FLOAT4, "float4", 4, "N", FLOAT4_ARRAY, "ANY", "real"),
    _t(FLOAT8, "float8", 8, "N", FLOAT8_ARRAY, "ANY", "double precision"),
    _t(UNKNOWN, "unknown", -2, "X", 0, "TEXT", "unknown"),
    _t(ACLITEM, "aclitem", 12, "U", ACLITEM_ARRAY, "TEXT", "aclitem"),
    _t(BPCHAR, "bpchar", -1, "S", BPCHAR_ARRAY, "TEXT", "character"),
    _t(VARCHAR, "varchar", -1, "S", VARCHAR_ARRAY, "TEXT", "character varying"),
    _t(DATE, "date", 4, "D", DATE_ARRAY, "TEXT", "date"),
    _t(TIME, "time", 8, "D", TIME_ARRAY, "TEXT", "time without time zone"),
    _t(TIMESTAMP, "timestamp", 8, "D", TIMESTAMP_ARRAY, "TEXT", "timestamp without time zone"),
    _t(TIMESTAMPTZ, "timestamptz", 8, "D", TIMESTAMPTZ_ARRAY, "TEXT", "timestamp with time zone"),
    _t(INTERVAL, "interval", 16, "T", INTERVAL_ARRAY, "TEXT", "interval"),
    _t(TIMETZ, "timetz", 12, "D", 1270, "TEXT", "time with time zone"),
    _t(NUMERIC, "numeric", -1, "N", NUMERIC_ARRAY, "TEXT", "numeric"),
    _t(REGCLASS, "regclass", 4, "N", 2210, "INT", "regclass"),
    _t(REGTYPE, "regtype", 4, "N", REGTYPE_ARRAY, "INT", "regtype"),
    _t(REGNAMESPACE, "regnamespace", 4, "N", 4090, "INT", "regnamespace"),
    _t(REGROLE, "regrole", 4, "N", 4097, "INT", "regrole"),
    _t(RECORD, "record", -1, "P", 2287, "TEXT", "record"),
    _t(VOID, "void", 4, "P", 0, "TEXT", "void"),
    _t(UUID, "uuid", 16, "U", UUID_ARRAY, "TEXT", "uuid"),
    _t(JSONB, "jsonb", -1, "U", JSONB_ARRAY, "TEXT", "jsonb"),
    _t(PG_LSN, "pg_lsn", 8, "U", PG_LSN_ARRAY, "INT", "pg_lsn"),
]

TYPES: dict[int, TypeInfo] = {t.oid: t for t in _BASE}
for _base in _BASE:
    if _base.array_oid and _base.array_oid not in TYPES:
        TYPES[_base.array_oid] = TypeInfo(
            _base.array_oid,
            "_" + _base.name,
            -1,
            "A",
            0,
            _base.oid,
            "TEXT",
            _base.display + "[]",
        )

ARRAY_OF: dict[int, int] = {t.oid: t.array_oid for t in _BASE if t.array_oid}
_OID_BY_DISPLAY: dict[str, int] = {t.display: t.oid for t in TYPES.values()}  # format_type() name -> oid
ELEMENT_OF: dict[int, int] = {t.oid: t.elem_oid for t in TYPES.values() if t.elem_oid}
# int2vector / oidvector are stored like arrays (JSON) but subscripted from 0 and written "1 2".
VECTORS = (INT2VECTOR, OIDVECTOR)

# Type names as written in SQL (after lower-casing) -> OID.
TYPE_NAMES: dict[str, int] = {
    "bool": BOOL,
    "boolean": BOOL,
    "bytea": BYTEA,
    '"char"': CHAR,
    "name": NAME,
    "int8": INT8,
    "bigint": INT8,
    "bigserial": INT8,
    "serial8": INT8,
    "int2": INT2,
    "smallint": INT2,
    "smallserial": INT2,
    "serial2": INT2,
    "int4": INT4,
    "int": INT4,
    "integer": INT4,
    "serial": INT4,
    "serial4": INT4,
    "text": TEXT,
    "oid": OID,
    "xid": XID,
    "json": JSON,
    "float4": FLOAT4,
    "real": FLOAT4,
    "float8": FLOAT8,
    "float": FLOAT8,
    "double precision": FLOAT8,
    "double": FLOAT8,
    "bpchar": BPCHAR,
    "char": BPCHAR,
    "character": BPCHAR,
    "varchar": VARCHAR,
    "character varying": VARCHAR,
    "date": DATE,
    "time": TIME,
    "time without time zone": TIME,
    "timetz": TIMETZ,
    "time with time zone": TIMETZ,
    "timestamp": TIMESTAMP,
    "timestamp without time zone": TIMESTAMP,
    "timestamptz": TIMESTAMPTZ,
    "timestamp with time zone": TIMESTAMPTZ,
    "interval": INTERVAL,
    "numeric": NUMERIC,
    "decimal": NUMERIC,
    "regclass": REGCLASS,
    "regtype": REGTYPE,
    "regproc": REGPROC,
    "regnamespace": REGNAMESPACE,
    "regrole": REGROLE,
    "uuid": UUID,
    "jsonb": JSONB,
    "pg_lsn": PG_LSN,
    "unknown": UNKNOWN,
    "void": VOID,
    "record": RECORD,
}
for _info in list(TYPES.values()):
    TYPE_NAMES.setdefault(_info.name, _info.oid)
# inet only describes system columns (pg_stat_replication.client_addr, text values): it is
# not a type name SQL can use, since nothing validates or orders addresses.
INET = 869
TYPES[INET] = TypeInfo(INET, "inet", -1, "I", 1041, 0, "TEXT", "inet")

INTEGER_TYPES = frozenset({INT2, INT4, INT8, OID, REGCLASS, REGTYPE, REGPROC, XID})
NUMERIC_TYPES = frozenset({INT2, INT4, INT8, FLOAT4, FLOAT8, NUMERIC, OID})
STRING_TYPES = frozenset({TEXT, VARCHAR, BPCHAR, NAME, CHAR, UNKNOWN})


def type_name(oid: int) -> str:
    """typname for an OID (``"int4"``); unknown OIDs print as their number."""
    info = TYPES.get(oid)
    return info.name if info else str(oid)


def type_length(oid: int) -> int:
    info = TYPES.get(oid)
    return info.length if info else -1


def format_type(oid: int, typmod: int = -1) -> str:
    """PostgreSQL's format_type(): ``character varying(10)``, ``numeric(10,2)``, ``integer``."""
    info = TYPES.get(oid)
    if info is None:
        return "???"
    base = info.display
    if typmod < 0:
        return "bpchar" if oid == BPCHAR else base
    if oid in (BPCHAR, VARCHAR):
        return f"{base}({typmod - 4})"
    if oid == NUMERIC:
        mod = typmod - 4
        return f"numeric({(mod >> 16) & 0xFFFF},{mod & 0xFFFF})"
    if oid in (TIMESTAMP, TIMESTAMPTZ, TIME, TIMETZ):
        head, _, tail = base.partition(" ")
        return f"{head}({typmod}) {tail}".rstrip()
    return base


def numeric_typmod(precision: int, scale: int = 0) -> int:
    return ((precision << 16) | scale) + 4


def char_typmod(length: int) -> int:
    return length + 4


# --------------------------------------------------------------------------- errors

_TYPE_ERROR_NAMES = {
    BOOL: "boolean",
    INT2: "smallint",
    INT4: "integer",
    INT8: "bigint",
    FLOAT4: "real",
    FLOAT8: "double precision",
    NUMERIC: "numeric",
    OID: "oid",
}


def _err_name(oid: int) -> str:
    return _TYPE_ERROR_NAMES.get(oid) or type_name(oid)


def invalid_input(oid: int, text: str) -> SqlError:
    return SqlError("22P02", f'invalid input syntax for type {_err_name(oid)}: "{text}"')


def out_of_range(oid: int, text: str) -> SqlError:
    return SqlError("22003", f'value "{text}" is out of range for type {_err_name(oid)}')


def _as_str(data: bytes | str) -> str:
    """Client bytes as text: PostgreSQL verifies the encoding, and text can never hold NUL."""
    if isinstance(data, str):
        return data
    if b"\x00" in data:
        raise SqlError("22021", 'invalid byte sequence for encoding "UTF8": 0x00')
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = " ".join(f"0x{b:02x}" for b in exc.object[exc.start:exc.start + 2])
        raise SqlError("22021", f'invalid byte sequence for encoding "UTF8": {bad}') from None


# --------------------------------------------------------------------------- bool

_TRUE = frozenset({"t", "tr", "tru", "true", "y", "ye", "yes", "on", "1"})
_FALSE = frozenset({"f", "fa", "fal", "fals", "false", "n", "no", "of", "off", "0"})


def parse_bool(text: str) -> int:
    s = text.strip().lower()
    if s in _TRUE:
        return 1
    if s in _FALSE:
        return 0
    raise invalid_input(BOOL, text)


# --------------------------------------------------------------------------- integers

_INT_RE = re.compile(r"\s*[+-]?\d+\s*\Z")
_INT_RANGE = {
    INT2: (-(2**15), 2**15 - 1),
    INT4: (-(2**31), 2**31 - 1),
    INT8: (-(2**63), 2**63 - 1),
    OID: (-(2**31), 2**32 - 1),
}


def parse_int(oid: int, text: str) -> int:
    if not _INT_RE.match(text):
        raise invalid_input(oid, text)
    value = int(text)
    lo, hi = _INT_RANGE.get(oid, _INT_RANGE[INT8])
    if not lo <= value <= hi:
        raise out_of_range(oid, text)
    if oid == OID and value < 0:
        value += 2**32
    return value


def check_int_range(oid: int, value: int) -> int:
    lo, hi = _INT_RANGE.get(oid, _INT_RANGE[INT8])
    if not lo <= value <= hi:
        raise SqlError("22003", f"{_err_name(oid)} out of range")
    return value


# --------------------------------------------------------------------------- floats

_FLOAT_SPECIAL = {
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
    "nan": math.nan,
}
_FLOAT_RE = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*\Z")


_FLOAT4_MAX = 3.4028234663852886e38
_FLOAT4_ROUNDS_TO_MAX = 3.4028235677973366e38  # FLT_MAX plus half an ulp: still rounds down


def _pack_float4(value: float) -> bytes:
    """A double as float4 bytes, rounded like C: values a hair above FLT_MAX (the shortest text
    of FLT_MAX, "3.4028235e+38", reads back as one) round to FLT_MAX; struct refuses them."""
    try:
        return struct.pack("!f", value)
    except OverflowError:
        if abs(value) < _FLOAT4_ROUNDS_TO_MAX:
            return struct.pack("!f", _FLOAT4_MAX if value > 0 else -_FLOAT4_MAX)
        raise


def round_float4(value: float) -> float:
    """A double rounded to the nearest single-precision value (float4 storage)."""
    return float(struct.unpack("!f", _pack_float4(value))[0])


def parse_float(oid: int, text: str) -> float:
    special = _FLOAT_SPECIAL.get(text.strip().lower())
    if special is not None:
        return special
    if not _FLOAT_RE.match(text):
        raise invalid_input(oid, text)
    value = float(text)
    if oid == FLOAT4:
        if math.isinf(value) or abs(value) >= _FLOAT4_ROUNDS_TO_MAX:  # strtof gives inf
            raise out_of_range(oid, text.strip())
        value = struct.unpack("!f", _pack_float4(value))[0]
        if value == 0 and float(text) != 0:
            raise out_of_range(oid, text.strip())
    elif math.isinf(value) or (value == 0 and re.search(r"[1-9]", text.split("e")[0].split("E")[0])):
        raise out_of_range(oid, text.strip())
    return value


def _on_half_ulp(text: str, value: float) -> bool:
    """Whether the decimal ``text`` lies exactly halfway between ``value`` (an integer-valued
    double) and a neighbour: Python's repr accepts such a boundary, PostgreSQL's Ryu does not."""
    exact = Decimal(text)
    if exact != exact.to_integral_value():
        return False
    return abs(int(exact) - int(value)) * 2 == int(math.ulp(value))


def _past_half_ulp(value: float, digits: int) -> str:
    """The shortest representation longer than ``digits`` that is not on a boundary."""
    for precision in range(digits + 1, 18):
        text = f"{value:.{precision - 1}e}"
        if float(text) == value and not _on_half_ulp(text, value):
            return text
    return f"{value:.16e}"


def _shortest_digits(value: float, single: bool) -> tuple[str, int]:
    """Shortest round-trip decimal digits and the decimal exponent of the first digit."""
    if single:
        packed = _pack_float4(value)
        for precision in range(1, 10):
            text = f"{abs(value):.{precision - 1}e}"
            if abs(float(text)) >= _FLOAT4_ROUNDS_TO_MAX:
                continue
            if _pack_float4(float(text)) == packed or _pack_float4(-float(text)) == packed:
                break
    else:
        text = repr(abs(value))
        if abs(value) >= 2.0**52 and not math.isinf(value) and _on_half_ulp(text, abs(value)):
            text = _past_half_ulp(abs(value), len(text.partition("e")[0].replace(".", "").strip("0")))
    if "e" in text:
        mantissa, _, exp = text.partition("e")
        digits = mantissa.replace(".", "").rstrip("0") or "0"
        return digits, int(exp)
    whole, _, frac = text.partition(".")
    whole = whole.lstrip("0")
    if whole:
        return (whole + frac).rstrip("0") or "0", len(whole) - 1
    stripped = frac.lstrip("0")
    return stripped.rstrip("0"), -(len(frac) - len(stripped)) - 1


def format_float(value: float, single: bool = False) -> str:
    """float4out/float8out with extra_float_digits = 1 (shortest round-trip, PG 12+ style)."""
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    limit = 6 if single else 15
    if not single and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    digits, exp = _shortest_digits(value, single)
    sign = "-" if value < 0 else ""
    if -4 <= exp < limit:
        if exp < 0:
            return sign + "0." + "0" * (-exp - 1) + digits
        if len(digits) <= exp + 1:
            return sign + digits + "0" * (exp + 1 - len(digits))
        return sign + digits[: exp + 1] + "." + digits[exp + 1 :]
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


# --------------------------------------------------------------------------- numeric

_NUMERIC_RE = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*\Z")
_NUMERIC_SPECIAL = {"nan": "NaN", "infinity": "Infinity", "+infinity": "Infinity",
                    "-infinity": "-Infinity", "inf": "Infinity", "+inf": "Infinity",
                    "-inf": "-Infinity"}


def numeric_to_str(value: Decimal) -> str:
    """Canonical text of a Decimal the way numeric_out prints it (no exponent)."""
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "Infinity" if value > 0 else "-Infinity"
    text = format(value, "f")  # a positive exponent prints as whole digits, no context needed
    if text.startswith("-") and value.is_zero():
        text = text[1:]
    return text


def parse_numeric(text: str) -> str:
    """numeric_in: validate and canonicalise; the storage value is the canonical text."""
    special = _NUMERIC_SPECIAL.get(text.strip().lower())
    if special is not None:
        return special
    if not _NUMERIC_RE.match(text):
        raise invalid_input(NUMERIC, text)
    return numeric_to_str(Decimal(text.strip()))


def to_decimal(value: Any) -> Decimal:
    """A storage value (TEXT canonical, INTEGER, or REAL) as a Decimal."""
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            raise invalid_input(NUMERIC, value) from None
    if isinstance(value, float):
        if value != value:
            return Decimal("NaN")
        return Decimal(repr(value)) if not math.isinf(value) else Decimal(value)
    if isinstance(value, bytes):
        return to_decimal(value.decode())
    return Decimal(value)


def apply_numeric_typmod(value: Any, precision: int, scale: int) -> str:
    """Round to ``scale`` and check ``precision`` (numeric(p,s) assignment)."""
    dec = to_decimal(value)
    if not dec.is_finite():
        if dec.is_nan():
            return "NaN"
        raise SqlError(
            "22003",
            "numeric field overflow",
            detail=f"A field with precision {precision}, scale {scale} cannot hold an infinite value.",
        )
    rounded = dec.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if rounded.adjusted() >= precision - scale and not rounded.is_zero():
        raise SqlError(
            "22003",
            "numeric field overflow",
            detail=(
                f"A field with precision {precision}, scale {scale} must round to an absolute "
                f"value less than 10^{precision - scale}."
            ),
        )
    return numeric_to_str(rounded)


def _enc_numeric(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int):
        return b"%d" % value
    return numeric_to_str(to_decimal(value)).encode()


def _numeric_binary(value: Any) -> bytes:
    dec = to_decimal(value)
    if dec.is_nan():
        return struct.pack("!hhHH", 0, 0, 0xC000, 0)
    if dec.is_infinite():
        return struct.pack("!hhHH", 0, 0, 0xD000 if dec > 0 else 0xF000, 0)
    sign, digits, exp = dec.as_tuple()
    assert isinstance(exp, int)
    dscale = max(-exp, 0)
    int_digits = "".join(map(str, digits))
    # Pad so the decimal point falls on a base-10000 boundary.
    frac_len = -exp if exp < 0 else 0
    if exp > 0:
        int_digits += "0" * exp
    int_digits = int_digits.rjust(frac_len + 1, "0")
    int_part = int_digits[: len(int_digits) - frac_len] if frac_len else int_digits
    frac_part = int_digits[len(int_digits) - frac_len :] if frac_len else ""
    int_part = int_part.lstrip("0")
    int_part = "0" * (-len(int_part) % 4) + int_part
    frac_part = frac_part + "0" * (-len(frac_part) % 4)
    groups = [int(int_part[i : i + 4]) for i in range(0, len(int_part), 4)]
    weight = len(groups) - 1
    groups += [int(frac_part[i : i + 4]) for i in range(0, len(frac_part), 4)]
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    return struct.pack(f"!hhHH{len(groups)}H", len(groups), weight, 0x4000 if sign else 0, dscale, *groups)


# numeric holds up to 131072 digits before the point and 16383 after (PostgreSQL's limits)
NUMERIC_CONTEXT_DIGITS = 131072 + 16383


def _numeric_from_binary(data: bytes) -> str:
    ndigits, weight, sign, dscale = struct.unpack_from("!hhHH", data)
    if sign == 0xC000:
        return "NaN"
    if sign == 0xD000:
        return "Infinity"
    if sign == 0xF000:
        return "-Infinity"
    groups = struct.unpack_from(f"!{ndigits}H", data, 8)
    digits = 0
    for group in groups:  # exact integer arithmetic: a Decimal context would round at 28 digits
        digits = digits * 10000 + group
    exponent = 4 * (weight - len(groups) + 1)
    with localcontext() as ctx:
        ctx.prec = NUMERIC_CONTEXT_DIGITS
        value = Decimal((1 if sign == 0x4000 else 0, tuple(map(int, str(digits))), exponent))
        return numeric_to_str(value.quantize(Decimal((0, (1,), -dscale))))


# --------------------------------------------------------------------------- date/time

_PG_EPOCH = _dt.datetime(2000, 1, 1)
_PG_EPOCH_DATE = _dt.date(2000, 1, 1)
_UTC = _dt.UTC
_DATE_RE = re.compile(r"\s*(\d{4,})-(\d{1,2})-(\d{1,2})(\s+BC)?\s*\Z", re.I)
_DATE_COMPACT_RE = re.compile(r"\s*(\d{4})(\d{2})(\d{2})\s*\Z")
_TIME_PART = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
_TZ_PART = r"(?:\s*(Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2}(?::?\d{2})?)?))?"
_TS_RE = re.compile(r"\s*(\d{4,})-(\d{1,2})-(\d{1,2})(?:(?:[T ]|\s+)" + _TIME_PART + r")?" + _TZ_PART + r"\s*\Z", re.I)
_TIME_RE = re.compile(r"\s*" + _TIME_PART + _TZ_PART + r"\s*\Z", re.I)


def _frac_micros(frac: str | None) -> tuple[int, int]:
    """Microseconds from a fraction string, rounded like PostgreSQL (carry returned)."""
    if not frac:
        return 0, 0
    if len(frac) <= 6:
        return int(frac.ljust(6, "0")), 0
    micros = round(int(frac[:7].ljust(7, "0")) / 10)
    if micros >= 1_000_000:
        return micros - 1_000_000, 1
    return micros, 0


def _tz_offset_seconds(tz: str) -> int:
    tz = tz.upper()
    if tz in ("Z", "UTC", "GMT"):
        return 0
    sign = -1 if tz[0] == "-" else 1
    body = tz[1:].replace(":", "")
    hours = int(body[:2]) if len(body) > 2 else int(body)
    minutes = int(body[2:4]) if len(body) > 2 else 0
    seconds = int(body[4:6]) if len(body) > 4 else 0
    return sign * (hours * 3600 + minutes * 60 + seconds)


def format_date(value: _dt.date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def format_timestamp(value: _dt.datetime) -> str:
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def format_time(value: _dt.time) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def format_offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}"
    if minutes or secs:
        text += f":{minutes:02d}"
    if secs:
        text += f":{secs:02d}"
    return text


def format_timestamptz(value: _dt.datetime, tz: str = "UTC") -> str:
    """timestamptz_out in time zone ``tz`` (value must be aware)."""
    local = value.astimezone(get_zone(tz))
    offset = local.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    return format_timestamp(local.replace(tzinfo=None)) + format_offset(seconds)


_ZONES: dict[str, _dt.tzinfo] = {}


def get_zone(name: str) -> _dt.tzinfo:
    """A tzinfo for a PostgreSQL TimeZone setting (IANA names, UTC, or a numeric offset)."""
    zone = _ZONES.get(name)
    if zone is not None:
        return zone
    upper = name.upper()
    if upper in ("UTC", "GMT", "Z", "ZULU", "UCT", "ETC/UTC"):
        zone = _UTC
    elif re.fullmatch(r"[+-]?\d{1,2}(:\d{2})?", name):
        # A bare number of hours is an ISO offset (east positive), as SET TIME ZONE 3 is; with
        # minutes it is a POSIX zone, whose sign is inverted: '-02:00' is two hours east.
        seconds = _tz_offset_seconds(name if name[0] in "+-" else "+" + name)
        zone = _dt.timezone(_dt.timedelta(seconds=-seconds if ":" in name else seconds))
    else:
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise SqlError("22023", f'invalid value for parameter "TimeZone": "{name}"') from None
    _ZONES[name] = zone
    return zone


def _refuse_bc(text: str) -> None:
    raise SqlError("0A000", f'dates before the year 1 (BC) are not supported: "{text}"')


def _special_datetime(word: str) -> _dt.datetime | None:
    """epoch/now/today/tomorrow/yesterday outside literals (literals are bound at translation)."""
    if word == "epoch":
        return _dt.datetime(1970, 1, 1)
    now = _dt.datetime.now(_UTC).replace(tzinfo=None)
    if word == "now":
        return now
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return today + _dt.timedelta(days={"today": 0, "tomorrow": 1, "yesterday": -1}.get(word, 0))


def _decoded_datetime(text: str, type_name: str) -> tuple[_dt.datetime, str | None]:
    """The forms the fast regular expressions miss (month names, MDY, Julian...): datetime.c rules."""
    d = _datetime_input.decode(text, type_name)
    if d.special is not None:
        if d.special.endswith("infinity") or d.special == "allballs":
            raise SqlError("22007", f'invalid input syntax for type {type_name}: "{text}"')
        special = _special_datetime(d.special)
        assert special is not None
        return special, "+00" if d.special in ("epoch", "now") else None  # instants, not local times
    assert d.year is not None and d.month is not None and d.day is not None
    try:
        value = _dt.datetime(d.year, d.month, d.day) + _dt.timedelta(
            hours=d.hour, minutes=d.minute, seconds=d.second, microseconds=d.micros)
    except (ValueError, OverflowError):
        raise SqlError("22008", f'date/time field value out of range: "{text}"') from None
    if d.tz_name is not None:
        return value, d.tz_name
    return value, None if d.tz_offset is None else format_offset(d.tz_offset)


def parse_date(text: str) -> str:
    m = _DATE_RE.match(text) or _DATE_COMPACT_RE.match(text)
    if m and m.re is _DATE_RE and m.group(4):
        _refuse_bc(text)
    low = text.strip().lower()
    if low in ("infinity", "+infinity"):
        return "infinity"
    if low == "-infinity":
        return "-infinity"
    if not m:
        ts = _TS_RE.match(text)
        if ts:
            return parse_date(f"{ts.group(1)}-{ts.group(2)}-{ts.group(3)}")
        return format_date(_decoded_datetime(text, "date")[0].date())
    try:
        value = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise SqlError("22008", f'date/time field value out of range: "{text}"') from None
    return format_date(value)


def _parse_datetime(oid: int, text: str) -> tuple[_dt.datetime, str | None]:
    """(naive value, offset text or zone name) of timestamp/timestamptz input."""
    m = _TS_RE.match(text)
    if not m:
        return _decoded_datetime(text, _TS_NAMES[oid])
    year, month, day, hour, minute, second, frac, tz = m.groups()
    micros, carry = _frac_micros(frac)
    try:
        value = _dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micros
        )
    except ValueError:
        if hour in ("24", "23") or second == "60":  # 24:00:00 and leap seconds roll over
            return _decoded_datetime(text, _TS_NAMES[oid])
        raise SqlError("22008", f'date/time field value out of range: "{text}"') from None
    if carry:
        value += _dt.timedelta(seconds=1)
    return value, tz


_TS_NAMES = {
    TIMESTAMP: "timestamp",
    TIMESTAMPTZ: "timestamp with time zone",
    TIME: "time",
    DATE: "date",
}


def parse_timestamp(text: str) -> str:
    low = text.strip().lower()
    if low in ("infinity", "-infinity"):
        return low
    value, _tz = _parse_datetime(TIMESTAMP, text)
    return format_timestamp(value)


def parse_timestamptz(text: str, tz: str = "UTC") -> str:
    """timestamptz_in; a value without an offset is in session time zone ``tz``."""
    low = text.strip().lower()
    if low in ("infinity", "-infinity"):
        return low
    value, offset = _parse_datetime(TIMESTAMPTZ, text)
    if offset is None:
        aware = value.replace(tzinfo=get_zone(tz))
    elif offset[0] not in "+-" and offset.upper() not in ("Z", "UTC", "GMT"):
        aware = value.replace(tzinfo=_input_zone(offset))
    else:
        aware = value.replace(tzinfo=_dt.timezone(_dt.timedelta(seconds=_tz_offset_seconds(offset))))
    return format_timestamp(aware.astimezone(_UTC).replace(tzinfo=None)) + "+00"


@functools.cache
def _zone_names() -> dict[str, str]:
    """IANA zone names by lower case: PostgreSQL matches them case-insensitively."""
    return {zone.lower(): zone for zone in available_timezones()}


def _input_zone(name: str) -> _dt.tzinfo:
    """An IANA zone named in timestamptz input (22023 like PostgreSQL when unknown)."""
    spelled = _zone_names().get(name.lower())
    if spelled is None:
        raise SqlError("22023", f'time zone "{name}" not recognized')
    return ZoneInfo(spelled)


def parse_time(text: str) -> str:
    m = _TIME_RE.match(text)
    if not m:
        ts = _TS_RE.match(text)
        if ts and ts.group(4) is not None:
            return format_time(_parse_datetime(TIMESTAMP, text)[0].time())
        raise SqlError("22007", f'invalid input syntax for type time: "{text}"')
    hour, minute, second, frac, _tz = m.groups()
    micros, carry = _frac_micros(frac)
    h, mi, s = int(hour), int(minute), int(second or 0) + carry
    if h == 24 and mi == 0 and s == 0 and micros == 0:
        return "24:00:00"
    if h > 23 or mi > 59 or s > 60:
        raise SqlError("22008", f'date/time field value out of range: "{text}"')
    return format_time(_dt.time(h, mi, min(s, 59), micros))


def timestamptz_from_storage(value: str) -> _dt.datetime:
    """Storage text (``...+00`` or any offset) to an aware datetime."""
    m = _TS_RE.match(value)
    if not m:
        raise invalid_input(TIMESTAMPTZ, value)
    naive, tz = _parse_datetime(TIMESTAMPTZ, value)
    seconds = _tz_offset_seconds(tz) if tz else 0
    return naive.replace(tzinfo=_dt.timezone(_dt.timedelta(seconds=seconds)))


def timestamp_from_storage(value: str) -> _dt.datetime:
    return _parse_datetime(TIMESTAMP, value)[0]


def _micros_since_epoch(value: _dt.datetime) -> int:
    delta = value - _PG_EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


_INFINITY_TS = {"infinity": 2**63 - 1, "-infinity": -(2**63)}


def _enc_timestamp_bin(value: Any) -> bytes:
    special = _INFINITY_TS.get(value)
    if special is not None:
        return struct.pack("!q", special)
    return struct.pack("!q", _micros_since_epoch(timestamp_from_storage(value)))


def _enc_timestamptz_bin(value: Any) -> bytes:
    special = _INFINITY_TS.get(value)
    if special is not None:
        return struct.pack("!q", special)
    aware = timestamptz_from_storage(value).astimezone(_UTC).replace(tzinfo=None)
    return struct.pack("!q", _micros_since_epoch(aware))


def _dec_timestamp_bin(data: bytes) -> str:
    (micros,) = struct.unpack("!q", data)
    if micros == 2**63 - 1:
        return "infinity"
    if micros == -(2**63):
        return "-infinity"
    return format_timestamp(_PG_EPOCH + _dt.timedelta(microseconds=micros))


def _dec_timestamptz_bin(data: bytes) -> str:
    text = _dec_timestamp_bin(data)
    return text if text.endswith("infinity") else text + "+00"


def _enc_date_bin(value: Any) -> bytes:
    if value == "infinity":
        return struct.pack("!i", 2**31 - 1)
    if value == "-infinity":
        return struct.pack("!i", -(2**31))
    return struct.pack("!i", (_dt.date.fromisoformat(value) - _PG_EPOCH_DATE).days)


def _dec_date_bin(data: bytes) -> str:
    (days,) = struct.unpack("!i", data)
    if days == 2**31 - 1:
        return "infinity"
    if days == -(2**31):
        return "-infinity"
    return format_date(_PG_EPOCH_DATE + _dt.timedelta(days=days))


def date_fields(value: str) -> tuple[int, int, int]:
    """(astronomical year, month, day) of a stored date (``YYYY-MM-DD`` or ``YYYY-MM-DD BC``)."""
    bc = value.endswith(" BC")
    year, month, day = (int(part) for part in value[:-3 if bc else None].split("-"))
    return (1 - year if bc else year), month, day


def time_micros(value: str) -> int:
    """Microseconds since midnight of a stored time."""
    return _time_micros(value)


def parse_timetz(text: str, tz: str = "UTC") -> str:
    """timetz_in then timetz_out: ``HH:MM:SS[.ffffff]+HH[:MM]``; without a zone, the session
    TimeZone's offset now."""
    m = _TIME_RE.match(text)
    if not m:
        raise SqlError("22007", f'invalid input syntax for type time with time zone: "{text}"')
    zone = m.group(5)
    time_text = parse_time(text[: m.start(5)] if zone else text)
    if zone:
        offset = _tz_offset_seconds(zone)
    else:
        now = _dt.datetime.now(_UTC).astimezone(get_zone(tz)).utcoffset()
        offset = int(now.total_seconds()) if now is not None else 0
    if abs(offset) > 15 * 3600 + 59 * 60:
        raise SqlError("22009", f'time zone displacement out of range: "{text}"')
    return time_text + format_offset(offset)


def _timetz_parts(value: str) -> tuple[int, int]:
    """Stored timetz text -> (microseconds since midnight, offset seconds east)."""
    cut = max(value.rfind("+"), value.rfind("-"))
    return _time_micros(value[:cut]), _tz_offset_seconds(value[cut:])


def timetz_has_zone(text: str) -> bool:
    """Whether timetz input names its offset (else it is the session TimeZone's)."""
    m = _TIME_RE.match(text)
    return m is not None and m.group(5) is not None


def timetz_key(value: Any) -> int | None:
    """An integer that orders timetz values as timetz_cmp does: by the UTC time (time minus
    offset), then by zone (seconds west); equal keys are equal values."""
    if value is None:
        return None
    micros, offset = _timetz_parts(str(value))
    return (micros - offset * 1_000_000) * 100_000 + (-offset + 50_000)


def _enc_timetz_bin(value: Any) -> bytes:
    micros, offset = _timetz_parts(str(value))
    return struct.pack("!qi", micros, -offset)  # timetz_send: the zone in seconds west


def _dec_timetz_bin(data: bytes) -> str:
    micros, west = struct.unpack("!qi", data)
    return _dec_time_bin(struct.pack("!q", micros)) + format_offset(-west)


def _time_micros(value: str) -> int:
    h, m, rest = value.split(":")
    sec, _, frac = rest.partition(".")
    return ((int(h) * 60 + int(m)) * 60 + int(sec)) * 1_000_000 + int(frac.ljust(6, "0")[:6] or 0)


def _dec_time_bin(data: bytes) -> str:
    (micros,) = struct.unpack("!q", data)
    secs, micro = divmod(micros, 1_000_000)
    mins, sec = divmod(secs, 60)
    hour, minute = divmod(mins, 60)
    text = f"{hour:02d}:{minute:02d}:{sec:02d}"
    if micro:
        text += f".{micro:06d}".rstrip("0")
    return text


# --------------------------------------------------------------------------- interval

_INTERVAL_UNITS = {
    "microsecond": ("us", 1),
    "microseconds": ("us", 1),
    "us": ("us", 1),
    "usec": ("us", 1),
    "usecs": ("us", 1),
    "millisecond": ("us", 1000),
    "milliseconds": ("us", 1000),
    "ms": ("us", 1000),
    "msec": ("us", 1000),
    "msecs": ("us", 1000),
    "second": ("us", 1_000_000),
    "seconds": ("us", 1_000_000),
    "sec": ("us", 1_000_000),
    "secs": ("us", 1_000_000),
    "s": ("us", 1_000_000),
    "minute": ("us", 60_000_000),
    "minutes": ("us", 60_000_000),
    "min": ("us", 60_000_000),
    "mins": ("us", 60_000_000),
    "m": ("us", 60_000_000),
    "hour": ("us", 3_600_000_000),
    "hours": ("us", 3_600_000_000),
    "hr": ("us", 3_600_000_000),
    "hrs": ("us", 3_600_000_000),
    "h": ("us", 3_600_000_000),
    "day": ("d", 1),
    "days": ("d", 1),
    "d": ("d", 1),
    "week": ("d", 7),
    "weeks": ("d", 7),
    "w": ("d", 7),
    "month": ("mon", 1),
    "months": ("mon", 1),
    "mon": ("mon", 1),
    "mons": ("mon", 1),
    "year": ("mon", 12),
    "years": ("mon", 12),
    "y": ("mon", 12),
    "yr": ("mon", 12),
    "yrs": ("mon", 12),
    "decade": ("mon", 120),
    "decades": ("mon", 120),
    "century": ("mon", 1200),
    "centuries": ("mon", 1200),
}
_INTERVAL_TOKEN = re.compile(
    r"\s*(?:([+-]?\d+(?::\d+){1,2}(?:\.\d+)?)|([+-]?(?:\d+\.?\d*|\.\d+))\s*([a-z]+)?)", re.I
)


def interval_parts(text: str) -> tuple[int, int, int]:
    """interval_in for the postgres style: ``1 year 2 mons 3 days 04:05:06.5`` -> (months, days, us)."""
    if text.startswith("P"):
        return _datetime_input.iso8601_interval(text)
    original = text
    body = text.strip()
    if body.startswith("@"):
        body = body[1:]
    ago = False
    if body.lower().endswith(" ago"):
        ago = True
        body = body[:-4]
    months = days = micros = 0
    pos = 0
    body = body.strip()
    if not body:
        raise SqlError("22007", f'invalid input syntax for type interval: "{original}"')
    while pos < len(body):
        m = _INTERVAL_TOKEN.match(body, pos)
        if not m or m.end() == pos:
            raise SqlError("22007", f'invalid input syntax for type interval: "{original}"')
        pos = m.end()
        clock, number, unit = m.groups()
        if clock:
            sign = -1 if clock.startswith("-") else 1
            pieces = clock.lstrip("+-").split(":")
            h = int(pieces[0])
            mi = int(pieces[1])
            sec = Decimal(pieces[2]) if len(pieces) > 2 else Decimal(0)
            micros += sign * (h * 3_600_000_000 + mi * 60_000_000 + int(sec * 1_000_000))
            continue
        assert number is not None
        if unit is None:
            micros += int(Decimal(number) * 1_000_000)
            continue
        spec = _INTERVAL_UNITS.get(unit.lower())
        if spec is None:
            raise SqlError("22007", f'invalid input syntax for type interval: "{original}"')
        field, factor = spec
        amount = Decimal(number) * factor
        if field == "us":
            micros += int(amount)
        elif field == "d":
            whole = int(amount)
            days += whole
            micros += int((amount - whole) * 86_400_000_000)
        else:
            whole = int(amount)
            months += whole
            frac_days = (amount - whole) * 30
            days += int(frac_days)
            micros += int((frac_days - int(frac_days)) * 86_400_000_000)
    if ago:
        months, days, micros = -months, -days, -micros
    return months, days, micros


def format_interval(months: int, days: int, micros: int) -> str:
    """interval_out, IntervalStyle = postgres (datetime.c EncodeInterval, AddPostgresIntPart)."""
    parts: list[str] = []
    is_zero, is_before = True, False
    years = abs(months) // 12 * (1 if months >= 0 else -1)
    for value, unit in ((years, "year"), (months - years * 12, "mon"), (days, "day")):
        if value == 0:
            continue
        plus = "+" if not is_zero and is_before and value > 0 else ""
        parts.append(f"{plus}{value} {unit}{'s' if value != 1 else ''}")
        is_zero, is_before = False, value < 0
    if micros or is_zero:
        sign = "-" if micros < 0 else ("+" if is_before else "")
        total = abs(micros)
        secs, frac = divmod(total, 1_000_000)
        mins, sec = divmod(secs, 60)
        hours, minute = divmod(mins, 60)
        clock = f"{sign}{hours:02d}:{minute:02d}:{sec:02d}"
        if frac:
            clock += f".{frac:06d}".rstrip("0")
        parts.append(clock)
    return " ".join(parts)


def parse_interval(text: str) -> str:
    return format_interval(*interval_parts(text))


# --------------------------------------------------------------------------- uuid / json / bytea

_HEX_RE = re.compile(r"[0-9a-fA-F]*\Z")


def parse_uuid(text: str) -> str:
    """uuid_in (string_to_uuid): optional braces, a hyphen allowed after any group of 4 hex digits."""
    src = text
    braces = src.startswith("{")
    pos = 1 if braces else 0
    digits: list[str] = []
    for i in range(16):
        pair = src[pos:pos + 2]
        if len(pair) != 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
            raise invalid_input(UUID, text)
        digits.append(pair)
        pos += 2
        if src[pos:pos + 1] == "-" and i % 2 == 1 and i < 15:
            pos += 1
    if braces:
        if src[pos:pos + 1] != "}":
            raise invalid_input(UUID, text)
        pos += 1
    if pos != len(src):
        raise invalid_input(UUID, text)
    return str(_uuid.UUID(hex="".join(digits)))


def parse_json(text: str) -> str:
    try:
        json.loads(text)
    except ValueError:
        raise SqlError("22P02", "invalid input syntax for type json") from None
    return text


def _jsonb_dump(value: Any) -> str:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(json.dumps(k, ensure_ascii=False) + ": " + _jsonb_dump(value[k]) for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb_dump(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def parse_jsonb(text: str) -> str:
    """jsonb_in then jsonb_out: keys sorted (by length, then bytes), duplicates last-wins."""
    try:
        value = json.loads(text, parse_float=Decimal)
    except ValueError:
        raise SqlError("22P02", "invalid input syntax for type json") from None
    return _jsonb_dump(value)


def parse_bytea(text: str) -> bytes:
    if text.startswith("\\x"):
        body = text[2:]
        cleaned = "".join(body.split())
        if not _HEX_RE.match(cleaned):  # byteain: 22023 like PostgreSQL's hex_decode
            bad = next(c for c in cleaned if c not in "0123456789abcdefABCDEF")
            raise SqlError("22023", f'invalid hexadecimal digit: "{bad}"')
        if len(cleaned) % 2:
            raise SqlError("22023", "invalid hexadecimal data: odd number of digits")
        return bytes.fromhex(cleaned)
    out = bytearray()
    i = 0
    raw = text.encode()
    while i < len(raw):
        ch = raw[i]
        if ch == 0x5C:  # backslash
            if raw[i + 1 : i + 2] == b"\\":
                out.append(0x5C)
                i += 2
                continue
            octal = raw[i + 1 : i + 4]
            if len(octal) == 3 and all(0x30 <= c <= 0x37 for c in octal):
                out.append(int(octal, 8))
                i += 4
                continue
            raise SqlError("22P02", "invalid input syntax for type bytea")
        out.append(ch)
        i += 1
    return bytes(out)


# --------------------------------------------------------------------------- arrays

# array_out quotes elements with these (only ASCII blanks: array_isspace, not str.isspace)
_ARRAY_NEEDS_QUOTE = re.compile(r'[{}",\\ \t\n\r\v\f]')
_ARRAY_BLANKS = " \t\n\r\v\f"


def _array_elem_value(elem_oid: int, value: Any) -> Any:
    """A stored (JSON) element as the value its type's encoders take: bytea elements are stored
    as their ``\\x`` hex text, json/jsonb elements as JSON values."""
    if elem_oid == BYTEA and isinstance(value, str):
        return parse_bytea(value)
    if elem_oid == JSONB:
        return _jsonb_dump(value)
    if elem_oid == JSON:
        return json.dumps(value, ensure_ascii=False)
    return value


def array_elem_value(elem_oid: int, value: Any) -> Any:
    """A stored array element as a scalar of ``elem_oid`` (json/jsonb as their text)."""
    return _array_elem_value(elem_oid, value)


def array_elem_storage(elem_oid: int, value: Any) -> Any:
    """A scalar of ``elem_oid`` as an array element is stored (the inverse of array_elem_value)."""
    if elem_oid in (JSON, JSONB) and isinstance(value, str):
        return json.loads(value)
    return _storage_json(value)


def _array_elem_text(elem_oid: int, value: Any) -> str:
    if value is None:
        return "NULL"
    if elem_oid == BOOL:
        return "t" if value else "f"
    value = _array_elem_value(elem_oid, value)
    text = _TEXT_ENCODERS.get(elem_oid, _enc_text_default)(value).decode()
    if text == "" or text.upper() == "NULL" or _ARRAY_NEEDS_QUOTE.search(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def array_values(value: Any) -> list[Any]:
    """Storage (JSON text) to a Python list."""
    if isinstance(value, list):
        return value
    parsed = json.loads(value)
    if not isinstance(parsed, list):
        raise SqlError("22P02", f'malformed array literal: "{value}"')
    return parsed


def format_array(elem_oid: int, value: Any) -> str:
    if elem_oid == JSONB and isinstance(value, str):  # keep numbers exact
        items = json.loads(value, parse_float=Decimal)
    else:
        items = array_values(value)
    nested = elem_oid not in (JSON, JSONB)  # a json element may itself be a JSON array
    return "{" + ",".join(
        format_array(elem_oid, v) if nested and isinstance(v, list) else _array_elem_text(elem_oid, v)
        for v in items
    ) + "}"


def parse_array_literal(text: str) -> list[str | None]:
    """Split a one-dimensional PostgreSQL array literal ``{a,"b c",NULL}`` into element texts."""
    body = text.strip(_ARRAY_BLANKS)
    if body.startswith("[") and "=" in body:
        body = body.split("=", 1)[1].strip(_ARRAY_BLANKS)
    if not (body.startswith("{") and body.endswith("}")):
        raise SqlError("22P02", f'malformed array literal: "{text}"', detail='Array value must start with "{" or dimension information.')
    inner = body[1:-1]
    items: list[str | None] = []
    if not inner.strip(_ARRAY_BLANKS):
        return items
    i = 0
    while i <= len(inner):
        while i < len(inner) and inner[i] in _ARRAY_BLANKS:
            i += 1
        if i < len(inner) and inner[i] == '"':
            i += 1
            buf = []
            while i < len(inner) and inner[i] != '"':
                if inner[i] == "\\":
                    i += 1
                buf.append(inner[i])
                i += 1
            i += 1
            items.append("".join(buf))
            while i < len(inner) and inner[i] in _ARRAY_BLANKS:
                i += 1
        else:
            start = i
            while i < len(inner) and inner[i] != ",":
                i += 1
            raw = inner[start:i].strip(_ARRAY_BLANKS)
            if raw.startswith("{"):
                raise SqlError("0A000", "multidimensional arrays are not supported")
            items.append(None if raw.upper() == "NULL" else raw)
        if i < len(inner) and inner[i] != ",":
            raise SqlError("22P02", f'malformed array literal: "{text}"')
        i += 1
    return items


def _storage_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return value


def parse_array(elem_oid: int, text: str) -> str:
    parser = _TEXT_DECODERS.get(elem_oid, _dec_text)
    if elem_oid in (JSON, JSONB):  # stored as JSON values, as ARRAY[...] stores them
        def parser(data: bytes | str) -> Any:
            return json.loads(parse_json(_as_str(data)))
    values = [None if item is None else _storage_json(parser(item.encode())) for item in parse_array_literal(text)]
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


def _vector_binary(elem_oid: int, value: Any) -> bytes:
    """int2vector / oidvector send: a one-dimensional array whose lower bound is 0."""
    items = [int(v) for v in array_values(value)]
    if not items:
        return struct.pack("!iii", 0, 0, elem_oid)
    pack = "!h" if elem_oid == INT2 else "!I"
    out = [struct.pack("!iiiii", 1, 0, elem_oid, len(items), 0)]
    out.extend(struct.pack("!i", struct.calcsize(pack)) + struct.pack(pack, v) for v in items)
    return b"".join(out)


def _vector_text_decoder(data: bytes | str) -> str:
    try:
        return json.dumps([int(v) for v in _as_str(data).split()])
    except ValueError:
        raise SqlError("22P02", f'invalid input syntax for type vector: "{_as_str(data)}"') from None


def _array_binary(elem_oid: int, value: Any) -> bytes:
    items = array_values(value)
    encoder = _BINARY_ENCODERS.get(elem_oid, _enc_text_default)
    has_null = any(v is None for v in items)
    if not items:  # PostgreSQL sends an empty array with no dimensions
        return struct.pack("!iii", 0, 0, elem_oid)
    out = [struct.pack("!iiiii", 1, 1 if has_null else 0, elem_oid, len(items), 1)]
    for v in items:
        if v is None:
            out.append(struct.pack("!i", -1))
        else:
            data = encoder(_array_elem_value(elem_oid, v))
            out.append(struct.pack("!i", len(data)) + data)
    return b"".join(out)


def _array_from_binary(elem_oid: int, data: bytes) -> str:
    ndim, _flags, _elem = struct.unpack_from("!iii", data)
    if ndim == 0:
        return "[]"
    if ndim > 1:
        raise SqlError("0A000", "multidimensional arrays are not supported")
    count, _lbound = struct.unpack_from("!ii", data, 12)
    pos = 20
    decoder = _BINARY_DECODERS.get(elem_oid, _dec_text)
    values: list[Any] = []
    for _ in range(count):
        (length,) = struct.unpack_from("!i", data, pos)
        pos += 4
        if length < 0:
            values.append(None)
            continue
        item = decoder(data[pos : pos + length])
        values.append(json.loads(item) if elem_oid in (JSON, JSONB) else _storage_json(item))
        pos += length
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- codec tables

Encoder = Callable[[Any], bytes]
Decoder = Callable[[bytes], Any]


def _enc_text_default(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, float):
        return format_float(value).encode()
    return str(value).encode()


def _enc_bool(value: Any) -> bytes:
    if isinstance(value, str):
        return b"t" if parse_bool(value) else b"f"
    return b"t" if value else b"f"


def _enc_int(value: Any) -> bytes:
    if type(value) is int:
        return b"%d" % value
    if isinstance(value, float):
        return b"%d" % round(value)
    return str(value).encode()


def _regtype_oid(value: Any) -> int:
    """A regtype storage value: an OID, or a type name (pg_typeof() yields the name)."""
    if isinstance(value, str) and not value.isdigit():
        return _OID_BY_DISPLAY.get(value, TYPE_NAMES.get(value, 0))
    return int(value)


def _enc_regtype(value: Any) -> bytes:
    """regtypeout prints the type's name, not its OID."""
    if isinstance(value, str) and not value.isdigit():
        return value.encode()
    return regtype_name(int(value)).encode()


def regtype_name(oid: int) -> str:
    """regtypeout of a built-in type: its SQL name (bpchar is "character", not "bpchar")."""
    if oid == BPCHAR:
        return "character"
    if oid == UNKNOWN:
        return "unknown"
    return format_type(oid) if oid in TYPES else str(oid)


def _enc_record(value: Any) -> bytes:
    """record_out: "(1,a,,"x y")"; Strata keeps a row() value as a JSON object of its fields."""
    text = value if isinstance(value, str) else str(value)
    if not text.startswith("{"):
        return text.encode()
    fields = []
    for item in json.loads(text, parse_float=Decimal).values():
        if item is None:
            fields.append("")
            continue
        if isinstance(item, bool):
            field = "t" if item else "f"
        elif isinstance(item, (dict, list)):
            field = json.dumps(item, ensure_ascii=False)
        else:
            field = str(item)
        if field == "" or any(ch in field for ch in '(),"\\ \t\n'):
            field = '"' + field.replace("\\", "\\\\").replace('"', '""') + '"'
        fields.append(field)
    return ("(" + ",".join(fields) + ")").encode()


def _enc_record_bin(value: Any) -> bytes:
    """record_send: field count, then each field's type OID and binary value. A stored row()
    keeps its fields' values, not their types: integers go as int4/int8, decimals as numeric,
    booleans as bool, JSON objects and arrays as jsonb, everything else as text."""
    text = value if isinstance(value, str) else str(value)
    if not text.startswith("{"):
        raise SqlError("0A000", "binary output of this record is not supported")
    items = list(json.loads(text, parse_float=Decimal).values())
    out = [struct.pack("!i", len(items))]
    for item in items:
        if item is None:
            out.append(struct.pack("!Ii", TEXT, -1))
            continue
        if isinstance(item, bool):
            oid = BOOL
        elif isinstance(item, int):
            oid = INT4 if -(2**31) <= item < 2**31 else INT8
        elif isinstance(item, Decimal):
            oid = NUMERIC
        elif isinstance(item, (dict, list)):
            oid, item = JSONB, _jsonb_dump(item)
        else:
            oid = TEXT
        data = _BINARY_ENCODERS[oid](item)
        out.append(struct.pack("!Ii", oid, len(data)) + data)
    return b"".join(out)


def _enc_float8(value: Any) -> bytes:
    return format_float(float(value)).encode()


def _enc_float4(value: Any) -> bytes:
    return format_float(float(value), single=True).encode()


def _enc_bytea(value: Any) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    return b"\\x" + value.hex().encode()


def _array_text_encoder(elem_oid: int) -> Encoder:
    return lambda value: format_array(elem_oid, value).encode()


def format_lsn(value: int) -> str:
    """pg_lsn output: the high and low 32 bits in upper-case hex (``16/B374D848``)."""
    lsn = int(value)
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


_LSN_RE = re.compile(r"([0-9a-fA-F]{1,8})/([0-9a-fA-F]{1,8})")


def parse_lsn(text: str) -> int:
    """pg_lsn input (pg_lsn_in): two hex numbers of at most 8 digits around a slash."""
    m = _LSN_RE.fullmatch(text)
    if m is None:
        raise invalid_input(PG_LSN, text)
    lsn = (int(m.group(1), 16) << 32) | int(m.group(2), 16)
    if lsn >= 1 << 63:  # stored as a SQLite (signed) integer; no real log gets this long
        raise out_of_range(PG_LSN, text)
    return lsn


_TEXT_ENCODERS: dict[int, Encoder] = {
    RECORD: _enc_record,
    PG_LSN: lambda v: format_lsn(v).encode(),
    BOOL: _enc_bool,
    INT2: _enc_int,
    INT4: _enc_int,
    INT8: _enc_int,
    OID: _enc_int,
    XID: _enc_int,
    REGCLASS: _enc_int,
    REGTYPE: _enc_regtype,
    REGPROC: _enc_int,
    FLOAT4: _enc_float4,
    FLOAT8: _enc_float8,
    NUMERIC: _enc_numeric,
    BYTEA: _enc_bytea,
}
for _arr, _elem in ELEMENT_OF.items():
    _TEXT_ENCODERS[_arr] = _array_text_encoder(_elem)
for _vec in VECTORS:
    _TEXT_ENCODERS[_vec] = lambda value: " ".join(str(v) for v in array_values(value)).encode()


def _pack(fmt: str) -> Encoder:
    packer = struct.Struct(fmt).pack
    return lambda value: packer(value)


def _enc_bin_str(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else _enc_text_default(value)


def _enc_bin_bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _enc_bin_uuid(value: Any) -> bytes:
    return _uuid.UUID(value).bytes


def _enc_bin_interval(value: Any) -> bytes:
    months, days, micros = interval_parts(value)
    return struct.pack("!qii", micros, days, months)


def _array_binary_encoder(elem_oid: int) -> Encoder:
    return lambda value: _array_binary(elem_oid, value)


_pack_q = struct.Struct("!q").pack
_pack_i = struct.Struct("!i").pack
_pack_h = struct.Struct("!h").pack
_pack_d = struct.Struct("!d").pack
_pack_f = struct.Struct("!f").pack
_pack_I = struct.Struct("!I").pack

_BINARY_ENCODERS: dict[int, Encoder] = {
    RECORD: _enc_record_bin,
    BOOL: lambda v: b"\x01" if v else b"\x00",
    INT2: lambda v: _pack_h(int(v)),
    INT4: lambda v: _pack_i(int(v)),
    INT8: lambda v: _pack_q(int(v)),
    PG_LSN: lambda v: _pack_q(int(v)),
    OID: lambda v: _pack_I(int(v)),
    XID: lambda v: _pack_I(int(v)),
    REGCLASS: lambda v: _pack_I(int(v)),
    REGTYPE: lambda v: _pack_I(_regtype_oid(v)),
    REGPROC: lambda v: _pack_I(int(v)),
    FLOAT4: lambda v: _pack_float4(float(v)),
    FLOAT8: lambda v: _pack_d(float(v)),
    NUMERIC: _numeric_binary,
    BYTEA: _enc_bin_bytes,
    TEXT: _enc_bin_str,
    VARCHAR: _enc_bin_str,
    BPCHAR: _enc_bin_str,
    NAME: _enc_bin_str,
    CHAR: lambda v: _enc_bin_str(v) or b"\x00",  # charsend: the empty "char" is one zero byte
    JSON: _enc_bin_str,
    JSONB: lambda v: b"\x01" + _enc_bin_str(v),
    DATE: _enc_date_bin,
    TIME: lambda v: _pack_q(_time_micros(v)),
    TIMETZ: _enc_timetz_bin,
    TIMESTAMP: _enc_timestamp_bin,
    TIMESTAMPTZ: _enc_timestamptz_bin,
    INTERVAL: _enc_bin_interval,
    UUID: _enc_bin_uuid,
}
for _arr, _elem in ELEMENT_OF.items():
    _BINARY_ENCODERS[_arr] = _array_binary_encoder(_elem)
for _vec in VECTORS:
    _BINARY_ENCODERS[_vec] = functools.partial(_vector_binary, ELEMENT_OF[_vec])


def _dec_text(data: bytes | str) -> str:
    return _as_str(data)


def _wrap(fn: Callable[[str], Any]) -> Decoder:
    return lambda data: fn(_as_str(data))


def _int_decoder(oid: int) -> Decoder:
    return lambda data: parse_int(oid, _as_str(data))


def _float_storage(value: float) -> float | str:
    """SQLite stores a NaN double as NULL, so a float NaN is kept as the TEXT 'NaN'."""
    return "NaN" if value != value else value


def _float_decoder(oid: int) -> Decoder:
    return lambda data: _float_storage(parse_float(oid, _as_str(data)))


def _array_text_decoder(elem_oid: int) -> Decoder:
    return lambda data: parse_array(elem_oid, _as_str(data))


def _dec_char(data: bytes) -> str:
    text = _as_str(data)
    return text[:1]


def _dec_oidlike(data: bytes) -> int:
    text = _as_str(data)
    return parse_int(OID, text)


def _dec_regclass(data: bytes) -> int | str:
    """A regclass parameter may be a relation name: the query resolves it (``pg_regclass``)."""
    text = _as_str(data).strip()
    return parse_int(OID, text) if text.isdigit() else text


_TEXT_DECODERS: dict[int, Decoder] = {
    BOOL: _wrap(parse_bool),
    INT2: _int_decoder(INT2),
    INT4: _int_decoder(INT4),
    INT8: _int_decoder(INT8),
    OID: _dec_oidlike,
    XID: _dec_oidlike,
    REGCLASS: _dec_regclass,
    REGTYPE: _dec_oidlike,
    FLOAT4: _float_decoder(FLOAT4),
    FLOAT8: _float_decoder(FLOAT8),
    NUMERIC: _wrap(parse_numeric),
    BYTEA: _wrap(parse_bytea),
    TEXT: _dec_text,
    VARCHAR: _dec_text,
    BPCHAR: _dec_text,
    NAME: _dec_text,
    CHAR: _dec_char,
    UNKNOWN: _dec_text,
    JSON: _wrap(parse_json),
    JSONB: _wrap(parse_jsonb),
    DATE: _wrap(parse_date),
    TIME: _wrap(parse_time),
    TIMESTAMP: _wrap(parse_timestamp),
    TIMESTAMPTZ: _wrap(parse_timestamptz),
    INTERVAL: _wrap(parse_interval),
    UUID: _wrap(parse_uuid),
    PG_LSN: _wrap(parse_lsn),
}
for _arr, _elem in ELEMENT_OF.items():
    _TEXT_DECODERS[_arr] = _array_text_decoder(_elem)
for _vec in VECTORS:
    _TEXT_DECODERS[_vec] = _vector_text_decoder


def _unpack(fmt: str) -> Callable[[bytes], Any]:
    unpacker = struct.Struct(fmt).unpack

    def decode(data: bytes) -> Any:
        try:
            return unpacker(data)[0]
        except struct.error:
            raise SqlError("08P01", "incorrect binary data format in bind parameter") from None

    return decode


def _dec_bin_interval(data: bytes) -> str:
    micros, days, months = struct.unpack("!qii", data)
    return format_interval(months, days, micros)


def _array_binary_decoder(elem_oid: int) -> Decoder:
    return lambda data: _array_from_binary(elem_oid, data)


def _dec_bin_bool(data: bytes) -> int:
    return 1 if data[:1] != b"\x00" else 0


def _dec_bin_jsonb(data: bytes) -> str:
    return parse_jsonb(_as_str(data[1:]))


def _dec_bin_uuid(data: bytes) -> str:
    return str(_uuid.UUID(bytes=bytes(data)))


def _dec_bin_float4(data: bytes) -> float | str:
    (value,) = struct.unpack("!f", data)
    return _float_storage(float(value))


def _dec_bin_float8(data: bytes) -> float | str:
    (value,) = struct.unpack("!d", data)
    return _float_storage(value)


_BINARY_DECODERS: dict[int, Decoder] = {
    BOOL: _dec_bin_bool,
    INT2: _unpack("!h"),
    INT4: _unpack("!i"),
    INT8: _unpack("!q"),
    PG_LSN: _unpack("!q"),
    OID: _unpack("!I"),
    XID: _unpack("!I"),
    REGCLASS: _unpack("!I"),
    REGTYPE: _unpack("!I"),
    FLOAT4: _dec_bin_float4,
    FLOAT8: _dec_bin_float8,
    NUMERIC: _numeric_from_binary,
    BYTEA: bytes,
    TEXT: _dec_text,
    VARCHAR: _dec_text,
    BPCHAR: _dec_text,
    NAME: _dec_text,
    CHAR: _dec_text,
    UNKNOWN: _dec_text,
    JSON: _wrap(parse_json),
    JSONB: _dec_bin_jsonb,
    DATE: _dec_date_bin,
    TIME: _dec_time_bin,
    TIMETZ: _dec_timetz_bin,
    TIMESTAMP: _dec_timestamp_bin,
    TIMESTAMPTZ: _dec_timestamptz_bin,
    INTERVAL: _dec_bin_interval,
    UUID: _dec_bin_uuid,
}
for _arr, _elem in ELEMENT_OF.items():
    _BINARY_DECODERS[_arr] = _array_binary_decoder(_elem)


# --------------------------------------------------------------------------- public API


FIRST_USER_OID = 16384  # OIDs from here on are user-defined types (enums), stored as their label text


def text_encoder(oid: int) -> Encoder:
    """The text-format encoder for ``oid``; sessions fetch it once per result column."""
    return _TEXT_ENCODERS.get(oid, _enc_text_default)


def binary_encoder(oid: int) -> Encoder:
    return _BINARY_ENCODERS.get(oid, _enc_bin_str)


def has_binary(oid: int) -> bool:
    """Whether we can send/receive ``oid`` in binary format."""
    return oid in _BINARY_ENCODERS or oid >= FIRST_USER_OID


def user_array_encoder(elem_oid: int, binary: bool) -> Encoder:
    """Arrays of an enum type: elements are labels (text); the binary header names the enum."""
    if binary:
        return lambda value: _array_binary(elem_oid, value)
    return lambda value: format_array(elem_oid, value).encode()


def encode_text(oid: int, value: Any) -> bytes:
    """Storage value -> PostgreSQL text format bytes (value is never None)."""
    return _TEXT_ENCODERS.get(oid, _enc_text_default)(value)


def encode_binary(oid: int, value: Any) -> bytes:
    """Storage value -> PostgreSQL binary format bytes."""
    encoder = _BINARY_ENCODERS.get(oid)
    if encoder is None and oid >= FIRST_USER_OID:
        encoder = _enc_bin_str  # enum types: the binary form is the label
    if encoder is None:
        raise SqlError("0A000", f"binary output of type {type_name(oid)} is not supported")
    try:
        return encoder(value)
    except (ValueError, TypeError, struct.error) as exc:
        raise SqlError("22P02", f"cannot encode value for type {type_name(oid)}: {exc}") from None


def decode_text(oid: int, data: bytes | str, tz: str = "UTC") -> Any:
    """PostgreSQL text format -> storage value; ``tz`` is the session TimeZone (timestamptz)."""
    if oid == TIMESTAMPTZ:
        return parse_timestamptz(_as_str(data), tz)
    if oid == TIMETZ:
        return parse_timetz(_as_str(data), tz)
    decoder = _TEXT_DECODERS.get(oid)
    if decoder is None:
        return _as_str(data)
    return decoder(data)  # type: ignore[arg-type]


def decode_binary(oid: int, data: bytes) -> Any:
    """PostgreSQL binary format -> storage value."""
    decoder = _BINARY_DECODERS.get(oid)
    if decoder is None and oid >= FIRST_USER_OID:
        if b"\x00" in data:  # an array of an enum (labels never contain NUL): array storage
            return _array_from_binary(TEXT, data)
        return _as_str(data)  # enum types: the binary form is the label
    if decoder is None:
        raise SqlError("0A000", f"binary input of type {type_name(oid)} is not supported")
    try:
        return decoder(data)
    except struct.error:
        raise SqlError("22P03", f"incorrect binary data format for type {type_name(oid)}") from None


def storage_to_python(oid: int, value: Any) -> Any:
    """Convenience for tests and UDFs: a storage value as a natural Python object."""
    if value is None:
        return None
    if oid == BOOL:
        return bool(value)
    if oid == NUMERIC:
        return to_decimal(value)
    if oid == DATE:
        return _dt.date.fromisoformat(value)
    if oid == TIMESTAMP:
        return timestamp_from_storage(value)
    if oid == TIMESTAMPTZ:
        return timestamptz_from_storage(value)
    if oid in ELEMENT_OF:
        return array_values(value)
    return value
