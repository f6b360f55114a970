"""Scalar types between wire text and storage: bool, integers, floats, numeric (text and
binary), uuid, json/jsonb, bytea, pg_lsn; and the input errors all types raise."""

from __future__ import annotations

import json
import math
import re
import struct
import uuid as _uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from compute.pgtypes.oids import (
    BOOL,
    FLOAT4,
    FLOAT8,
    INT2,
    INT4,
    INT8,
    NUMERIC,
    OID,
    PG_LSN,
    UUID,
    type_name,
)
from compute.sqlstate import SqlError

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


def err_name(oid: int) -> str:
    return _TYPE_ERROR_NAMES.get(oid) or type_name(oid)


def invalid_input(oid: int, text: str) -> SqlError:
    return SqlError("22P02", f'invalid input syntax for type {err_name(oid)}: "{text}"')


def out_of_range(oid: int, text: str) -> SqlError:
    return SqlError("22003", f'value "{text}" is out of range for type {err_name(oid)}')


def as_str(data: bytes | str) -> str:
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
        raise SqlError("22003", f"{err_name(oid)} out of range")
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


def pack_float4(value: float) -> bytes:
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
    return float(struct.unpack("!f", pack_float4(value))[0])


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
        value = struct.unpack("!f", pack_float4(value))[0]
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
        packed = pack_float4(value)
        for precision in range(1, 10):
            text = f"{abs(value):.{precision - 1}e}"
            if abs(float(text)) >= _FLOAT4_ROUNDS_TO_MAX:
                continue
            if pack_float4(float(text)) == packed or pack_float4(-float(text)) == packed:
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


def enc_numeric(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int):
        return b"%d" % value
    return numeric_to_str(to_decimal(value)).encode()


def numeric_binary(value: Any) -> bytes:
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


def numeric_from_binary(data: bytes) -> str:
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


def jsonb_dump(value: Any) -> str:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(json.dumps(k, ensure_ascii=False) + ": " + jsonb_dump(value[k]) for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(jsonb_dump(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def parse_jsonb(text: str) -> str:
    """jsonb_in then jsonb_out: keys sorted (by length, then bytes), duplicates last-wins."""
    try:
        value = json.loads(text, parse_float=Decimal)
    except ValueError:
        raise SqlError("22P02", "invalid input syntax for type json") from None
    return jsonb_dump(value)


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


# --------------------------------------------------------------------------- pg_lsn

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
