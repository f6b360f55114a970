"""Casts and typmods at run time: pg_cast (one value from one type to another) and pg_typmod."""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from compute import pgtypes as T
from compute.pgtypes import network as netcodec
from compute.sql.api import SqlError
from compute.sql.functions import bits, network
from compute.sql.functions import datetime_wide as wide
from compute.sql.functions import range as ranges
from compute.sql.functions.common import scalar_registrar
from compute.sql.functions.datetime import tstz_out, tstz_to_ts, utc_text
from compute.sql.functions.math import float_out, float_to_float4
from compute.sql.functions.numeric import num_out
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler
from compute.sql.types import TYPMOD_ELEMENTS, Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


# ------------------------------------------------------------------------------ casts


def _to_int(value: Any, oid: int) -> int:
    if isinstance(value, int):
        return T.check_int_range(oid, value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise SqlError("22003", f"{T._err_name(oid)} out of range")
        return T.check_int_range(oid, int(round(value)))  # rint: half to even
    if isinstance(value, str):
        try:
            return T.parse_int(oid, value)
        except SqlError:
            pass
        dec = Decimal(value) if T._NUMERIC_RE.match(value) else None
        if dec is None:
            raise T.invalid_input(oid, value) from None
        return T.check_int_range(oid, int(dec.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    raise T.invalid_input(oid, str(value))


def make_cast(ctx: SessionContext) -> Callable[..., Any]:
    """pg_cast(value, source_oid, target_oid, typmod): explicit-cast semantics in one place."""

    def cast(value: Any, src: int, dst: int, typmod: int = -1) -> Any:
        if value is None:
            return None
        if dst in (T.BIT, T.VARBIT) and src in (T.INT4, T.INT8, T.INT2):
            return int_to_bits(int(value), typmod if typmod >= 0 else 1)
        result = _cast_value(ctx, value, src, dst)
        if typmod >= 0:
            result = apply_typmod(result, dst, typmod, explicit=True)
        return result

    return cast


def int_to_bits(value: int, length: int) -> str:
    """int4/int8 -> bit(n): the rightmost n bits (the sign extends them past the integer's width)."""
    return format(value & ((1 << length) - 1), f"0{length}b")


def bits_to_int(bits: str, oid: int) -> int:
    """bit -> int4/int8: the bits as a two's complement integer; 22003 when they do not fit."""
    width = 64 if oid == T.INT8 else 32
    if len(bits) > width:
        raise SqlError("22003", f"{'bigint' if oid == T.INT8 else 'integer'} out of range")
    value = int(bits, 2) if bits else 0
    return value - (1 << width) if len(bits) == width and bits[0] == "1" else value


_TEXTS = (T.TEXT, T.VARCHAR, T.BPCHAR, T.NAME)


def _cast_value(ctx: SessionContext, value: Any, src: int, dst: int) -> Any:
    if src != dst and (src in T.RANGE_TYPES or dst in T.RANGE_TYPES) and not (src in _TEXTS or dst in _TEXTS):
        raise SqlError("42846", f"cannot cast type {T.format_type(src)} to {T.format_type(dst)}")
    if src in (T.BIT, T.VARBIT) and dst in (T.INT4, T.INT8):
        return bits_to_int(value, dst)
    if dst in (T.INT2, T.INT4, T.INT8, T.OID):
        if src == T.BOOL:
            return 1 if value else 0
        if src == T.NUMERIC or (isinstance(value, str) and src not in T.STRING_TYPES):
            return _to_int(T.to_decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP).__int__(), dst)
        return _to_int(value, dst)
    if dst in (T.FLOAT4, T.FLOAT8):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            number = T.parse_float(dst, str(value))
        if dst == T.FLOAT4:
            return float_to_float4(number)
        return float_out(number)
    if dst == T.NUMERIC:
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if math.isnan(value):
                return "NaN"
            if math.isinf(value):
                return "Infinity" if value > 0 else "-Infinity"
            return num_out(Decimal(T.format_float(value)) if "e" not in T.format_float(value) else Decimal(repr(value)))
        return T.parse_numeric(str(value))
    if dst == T.BOOL:
        if isinstance(value, int):
            return 1 if value else 0
        return T.parse_bool(str(value))
    if src in (T.INET, T.CIDR) and dst in (T.TEXT, T.VARCHAR, T.BPCHAR, T.NAME):
        return netcodec.show(netcodec.from_key(value))  # text(inet) always writes the mask
    if src == T.INET and dst == T.CIDR:
        net = netcodec.from_key(value)
        return netcodec.key(netcodec.Net(net.family, net.network, net.bits))
    if src == T.CIDR and dst == T.INET:
        return value
    if dst in (T.TEXT, T.VARCHAR, T.BPCHAR, T.NAME):
        if src == T.BOOL:
            return "true" if value else "false"
        if src in _STYLED and T.session_styled(ctx.settings):
            return _styled_out(ctx, value, src)
        if src == T.TIMESTAMPTZ:
            return tstz_out(ctx, value)
        if isinstance(value, bytes) and src == T.BYTEA:
            return "\\x" + value.hex()
        return T.encode_text(src, value).decode()
    if dst in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE):
        return _to_datetime(ctx, value, src, dst)
    if dst == T.TIME:
        if src in (T.TIMESTAMP, T.TIMESTAMPTZ):
            text = tstz_to_ts(ctx, value) if src == T.TIMESTAMPTZ else value
            return text.partition(" ")[2]
        return T.parse_time(str(value))
    if dst == T.BYTEA:
        if isinstance(value, bytes):
            return value
        return T.parse_bytea(str(value))
    if dst == T.JSONB:
        return T.parse_jsonb(value if isinstance(value, str) else json.dumps(value))
    if dst == T.JSON:
        return T.parse_json(value if isinstance(value, str) else json.dumps(value))
    if src in (T.JSON, T.JSONB) and isinstance(value, str):
        return T.decode_text(dst, value.encode())
    if src in T.ELEMENT_OF and dst in T.ELEMENT_OF and isinstance(value, str):
        # array to array: element by element (arrays are stored as JSON arrays)
        src_elem, dst_elem = T.ELEMENT_OF[src], T.ELEMENT_OF[dst]

        def convert(item: Any) -> Any:
            if isinstance(item, list):
                return [convert(x) for x in item]
            if item is None:
                return None
            scalar = T.array_elem_value(src_elem, item)
            return T.array_elem_storage(dst_elem, _cast_value(ctx, scalar, src_elem, dst_elem))

        exact = Decimal if src_elem in (T.JSON, T.JSONB) and dst_elem not in (T.JSON, T.JSONB) else float
        return json.dumps(convert(json.loads(value, parse_float=exact)), ensure_ascii=False)
    text = value if isinstance(value, str) else T.encode_text(src, value).decode()
    return _from_text(ctx, dst, text)


def _to_datetime(ctx: SessionContext, value: Any, src: int, dst: int) -> Any:
    """A cast to date, timestamp or timestamptz (any year: see compute.pgtypes.widedates)."""
    if dst == T.TIMESTAMP:
        if src == T.TIMESTAMPTZ:
            return tstz_to_ts(ctx, value)
        if src == T.DATE:
            if value[:1] in T.WIDE_MARKS:
                return wide.to_timestamp_of_date(value)
            return value if value.endswith("infinity") else value + " 00:00:00"
        return T.parse_timestamp(str(value), _order(ctx))
    if dst == T.TIMESTAMPTZ:
        if src == T.TIMESTAMPTZ:
            return value
        if src in (T.DATE, T.TIMESTAMP) and value[:1] in T.WIDE_MARKS:
            return wide.to_timestamptz(value, src, T.get_zone(ctx.timezone))
        if src == T.DATE:
            return T.parse_timestamptz(value + " 00:00:00", ctx.timezone)
        return T.parse_timestamptz(str(value), ctx.timezone, _order(ctx))
    if src == T.TIMESTAMPTZ:  # to date
        return tstz_to_ts(ctx, value).partition(" ")[0]
    if src == T.TIMESTAMP:
        return value.partition(" ")[0]
    return T.parse_date(str(value), _order(ctx))


def _from_text(ctx: SessionContext, dst: int, text: str) -> Any:
    """Text input of ``dst`` in the session's TimeZone, DateStyle order and IntervalStyle."""
    if dst == T.INTERVAL and ctx.settings.get("intervalstyle") == "sql_standard":
        return T.parse_interval(text, sql_standard=True)  # a leading minus may negate every field
    return T.decode_text(dst, text.encode(), ctx.timezone, _order(ctx))


_STYLED = frozenset({T.DATE, T.TIMESTAMP, T.TIMESTAMPTZ, T.INTERVAL, T.DATE_ARRAY, T.TIMESTAMP_ARRAY,
                     T.TIMESTAMPTZ_ARRAY, T.INTERVAL_ARRAY})


def _order(ctx: SessionContext) -> str:
    """DateStyle's field order for date input (MDY unless the session set another)."""
    datestyle = ctx.settings.get("datestyle")
    return "MDY" if datestyle is None else T.date_order(datestyle)


def _styled_out(ctx: SessionContext, value: Any, src: int) -> str:
    """A date/time/interval cast to text in a session with a non-ISO DateStyle or IntervalStyle."""
    if src == T.TIMESTAMPTZ:
        value = tstz_out(ctx, value)
    settings = ctx.settings
    encoder = T.styled_encoder(src, settings.get("datestyle", "ISO, MDY"),
                               settings.get("intervalstyle", "postgres"), ctx.timezone)
    return (encoder(value) if encoder is not None else T.encode_text(src, value)).decode()


def apply_typmod(value: Any, oid: int, typmod: int, explicit: bool = False) -> Any:
    """Length/precision coercion: char(n) padding, varchar(n) checks, numeric(p,s) rounding."""
    if value is None or typmod < 0:
        return value
    elem = T.ELEMENT_OF.get(oid)
    if elem is not None:
        return _apply_element_typmod(value, elem, typmod, explicit)
    if oid == T.BPCHAR:
        length = typmod - 4
        text = value if isinstance(value, str) else str(value)
        if len(text) > length:
            if explicit or not text[length:].strip(" "):
                return text[:length]
            raise SqlError("22001", f"value too long for type character({length})")
        return text.ljust(length)
    if oid == T.VARCHAR:
        length = typmod - 4
        text = value if isinstance(value, str) else str(value)
        if len(text) > length:
            if explicit or not text[length:].strip(" "):
                return text[:length]
            raise SqlError("22001", f"value too long for type character varying({length})")
        return text
    if oid == T.NUMERIC:
        mod = typmod - 4
        return T.apply_numeric_typmod(value, (mod >> 16) & 0xFFFF, mod & 0xFFFF)
    if oid == T.BIT and len(value) != typmod:
        if not explicit:
            raise SqlError("22026", f"bit string length {len(value)} does not match type bit({typmod})")
        return value[:typmod].ljust(typmod, "0")
    if oid == T.VARBIT and len(value) > typmod:
        if not explicit:
            raise SqlError("22001", f"bit string too long for type bit varying({typmod})")
        return value[:typmod]
    if oid in (T.TIMESTAMP, T.TIMESTAMPTZ, T.TIME) and 0 <= typmod < 6:
        return _round_time_precision(value, oid, typmod)
    return value


def _apply_element_typmod(value: Any, elem: int, typmod: int, explicit: bool) -> Any:
    """An array's typmod is its elements' (char(3)[] pads each element): applied per element,
    at any depth; NULL elements stay NULL. Arrays are stored as JSON text."""
    if elem not in TYPMOD_ELEMENTS or not isinstance(value, str):
        return value

    def one(item: Any) -> Any:
        if isinstance(item, list):
            return [one(x) for x in item]
        if item is None:
            return None
        scalar = apply_typmod(T.array_elem_value(elem, item), elem, typmod, explicit)
        return T.array_elem_storage(elem, scalar)

    return json.dumps(one(json.loads(value, parse_float=Decimal)), separators=(",", ":"), ensure_ascii=False,
                      default=str)


_EPOCH_2000 = _dt.datetime(2000, 1, 1)


def _round_micros(micros: int, precision: int) -> int:
    """AdjustTimestampForTypmod: half away from zero, counted from PostgreSQL's 2000 epoch."""
    scale = 10 ** (6 - precision)
    if micros >= 0:
        return (micros + scale // 2) // scale * scale
    return -((-micros + scale // 2) // scale * scale)


def _round_time_precision(value: Any, oid: int, precision: int) -> Any:
    """timestamp(p) / timestamptz(p) / time(p): round the fraction to p digits."""
    text = str(value)
    if "." not in text or text.endswith("infinity"):
        return value
    if oid == T.TIME:
        clock = _dt.time.fromisoformat(text)
        micros = ((clock.hour * 60 + clock.minute) * 60 + clock.second) * 1_000_000 + clock.microsecond
        micros = _round_micros(micros, precision)
        if micros >= 86_400_000_000:
            return "24:00:00"
        return T.format_time((_dt.datetime(2000, 1, 1) + _dt.timedelta(microseconds=micros)).time())
    if oid == T.TIMESTAMPTZ:
        moment = T.timestamptz_from_storage(text).astimezone(_dt.UTC).replace(tzinfo=None)
    else:
        moment = T.timestamp_from_storage(text)
    delta = moment - _EPOCH_2000
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    rounded = _EPOCH_2000 + _dt.timedelta(microseconds=_round_micros(micros, precision))
    return utc_text(rounded.replace(tzinfo=_dt.UTC)) if oid == T.TIMESTAMPTZ else T.format_timestamp(rounded)


HANDLERS: dict[str, Handler] = {
}

# Functions whose bpchar arguments keep their blank padding: bpchar-specific ones (the length
# family, min/max) and those taking any type (they print the value with bpcharout). Every other
# function takes text, and the implicit bpchar -> text cast strips trailing blanks.
BPCHAR_PADDED_FUNCTIONS = frozenset({
    "length", "char_length", "character_length", "octet_length", "bit_length", "concat", "concat_ws",
    "format", "to_json", "to_jsonb", "json_build_array", "json_build_object", "jsonb_build_array",
    "jsonb_build_object", "array_agg", "max", "min", "count", "coalesce", "greatest", "least",
    "nullif", "pg_typeof", "array_append", "array_prepend", "array_position", "array_positions",
    "array_remove", "array_replace", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg",
    "mode", "first_value", "last_value", "lag", "lead", "nth_value", "num_nulls", "num_nonnulls",
    "pg_column_size", "row_to_json", "to_char",
})


# Argument types typed_call looks at (one set test per call decides whether it runs at all).
_KEYED_ARRAYS = frozenset(T.ARRAY_OF[oid] for oid in (T.INET, T.CIDR, *T.RANGE_TYPES))
TYPED_ARG_OIDS = frozenset({T.BPCHAR, T.INET, T.CIDR, T.BIT, T.VARBIT, *T.RANGE_TYPES, *_KEYED_ARRAYS})
# Functions that take arrays of inet / ranges without reading their elements as text.
_KEYED_ARRAY_FUNCTIONS = frozenset({
    "unnest", "array_length", "cardinality", "array_ndims", "array_dims", "array_lower", "array_upper",
    "array_append", "array_prepend", "array_cat", "array_remove", "array_replace", "array_position",
    "array_positions", "coalesce", "nullif", "pg_typeof", "count", "array_agg", "num_nulls", "num_nonnulls",
})
# Functions that take inet / bit values: their own families', and those taking any type.
_OWN_FUNCTIONS = {
    T.INET: frozenset(network.HANDLERS), T.CIDR: frozenset(network.HANDLERS),
    T.BIT: frozenset({*bits.HANDLERS, "length", "octet_length", "bit_length"}),
    T.VARBIT: frozenset({*bits.HANDLERS, "length", "octet_length", "bit_length"}),
    **{oid: frozenset(ranges.HANDLERS) | {"lower", "upper"} for oid in T.RANGE_TYPES},
}
_KEYED = (T.INET, T.CIDR, *T.RANGE_TYPES)  # stored as sort keys: printed for functions of any type
_ANY_TYPE_FUNCTIONS = frozenset(BPCHAR_PADDED_FUNCTIONS - {"length", "char_length", "character_length",
                                                           "octet_length", "bit_length", "to_char"})


# Functions taking any type that keep the stored value (the others print it: inet is stored as a key).
_STORED_VALUE_FUNCTIONS = frozenset({
    "count", "max", "min", "coalesce", "greatest", "least", "nullif", "pg_typeof", "array_agg",
    "array_append", "array_prepend", "array_position", "array_positions", "array_remove", "array_replace",
    "mode", "first_value", "last_value", "lag", "lead", "nth_value", "num_nulls", "num_nonnulls",
})


def typed_call(c: ExprCompiler, name: str, args: list[exp.Expression],
               types: list[Ty]) -> tuple[exp.Expression, Ty] | None:
    """A call with bpchar / inet / bit / range arguments: bpchar arguments of text functions are
    rtrimmed (the implicit bpchar -> text cast, in place); range functions and the length family on
    bit strings are translated here; functions of any type print inet and range values (stored as
    keys); other functions given such a value are 42883, as PostgreSQL has no cast to text for them."""
    if types and types[0].oid in T.RANGE_TYPES:
        out = ranges.call(c, name, args, types)
        if out is not None:
            return out
    for i, t in enumerate(types):
        if t.oid in _KEYED_ARRAYS:
            if name not in _KEYED_ARRAY_FUNCTIONS:  # they would read the elements' storage keys
                raise SqlError("0A000", f"{name}() on arrays of {T.format_type(T.ELEMENT_OF[t.oid])} is not supported")
            continue
        if t.oid == T.BPCHAR:
            if name not in BPCHAR_PADDED_FUNCTIONS:
                args[i] = exp.Anonymous(this="rtrim", expressions=[args[i], exp.Literal.string(" ")])
                types[i] = Ty(T.TEXT)
            continue
        if t.oid not in _OWN_FUNCTIONS or name in _OWN_FUNCTIONS[t.oid]:
            if t.oid in (T.BIT, T.VARBIT) and i == 0:
                return bits.call(c, name, args, types)
            continue
        comparable = t.oid in (T.INET, T.CIDR) or name not in ("max", "min")  # no max(bit), max(anyrange)
        if name in _ANY_TYPE_FUNCTIONS and comparable:
            if t.oid in _KEYED and name not in _STORED_VALUE_FUNCTIONS:
                args[i] = exp.Anonymous(this="pg_type_out", expressions=[args[i], exp.Literal.number(t.oid)])
                types[i] = Ty(T.TEXT)
            continue
        shown = ", ".join(T.format_type(x.oid) if x.oid != T.UNKNOWN else "unknown" for x in types)
        raise SqlError("42883", f"function {name}({shown}) does not exist",
                       hint="No function matches the given name and argument types. You might need "
                            "to add explicit type casts.")
    return None


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)

    # --- casts and typmods
    scalar("pg_cast", make_cast(ctx))
    scalar("pg_type_out", lambda v, oid: None if v is None else T.encode_text(oid, v).decode(), 2, True)
    scalar("pg_typmod", lambda v, oid, typmod: apply_typmod(v, oid, typmod), 3, True)
