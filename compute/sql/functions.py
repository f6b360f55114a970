"""SQLite user-defined functions, aggregates and collations that translations rely on.

``register_functions(conn, ctx)`` is called once per apsw connection. Reader connections are
pooled and shared between sessions, so nothing per-session is captured in a closure except the
``SessionContext`` object, which the session refreshes before each statement (transaction
start time, TimeZone, user, settings...).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import apsw

from compute import pgtypes as T
from compute import settings as guc
from compute.sql import to_char as _to_char
from compute.sql.api import SqlError
from compute.sql.catalog import SEQUENCES, TABLES
from compute.sql.enums import register_functions as register_enum_udfs
from compute.sql.math_functions import float_out, float_to_float4
from compute.sql.math_functions import register as register_math_udfs
from compute.sql.more_functions import register_udfs as register_more_udfs
from compute.sql.node_functions import register as register_node_udfs
from compute.sql.pg_catalog import install as install_catalog

SERVER_VERSION = guc.SERVER_VERSION
SERVER_VERSION_NUM = guc.SERVER_VERSION_NUM

# The session's defaults (compute/settings.py), spelled the way PostgreSQL spells them.
DEFAULT_SETTINGS: dict[str, str] = {
    **{guc.reported_name(name) or name: value for name, value in guc.DEFAULTS.items()},
    "search_path_schemas": "public",
}

# Setting names are case-insensitive in PostgreSQL; map lower-case to canonical spelling.
CANONICAL_SETTING = {name.lower(): name for name in DEFAULT_SETTINGS}


def canonical_setting_name(name: str) -> str:
    return CANONICAL_SETTING.get(name.lower(), name.lower())


@dataclass
class SessionContext:
    """Per-session state the UDFs read; the session updates it before each statement."""

    user: str = "postgres"
    database: str = "postgres"
    backend_pid: int = 0
    timezone: str = "UTC"
    txn_start: _dt.datetime | None = None  # aware; now()/CURRENT_TIMESTAMP
    statement_start: _dt.datetime | None = None  # aware; statement_timestamp()
    settings: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    sequence_values: dict[str, int] = field(default_factory=dict)  # currval()
    last_sequence_value: int | None = None  # lastval()
    # Sequence positions handed out by nextval/setval on this (writer) connection, kept outside
    # the transaction so a rollback does not hand the same value out again, as in PostgreSQL:
    # oid -> (last_value, is_called, PRAGMA schema_version when set). DDL invalidates them.
    sequence_positions: dict[int, tuple[int, bool, int]] = field(default_factory=dict)
    changed_settings: dict[str, tuple[str, bool]] = field(default_factory=dict)  # set_config()
    fk_state: Any = None  # compute.deferred.DeferredState of the transaction (deferred foreign keys)
    node: Any = None  # the engine's ConnectionFactory (compute.node contract), for node_functions
    guard: Callable[[], bool] | None = None  # true when the running statement must stop (pg_sleep polls it)

    def now(self) -> _dt.datetime:
        return self.txn_start or _dt.datetime.now(_dt.UTC)

    def start_statement(self, in_transaction: bool) -> None:
        """Convenience for the session: stamp statement (and, outside a txn, transaction) time."""
        now = _dt.datetime.now(_dt.UTC)
        self.statement_start = now
        if not in_transaction or self.txn_start is None:
            self.txn_start = now


def _utc_text(value: _dt.datetime) -> str:
    return T.format_timestamp(value.astimezone(_dt.UTC).replace(tzinfo=None)) + "+00"


def _raise(sqlstate: str, message: str, detail: str | None = None) -> None:
    raise SqlError(sqlstate, message, detail=detail)


# ------------------------------------------------------------------------------ numeric


def _dscale(value: Decimal) -> int:
    exp = value.as_tuple().exponent
    return max(-exp, 0) if isinstance(exp, int) else 0


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    return T.to_decimal(value)


def _simple_case(text: str, convert: Callable[[str], str]) -> str:
    """Character-by-character case mapping, as towupper/towlower do under C.UTF-8: a character
    whose full mapping is longer (ß -> SS) stays as it is."""
    converted = convert(text)
    if len(converted) == len(text):
        return converted
    out = []
    for ch in text:
        mapped = convert(ch)
        out.append(mapped if len(mapped) == 1 else ch)
    return "".join(out)


_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _month_days(year: int, month: int) -> int:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if month == 2 and leap else _DAYS_IN_MONTH[month - 1]


_MAX_SERIES = 10_000_000  # rows one generate_series() call may build in memory


def _timestamp_age(t1: _dt.datetime, t2: _dt.datetime) -> str:
    """age(t1, t2) as timestamp.c's timestamp_age: field-by-field differences, negative fields
    borrowed from the next larger one, a day borrow taking the earlier date's month length."""
    fields = [t1.year - t2.year, t1.month - t2.month, t1.day - t2.day, t1.hour - t2.hour,
              t1.minute - t2.minute, t1.second - t2.second, t1.microsecond - t2.microsecond]
    flip = t1 < t2
    if flip:
        fields = [-f for f in fields]
    year, month, day, hour, minute, second, micro = fields
    carry, micro = divmod(micro, 1_000_000)  # a negative field borrows from the next larger one
    carry, second = divmod(second + carry, 60)
    carry, minute = divmod(minute + carry, 60)
    carry, hour = divmod(hour + carry, 24)
    day += carry
    while day < 0:
        earlier = t1 if flip else t2
        day += _month_days(earlier.year, earlier.month)
        month -= 1
    while month < 0:
        month += 12
        year -= 1
    sign = -1 if flip else 1
    micros = ((hour * 60 + minute) * 60 + second) * 1_000_000 + micro
    return T.format_interval(sign * (year * 12 + month), sign * day, sign * micros)


def _num_out(value: Decimal) -> str:
    return T.numeric_to_str(value)


def _weight_first(value: Decimal) -> tuple[int, int]:
    """Base-10000 weight and first base-10000 digit, as numeric.c sees them."""
    if value.is_zero():
        return 0, 0
    mag = value.copy_abs()
    weight = mag.adjusted() // 4
    first = int(mag.scaleb(-4 * weight))
    return weight, first


def div_scale(a: Decimal, b: Decimal) -> int:
    """numeric.c select_div_scale(): at least 16 significant digits."""
    w1, f1 = _weight_first(a)
    w2, f2 = _weight_first(b)
    qweight = w1 - w2
    if f1 <= f2:
        qweight -= 1
    rscale = 16 - qweight * 4
    rscale = max(rscale, _dscale(a), _dscale(b), 0)
    return min(rscale, 1000)


def numeric_div(a: Decimal, b: Decimal) -> Decimal:
    if b.is_zero():
        raise SqlError("22012", "division by zero")
    scale = div_scale(a, b)
    with localcontext() as ctx:
        ctx.prec = max(a.adjusted() - b.adjusted(), 0) + scale + 10
        return (a / b).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


def _num_binary(op: Callable[[Decimal, Decimal], Decimal]) -> Callable[[Any, Any], str | None]:
    def fn(a: Any, b: Any) -> str | None:
        x, y = _dec(a), _dec(b)
        if x is None or y is None:
            return None
        with localcontext() as ctx:
            ctx.prec = 1000
            return _num_out(op(x, y))

    return fn


def _num_mod(a: Decimal, b: Decimal) -> Decimal:
    if b.is_zero():
        raise SqlError("22012", "division by zero")
    return a % b


class _NumericSum:
    """sum() over numeric/int8 values, exact (also a window function: value/inverse)."""

    def __init__(self) -> None:
        self.total = Decimal(0)
        self.count = 0

    def step(self, value: Any) -> None:
        if value is None:
            return
        with localcontext() as ctx:
            ctx.prec = 1000
            self.total += T.to_decimal(value)
        self.count += 1

    def inverse(self, value: Any) -> None:
        if value is None:
            return
        with localcontext() as ctx:
            ctx.prec = 1000
            self.total -= T.to_decimal(value)
        self.count -= 1

    def final(self) -> str | None:
        return None if not self.count else _num_out(self.total)

    value = final


class _NumericAvg(_NumericSum):
    """avg() of integers and numerics: numeric with PostgreSQL's division scale."""

    def final(self) -> str | None:
        if not self.count:
            return None
        return _num_out(numeric_div(self.total, Decimal(self.count)))

    value = final


class _IntSum:
    """sum(int2/int4): int8 result, error on int8 overflow like PostgreSQL."""

    def __init__(self) -> None:
        self.total = 0
        self.count = 0

    def step(self, value: Any) -> None:
        if value is None:
            return
        self.total += int(value)
        self.count += 1

    def inverse(self, value: Any) -> None:
        if value is None:
            return
        self.total -= int(value)
        self.count -= 1

    def final(self) -> int | None:
        if not self.count:
            return None
        if not -(2**63) <= self.total < 2**63:
            raise SqlError("22003", "bigint out of range")
        return self.total

    value = final


def _window_factory(cls: type) -> Callable[[], Any]:
    """apsw window-function factory: an object with step/inverse/value/final taking SQL args."""

    def factory() -> Any:
        return cls()

    return factory


def _numeric_collation(a: str, b: str) -> int:
    """Order TEXT-stored numerics by value (NaN sorts last, as in PostgreSQL)."""
    if a == b:
        return 0
    try:
        x, y = Decimal(a), Decimal(b)
    except ArithmeticError:
        return -1 if a < b else 1
    if x.is_nan() or y.is_nan():
        return (1 if x.is_nan() else 0) - (1 if y.is_nan() else 0)
    return -1 if x < y else (1 if x > y else 0)


def _numeric_round(value: Any, places: Any = 0) -> str | None:
    dec = _dec(value)
    if dec is None or places is None:
        return None
    if not dec.is_finite():
        return _num_out(dec)
    places = int(places)
    with localcontext() as ctx:
        ctx.prec = 1000
        rounded = dec.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return _num_out(rounded if places >= 0 else rounded.quantize(Decimal(1)))


def _numeric_trunc(value: Any, places: Any = 0) -> str | None:
    dec = _dec(value)
    if dec is None or places is None:
        return None
    with localcontext() as ctx:
        ctx.prec = 1000
        return _num_out(dec.quantize(Decimal(1).scaleb(-int(places)), rounding="ROUND_DOWN"))


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
        result = _cast_value(ctx, value, src, dst)
        if typmod >= 0:
            result = apply_typmod(result, dst, typmod, explicit=True)
        return result

    return cast


def _cast_value(ctx: SessionContext, value: Any, src: int, dst: int) -> Any:
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
            return _num_out(Decimal(T.format_float(value)) if "e" not in T.format_float(value) else Decimal(repr(value)))
        return T.parse_numeric(str(value))
    if dst == T.BOOL:
        if isinstance(value, int):
            return 1 if value else 0
        return T.parse_bool(str(value))
    if dst in (T.TEXT, T.VARCHAR, T.BPCHAR, T.NAME):
        if src == T.BOOL:
            return "true" if value else "false"
        if src == T.TIMESTAMPTZ:
            return _tstz_out(ctx, value)
        if isinstance(value, bytes) and src == T.BYTEA:
            return "\\x" + value.hex()
        return T.encode_text(src, value).decode()
    if dst == T.TIMESTAMP:
        if src == T.TIMESTAMPTZ:
            return _tstz_to_ts(ctx, value)
        if src == T.DATE:
            return value if value.endswith("infinity") else value + " 00:00:00"
        return T.parse_timestamp(str(value))
    if dst == T.TIMESTAMPTZ:
        if src == T.TIMESTAMPTZ:
            return value
        if src == T.DATE:
            return T.parse_timestamptz(value + " 00:00:00", ctx.timezone)
        return T.parse_timestamptz(str(value), ctx.timezone)
    if dst == T.DATE:
        if src == T.TIMESTAMPTZ:
            return _tstz_to_ts(ctx, value)[:10]
        if src == T.TIMESTAMP:
            return value[:10] if not value.endswith("infinity") else value
        return T.parse_date(str(value))
    if dst == T.TIME:
        if src in (T.TIMESTAMP, T.TIMESTAMPTZ):
            text = _tstz_to_ts(ctx, value) if src == T.TIMESTAMPTZ else value
            return text[11:]
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
    return T.decode_text(dst, text.encode(), ctx.timezone)


def apply_typmod(value: Any, oid: int, typmod: int, explicit: bool = False) -> Any:
    """Length/precision coercion: char(n) padding, varchar(n) checks, numeric(p,s) rounding."""
    if value is None or typmod < 0:
        return value
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
    if oid in (T.TIMESTAMP, T.TIMESTAMPTZ, T.TIME) and 0 <= typmod < 6:
        return _round_time_precision(value, oid, typmod)
    return value


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
    return _utc_text(rounded.replace(tzinfo=_dt.UTC)) if oid == T.TIMESTAMPTZ else T.format_timestamp(rounded)


# ------------------------------------------------------------------------------ time


def _tstz_out(ctx: SessionContext, value: Any) -> Any:
    if value is None or not isinstance(value, str) or value.endswith("infinity"):
        return value
    if ctx.timezone in ("UTC", "utc", "Etc/UTC") and value.endswith("+00"):
        return value
    return T.format_timestamptz(T.timestamptz_from_storage(value), ctx.timezone)


def _at_zone(name: str) -> _dt.tzinfo:
    """The zone of AT TIME ZONE / timezone(): numeric and UTC±N zones are POSIX-style, so
    '+05' and 'UTC+5' are five hours *west* of UTC, as in PostgreSQL."""
    posix = re.fullmatch(r"(?:UTC|GMT)?([+-]?)(\d{1,2})(?::(\d{2}))?", name.strip(), re.IGNORECASE)
    if posix:
        seconds = int(posix.group(2)) * 3600 + int(posix.group(3) or 0) * 60
        sign = -1 if posix.group(1) != "-" else 1
        return _dt.timezone(_dt.timedelta(seconds=sign * seconds))
    try:
        return T.get_zone(name)
    except SqlError:
        raise SqlError("22023", f'time zone "{name}" not recognized') from None


def at_time_zone(value: Any, zone: Any, src: int) -> Any:
    """timestamp AT TIME ZONE z -> timestamptz (the wall time read in z); timestamptz AT TIME
    ZONE z -> timestamp (the wall time in z)."""
    if value is None or zone is None:
        return None
    if isinstance(value, str) and value.endswith("infinity"):
        return value
    tz = _at_zone(str(zone))
    if src == T.TIMESTAMP:
        local = T.timestamp_from_storage(value).replace(tzinfo=tz)
        return _utc_text(local)
    moment = T.timestamptz_from_storage(value).astimezone(tz)
    return T.format_timestamp(moment.replace(tzinfo=None))


def _tstz_to_ts(ctx: SessionContext, value: Any) -> Any:
    if value is None or not isinstance(value, str) or value.endswith("infinity"):
        return value
    local = T.timestamptz_from_storage(value).astimezone(T.get_zone(ctx.timezone))
    return T.format_timestamp(local.replace(tzinfo=None))


def _ts_to_tstz(ctx: SessionContext, value: Any) -> Any:
    if value is None or not isinstance(value, str) or value.endswith("infinity"):
        return value
    return T.parse_timestamptz(value, ctx.timezone)


_TRUNC_FIELDS = ("microseconds", "milliseconds", "second", "minute", "hour", "day", "week", "month",
                 "quarter", "year", "decade", "century", "millennium")


def _truncate(value: _dt.datetime, unit: str) -> _dt.datetime:
    unit = unit.lower()
    if unit not in _TRUNC_FIELDS:
        raise SqlError("22023", f'unit "{unit}" not recognized for type timestamp without time zone')
    if unit == "microseconds":
        return value
    if unit == "milliseconds":
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    value = value.replace(microsecond=0)
    if unit == "second":
        return value
    value = value.replace(second=0)
    if unit == "minute":
        return value
    value = value.replace(minute=0)
    if unit == "hour":
        return value
    value = value.replace(hour=0)
    if unit == "day":
        return value
    if unit == "week":
        return value - _dt.timedelta(days=value.weekday())
    if unit == "month":
        return value.replace(day=1)
    if unit == "quarter":
        return value.replace(day=1, month=(value.month - 1) // 3 * 3 + 1)
    value = value.replace(day=1, month=1)
    if unit == "year":
        return value
    if unit == "decade":
        return value.replace(year=value.year // 10 * 10)
    if unit == "century":
        return value.replace(year=(value.year - 1) // 100 * 100 + 1)
    return value.replace(year=(value.year - 1) // 1000 * 1000 + 1)


def _extract(unit: str, value: _dt.datetime | _dt.date, epoch_base: _dt.datetime | None = None) -> str:
    unit = unit.lower()
    dt = value if isinstance(value, _dt.datetime) else _dt.datetime(value.year, value.month, value.day)
    if unit == "epoch":
        base = epoch_base or _dt.datetime(1970, 1, 1)
        delta = dt - base
        return _num_out(Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6))
    simple = {
        "year": dt.year, "month": dt.month, "day": dt.day, "hour": dt.hour, "minute": dt.minute,
        "dow": (dt.weekday() + 1) % 7, "isodow": dt.isoweekday(), "doy": dt.timetuple().tm_yday,
        "quarter": (dt.month - 1) // 3 + 1, "week": dt.isocalendar()[1], "isoyear": dt.isocalendar()[0],
        "decade": dt.year // 10, "century": (dt.year - 1) // 100 + 1, "millennium": (dt.year - 1) // 1000 + 1,
    }
    if unit in simple:
        return str(simple[unit])
    if unit == "second":
        return _num_out(Decimal(dt.second) + Decimal(dt.microsecond).scaleb(-6).quantize(Decimal("0.000001")))
    if unit == "milliseconds":
        return _num_out((Decimal(dt.second * 1_000_000 + dt.microsecond) / 1000).quantize(Decimal("0.001")))
    if unit == "microseconds":
        return str(dt.second * 1_000_000 + dt.microsecond)
    raise SqlError("22023", f'unit "{unit}" not recognized for type timestamp')


def _interval_add(ts: _dt.datetime, months: int, days: int, micros: int, sign: int = 1) -> _dt.datetime:
    if months:
        total = ts.year * 12 + (ts.month - 1) + sign * months
        year, month = divmod(total, 12)
        month += 1
        import calendar

        day = min(ts.day, calendar.monthrange(year, month)[1])
        ts = ts.replace(year=year, month=month, day=day)
    return ts + sign * _dt.timedelta(days=days, microseconds=micros)


# ------------------------------------------------------------------------------ registration


def register_functions(conn: Any, ctx: SessionContext) -> None:
    """Register every UDF, aggregate, collation and pg_catalog view on an apsw connection."""
    fn = conn.create_scalar_function
    det = {"deterministic": True}

    def scalar(name: str, func: Callable[..., Any], nargs: int = -1, deterministic: bool = False) -> None:
        if deterministic:
            fn(name, func, nargs, **det)
        else:
            fn(name, func, nargs)

    conn.create_collation("pgnumeric", _numeric_collation)

    # --- time
    scalar("pg_now", lambda: _utc_text(ctx.now()), 0)
    scalar("pg_statement_timestamp", lambda: _utc_text(ctx.statement_start or ctx.now()), 0)
    scalar("pg_clock_timestamp", lambda: _utc_text(_dt.datetime.now(_dt.UTC)), 0)
    scalar("pg_current_date", lambda: _tstz_to_ts(ctx, _utc_text(ctx.now()))[:10], 0)
    scalar("pg_localtimestamp", lambda: _tstz_to_ts(ctx, _utc_text(ctx.now())), 0)
    scalar("pg_current_time", lambda: _tstz_to_ts(ctx, _utc_text(ctx.now()))[11:], 0)
    scalar("pg_tstz_out", lambda v: _tstz_out(ctx, v), 1)
    scalar("pg_tstz_to_ts", lambda v: _tstz_to_ts(ctx, v), 1)
    scalar("pg_ts_to_tstz", lambda v: _ts_to_tstz(ctx, v), 1)

    def date_trunc(unit: str, value: Any, src: int = T.TIMESTAMP) -> Any:
        if value is None or unit is None:
            return None
        if src == T.TIMESTAMPTZ:
            local = T.timestamptz_from_storage(value).astimezone(T.get_zone(ctx.timezone))
            truncated = _truncate(local.replace(tzinfo=None), unit).replace(tzinfo=local.tzinfo)
            if isinstance(local.tzinfo, _dt.timezone):
                return _utc_text(truncated)
            return _utc_text(truncated.replace(tzinfo=T.get_zone(ctx.timezone)))
        return T.format_timestamp(_truncate(T.timestamp_from_storage(value), unit))

    scalar("pg_date_trunc", date_trunc)

    def extract(unit: str, value: Any, src: int = T.TIMESTAMP) -> Any:
        if value is None or unit is None:
            return None
        if src == T.TIMESTAMPTZ:
            aware = T.timestamptz_from_storage(value)
            if unit.lower() == "epoch":
                return _extract("epoch", aware.astimezone(_dt.UTC).replace(tzinfo=None))
            return _extract(unit, aware.astimezone(T.get_zone(ctx.timezone)).replace(tzinfo=None))
        if src == T.DATE:
            return _extract(unit, _dt.date.fromisoformat(value))
        if src == T.TIME:
            return _extract(unit, _dt.datetime.combine(_dt.date(1970, 1, 1), _dt.time.fromisoformat(value)))
        if src == T.INTERVAL:
            months, days, micros = T.interval_parts(value)
            unit_l = unit.lower()
            if unit_l == "epoch":
                total = Decimal(months // 12 * 365.25 * 86400 + months % 12 * 30 * 86400) + days * 86400
                return _num_out(total + Decimal(micros).scaleb(-6))
            mapping = {"year": months // 12, "month": months % 12, "day": days,
                       "hour": micros // 3_600_000_000, "minute": micros // 60_000_000 % 60}
            if unit_l in mapping:
                return str(mapping[unit_l])
            if unit_l == "second":
                return _num_out(Decimal(micros % 60_000_000).scaleb(-6).quantize(Decimal("0.000001")))
            raise SqlError("22023", f'unit "{unit}" not recognized for type interval')
        return _extract(unit, T.timestamp_from_storage(value))

    scalar("pg_extract", extract)

    def ts_add(value: Any, interval: Any, src: int, sign: int = 1) -> Any:
        if value is None or interval is None:
            return None
        months, days, micros = T.interval_parts(interval)
        if src == T.TIMESTAMPTZ:
            zone = T.get_zone(ctx.timezone)
            local = T.timestamptz_from_storage(value).astimezone(zone).replace(tzinfo=None)
            moved = _interval_add(local, months, days, micros, sign).replace(tzinfo=zone)
            return _utc_text(moved)
        if src == T.DATE:
            base = _dt.datetime.fromisoformat(value)
            return T.format_timestamp(_interval_add(base, months, days, micros, sign))
        if src == T.TIME:
            base = _dt.datetime.combine(_dt.date(2000, 1, 1), _dt.time.fromisoformat(value))
            return T.format_time(_interval_add(base, 0, 0, micros, sign).time())
        return T.format_timestamp(_interval_add(T.timestamp_from_storage(value), months, days, micros, sign))

    scalar("pg_ts_add", ts_add)

    def ts_diff(a: Any, b: Any, src: int) -> Any:
        if a is None or b is None:
            return None
        if src == T.TIMESTAMPTZ:
            delta = T.timestamptz_from_storage(a) - T.timestamptz_from_storage(b)
        else:
            delta = T.timestamp_from_storage(a) - T.timestamp_from_storage(b)
        return T.format_interval(0, delta.days, delta.seconds * 1_000_000 + delta.microseconds)

    scalar("pg_ts_diff", ts_diff)

    def date_add_days(value: Any, days: Any, sign: int = 1) -> Any:
        if value is None or days is None:
            return None
        return T.format_date(_dt.date.fromisoformat(value) + _dt.timedelta(days=sign * int(days)))

    scalar("pg_date_add", date_add_days)
    scalar("pg_date_diff", lambda a, b: None if a is None or b is None else
           (_dt.date.fromisoformat(a) - _dt.date.fromisoformat(b)).days, 2)

    def interval_op(a: Any, b: Any, sign: int = 1) -> Any:
        if a is None or b is None:
            return None
        x, y = T.interval_parts(a), T.interval_parts(b)
        return T.format_interval(x[0] + sign * y[0], x[1] + sign * y[1], x[2] + sign * y[2])

    scalar("pg_interval_add", interval_op)

    def interval_mul(a: Any, factor: Any) -> Any:
        if a is None or factor is None:
            return None
        months, days, micros = T.interval_parts(a)
        f = Decimal(str(factor))
        total_months = Decimal(months) * f
        whole_months = int(total_months)
        total_days = Decimal(days) * f + (total_months - whole_months) * 30
        whole_days = int(total_days)
        micro_total = Decimal(micros) * f + (total_days - whole_days) * 86_400_000_000
        return T.format_interval(whole_months, whole_days, int(micro_total.to_integral_value(ROUND_HALF_EVEN)))

    scalar("pg_interval_mul", interval_mul, 2)

    def age(a: Any, b: Any = None) -> Any:
        if a is None:
            return None
        end = T.timestamp_from_storage(a)
        start = T.timestamp_from_storage(b) if b is not None else T.timestamp_from_storage(
            _tstz_to_ts(ctx, _utc_text(ctx.now()))[:10] + " 00:00:00")
        if b is None:
            end, start = start, end
        return _timestamp_age(end, start)

    scalar("pg_age", age)

    scalar("pg_to_char", lambda value, fmt, src=T.TIMESTAMP: _to_char.to_char(value, fmt, src, ctx.timezone))
    scalar("pg_at_time_zone", at_time_zone, 3)

    # --- numeric
    scalar("pg_num_add", _num_binary(lambda a, b: a + b), 2, True)
    scalar("pg_num_sub", _num_binary(lambda a, b: a - b), 2, True)
    scalar("pg_num_mul", _num_binary(lambda a, b: a * b), 2, True)
    scalar("pg_num_div", _num_binary(numeric_div), 2, True)
    scalar("pg_num_mod", _num_binary(_num_mod), 2, True)
    scalar("pg_num_neg", lambda a: None if a is None else _num_out(-T.to_decimal(a)), 1, True)
    scalar("pg_num_abs", lambda a: None if a is None else _num_out(abs(T.to_decimal(a))), 1, True)
    scalar("pg_num_cmp", lambda a, b: None if a is None or b is None else
           _numeric_collation(_num_out(T.to_decimal(a)), _num_out(T.to_decimal(b))), 2, True)
    scalar("pg_round", _numeric_round, -1, True)
    scalar("pg_trunc", _numeric_trunc, -1, True)
    scalar("pg_num_floor", lambda a: None if a is None else _num_out(T.to_decimal(a).to_integral_value("ROUND_FLOOR")), 1, True)
    scalar("pg_num_ceil", lambda a: None if a is None else _num_out(T.to_decimal(a).to_integral_value("ROUND_CEILING")), 1, True)

    def int_div(a: Any, b: Any, oid: int = 0) -> Any:
        if a is None or b is None:
            return None
        if b == 0:
            raise SqlError("22012", "division by zero")
        if isinstance(a, float) or isinstance(b, float):
            return a / b
        q = abs(a) // abs(b)
        q = q if (a >= 0) == (b >= 0) else -q
        return T.check_int_range(oid or T.INT8, q)

    scalar("pg_div", int_div, -1, True)

    def int_mod(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        if b == 0:
            raise SqlError("22012", "division by zero")
        return int(math.fmod(a, b))

    scalar("pg_mod", int_mod, 2, True)

    def check_int(value: Any, oid: int) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise SqlError("22003", f"{T._err_name(oid)} out of range")
        return T.check_int_range(oid, value)

    scalar("pg_check_int", check_int, 2, True)

    def series_json(start: Any, stop: Any, step: Any = 1) -> Any:
        if start is None or stop is None or step is None:
            return "[]"
        if step == 0:
            raise SqlError("22023", "step size cannot equal zero")
        end = stop + (1 if step > 0 else -1)
        return json.dumps(list(range(int(start), int(end), int(step))))

    scalar("pg_series_json", series_json, -1, True)

    def moment(value: str, src: int) -> _dt.datetime:
        if src == T.TIMESTAMPTZ:
            return T.timestamptz_from_storage(value)
        return T.timestamp_from_storage(value)

    def ts_series_json(start: Any, stop: Any, step: Any, src: int) -> Any:
        """generate_series(timestamp[tz], timestamp[tz], interval): each value is the previous
        plus the step (month steps keep the day clamped as PostgreSQL's timestamp + interval)."""
        if start is None or stop is None or step is None:
            return "[]"
        if T.interval_parts(step) == (0, 0, 0):
            raise SqlError("22023", "step size cannot equal zero")
        rows: list[str] = []
        current, last = str(start), moment(str(stop), src)
        forward = moment(ts_add(current, step, src), src) > moment(current, src)
        while (moment(current, src) <= last) if forward else (moment(current, src) >= last):
            rows.append(current)
            if len(rows) > _MAX_SERIES:
                raise SqlError("54000", f"generate_series() would return more than {_MAX_SERIES} rows")
            current = ts_add(current, step, src)
        return json.dumps(rows)

    scalar("pg_ts_series_json", ts_series_json, 4, True)

    def overlaps(s1: Any, e1: Any, s2: Any, e2: Any, src: int) -> Any:
        """timestamp.c overlaps_timestamp, NULL rules included."""
        def key(v: Any) -> Any:
            return None if v is None else (str(v) if src == T.TIME else moment(str(v), src))

        a, b, c, d = key(s1), key(e1), key(s2), key(e2)
        if a is None:
            if b is None:
                return None
            a, b = b, None
        elif b is not None and a > b:
            a, b = b, a
        if c is None:
            if d is None:
                return None
            c, d = d, None
        elif d is not None and c > d:
            c, d = d, c
        if a > c:
            if d is None:
                return None
            return 1 if a < d else (None if b is None else 0)
        if a < c:
            if b is None:
                return None
            return 1 if c < b else (None if d is None else 0)
        return None if b is None or d is None else 1

    scalar("pg_overlaps", overlaps, 5, True)

    def num_series_json(start: Any, stop: Any, step: Any = "1") -> Any:
        if start is None or stop is None or step is None:
            return "[]"
        a, b, d = T.to_decimal(start), T.to_decimal(stop), T.to_decimal(step)
        if d.is_zero():
            raise SqlError("22023", "step size cannot equal zero")
        if not (a.is_finite() and b.is_finite() and d.is_finite()):
            raise SqlError("22023", "start value cannot be NaN" if a.is_nan() else
                           "stop value cannot be NaN" if b.is_nan() else "step size cannot be NaN")
        rows: list[str] = []
        current = a
        while (current <= b) if d > 0 else (current >= b):
            rows.append(_num_out(current))
            if len(rows) > _MAX_SERIES:
                raise SqlError("54000", f"generate_series() would return more than {_MAX_SERIES} rows")
            current += d
        return json.dumps(rows)

    scalar("pg_num_series_json", num_series_json, -1, True)

    def subscripts_json(arr: Any, dim: Any, lower: Any, reverse: Any) -> Any:
        """generate_subscripts(): the subscripts of dimension ``dim`` (none if it has no such one)."""
        if arr is None or dim is None:
            return None
        level: Any = json.loads(arr)
        for _ in range(int(dim) - 1):
            level = level[0] if isinstance(level, list) and level else None
        if int(dim) < 1 or not isinstance(level, list) or not level:
            return None
        subscripts = list(range(int(lower), int(lower) + len(level)))
        return json.dumps(subscripts[::-1] if reverse else subscripts)

    scalar("pg_subscripts_json", subscripts_json, 4, True)
    register_json_functions(conn)
    scalar("pg_random", lambda: random.random(), 0)
    # window functions double as ordinary aggregates, so sum()/avg() OVER (...) work too
    conn.create_window_function("pg_num_sum", _window_factory(_NumericSum), 1)
    conn.create_window_function("pg_int_sum", _window_factory(_IntSum), 1)
    conn.create_window_function("pg_avg", _window_factory(_NumericAvg), 1)

    # --- casts and typmods
    scalar("pg_cast", make_cast(ctx))
    scalar("pg_typmod", lambda v, oid, typmod: apply_typmod(v, oid, typmod), 3, True)
    scalar("pg_raise", _raise, -1)  # (sqlstate, message[, detail]): constraint triggers

    # --- strings
    scalar("pg_lower", lambda s: None if s is None else _simple_case(str(s), str.lower), 1, True)
    scalar("pg_upper", lambda s: None if s is None else _simple_case(str(s), str.upper), 1, True)
    scalar("pg_initcap", lambda s: None if s is None else re.sub(
        r"[A-Za-z0-9]+", lambda m: m.group(0)[0].upper() + m.group(0)[1:].lower(), str(s)), 1, True)
    scalar("pg_concat", lambda *args: "".join(_text(a) for a in args if a is not None), -1, True)
    scalar("pg_concat_ws", lambda sep, *args: None if sep is None else
           str(sep).join(_text(a) for a in args if a is not None), -1, True)
    scalar("pg_md5", lambda s: None if s is None else hashlib.md5(
        s if isinstance(s, bytes) else str(s).encode()).hexdigest(), 1, True)
    scalar("pg_left", lambda s, n: None if s is None or n is None else (str(s)[:n] if n >= 0 else str(s)[:n]), 2, True)
    scalar("pg_right", lambda s, n: None if s is None or n is None else (
        (str(s)[-n:] if n > 0 else "") if n >= 0 else str(s)[-n:]), 2, True)
    scalar("pg_repeat", lambda s, n: None if s is None or n is None else str(s) * max(int(n), 0), 2, True)
    scalar("pg_lpad", lambda s, n, fill=" ": _pad(s, n, fill, left=True), -1, True)
    scalar("pg_rpad", lambda s, n, fill=" ": _pad(s, n, fill, left=False), -1, True)
    scalar("pg_split_part", _split_part, 3, True)
    scalar("pg_strpos", lambda s, sub: None if s is None or sub is None else str(s).find(str(sub)) + 1, 2, True)
    scalar("pg_reverse", lambda s: None if s is None else str(s)[::-1], 1, True)
    scalar("pg_chr", lambda n: None if n is None else chr(int(n)), 1, True)
    scalar("pg_ascii", lambda s: None if s is None or s == "" else ord(str(s)[0]), 1, True)
    scalar("pg_to_hex", lambda n: None if n is None else format(int(n) & 0xFFFFFFFFFFFFFFFF if n < 0 else int(n), "x"), 1, True)
    scalar("pg_btrim", lambda s, chars=" ": None if s is None or chars is None else str(s).strip(chars), -1, True)
    scalar("pg_ltrim", lambda s, chars=" ": None if s is None or chars is None else str(s).lstrip(chars), -1, True)
    scalar("pg_rtrim", lambda s, chars=" ": None if s is None or chars is None else str(s).rstrip(chars), -1, True)
    scalar("pg_quote_ident", _quote_ident, 1, True)
    scalar("pg_quote_literal", lambda s: None if s is None else "'" + str(s).replace("'", "''") + "'", 1, True)
    scalar("pg_bpchar_trim", lambda s: None if s is None else str(s).rstrip(" "), 1, True)
    scalar("pg_octet_length", lambda s: None if s is None else len(s if isinstance(s, bytes) else str(s).encode()), 1, True)
    scalar("pg_translate", lambda s, a, b: None if s is None or a is None or b is None else _translate(s, a, b), 3, True)

    like_cache: dict[tuple[str, str | None, bool], re.Pattern[str]] = {}

    def like(value: Any, pattern: Any, escape: Any = "\\", insensitive: int = 0) -> Any:
        if value is None or pattern is None:
            return None
        key = (str(pattern), escape, bool(insensitive))
        compiled = like_cache.get(key)
        if compiled is None:
            if len(like_cache) > 1000:
                like_cache.clear()
            compiled = re.compile(_like_to_regex(str(pattern), escape), re.S | (re.I if insensitive else 0))
            like_cache[key] = compiled
        return 1 if compiled.fullmatch(_text(value)) else 0

    scalar("pg_like", like, -1, True)
    regex_cache: dict[tuple[str, bool], re.Pattern[str]] = {}

    def regex_match(value: Any, pattern: Any, insensitive: int = 0) -> Any:
        if value is None or pattern is None:
            return None
        key = (str(pattern), bool(insensitive))
        compiled = regex_cache.get(key)
        if compiled is None:
            if len(regex_cache) > 1000:
                regex_cache.clear()
            try:
                compiled = re.compile(str(pattern), re.I if insensitive else 0)
            except re.error as exc:
                raise SqlError("2201B", f"invalid regular expression: {exc}") from None
            regex_cache[key] = compiled
        return 1 if compiled.search(_text(value)) else 0

    scalar("pg_regex", regex_match, -1, True)

    def regexp_replace(value: Any, pattern: Any, repl: Any, flags: Any = "") -> Any:
        if value is None or pattern is None or repl is None:
            return None
        py_repl = re.sub(r"\\(\d)", r"\\g<\1>", str(repl)).replace("\\&", "\\g<0>")
        count = 0 if "g" in (flags or "") else 1
        return re.sub(str(pattern), py_repl, _text(value), count=count, flags=re.I if "i" in (flags or "") else 0)

    scalar("pg_regexp_replace", regexp_replace, -1, True)

    # --- arrays (stored as JSON text)
    def array_position(arr: Any, elem: Any) -> Any:
        if arr is None:
            return None
        for i, item in enumerate(T.array_values(arr)):
            if item == elem or (item is not None and elem is not None and str(item) == str(elem)):
                return i + 1
        return None

    scalar("array_position", array_position, -1, True)
    scalar("pg_array_length", lambda arr, dim=1: None if arr is None or dim != 1 or not T.array_values(arr)
           else len(T.array_values(arr)), -1, True)
    scalar("pg_cardinality", lambda arr: None if arr is None else len(T.array_values(arr)), 1, True)
    def array_to_string(arr: Any, sep: Any, null: Any = None, elem: Any = None) -> Any:
        if arr is None or sep is None:
            return None
        if elem is None:
            return str(sep).join(_text(v) if v is not None else null for v in T.array_values(arr)
                                 if v is not None or null is not None)
        elem = int(elem)
        return str(sep).join(
            T.encode_text(elem, T.array_elem_value(elem, v)).decode() if v is not None else null
            for v in T.array_values(arr) if v is not None or null is not None)

    scalar("pg_array_to_string", array_to_string, -1, True)
    scalar("pg_string_to_array", lambda s, sep: None if s is None else json.dumps(
        str(s).split(sep) if sep else list(str(s))), 2, True)
    scalar("pg_array_append", lambda arr, v: json.dumps(T.array_values(arr or "[]") + [T.array_elem_storage(0, v)]),
           2, True)
    scalar("pg_array_cat", lambda a, b: None if a is None and b is None else
           json.dumps(T.array_values(a or "[]") + T.array_values(b or "[]")), 2, True)
    def array_contains(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        have = {json.dumps(v) for v in T.array_values(a) if v is not None}
        return 1 if all(v is not None and json.dumps(v) in have for v in T.array_values(b)) else 0

    def array_overlaps(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        have = {json.dumps(v) for v in T.array_values(a) if v is not None}
        return 1 if any(v is not None and json.dumps(v) in have for v in T.array_values(b)) else 0

    scalar("pg_array_contains", array_contains, 2, True)
    scalar("pg_array_overlaps", array_overlaps, 2, True)
    scalar("pg_array_in", lambda text, elem: None if text is None else T.parse_array(int(elem), str(text)), 2, True)

    # --- session / system information
    scalar("version", lambda: f"PostgreSQL {SERVER_VERSION} (Strata) on x86_64-pc-linux-gnu, compiled by "
           f"Python, 64-bit", 0)
    scalar("current_database", lambda: ctx.database, 0)
    scalar("pg_session_user", lambda: ctx.user, 0)
    scalar("pg_backend_pid", lambda: ctx.backend_pid, 0)
    scalar("inet_server_port", lambda: int(ctx.settings.get("port", "5432")), 0)

    def current_setting(name: Any, missing_ok: Any = 0) -> Any:
        if name is None:
            return None
        key = canonical_setting_name(str(name))
        if key == "TimeZone":
            return ctx.timezone
        # the session keeps settings under lower-case names, the defaults here canonical ones
        for candidate in (key.lower(), key):
            if candidate in ctx.settings:
                return ctx.settings[candidate]
        if missing_ok or "." in key:
            if "." in key and not missing_ok:
                raise SqlError("42704", f'unrecognized configuration parameter "{name}"')
            return None
        raise SqlError("42704", f'unrecognized configuration parameter "{name}"')

    scalar("current_setting", current_setting)

    def set_config(name: Any, value: Any, is_local: Any) -> Any:
        key = canonical_setting_name(str(name))
        text = "" if value is None else str(value)
        if key.lower() in guc.DEFAULTS and key.lower() not in ("transaction_isolation", "transaction_read_only"):
            text = guc.normalize(key, text)  # as SET checks it: set_config is not a way around
        ctx.settings[key.lower()] = text
        if key == "TimeZone":
            T.get_zone(str(value))
            ctx.timezone = str(value)
        ctx.changed_settings[key] = (text, bool(is_local))
        return text

    scalar("set_config", set_config, 3)

    def settings_json() -> str:
        merged = {canonical_setting_name(k): v for k, v in ctx.settings.items()}
        merged["TimeZone"] = ctx.timezone
        merged.pop("search_path_schemas", None)
        return json.dumps(merged)

    scalar("pg_settings_json", settings_json, 0)
    scalar("current_schemas", lambda implicit: json.dumps(["pg_catalog", "public"] if implicit else ["public"]), 1)
    scalar("gen_random_uuid", lambda: str(uuid.uuid4()), 0)
    scalar("pg_format_type", lambda oid, typmod: None if oid is None else T.format_type(int(oid), -1 if typmod is None else int(typmod)), 2, True)
    scalar("pg_encoding_to_char", lambda n: "UTF8" if n == 6 else "SQL_ASCII", 1, True)
    scalar("pg_get_userbyid", lambda oid: ctx.user, 1)
    scalar("pg_true", lambda *args: 1, -1)
    scalar("pg_null", lambda *args: None, -1)
    scalar("pg_random_bytes", lambda n: os.urandom(int(n)), 1)
    scalar("pg_sleep", lambda secs: _sleep(secs, ctx), 1)
    scalar("pg_json_out", lambda v: v, 1, True)

    def regclass(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        name = text
        if name.startswith('"') and name.endswith('"'):
            name = name[1:-1].replace('""', '"')
        else:
            name = name.lower()
        for prefix in ("public.", "pg_catalog."):
            if name.startswith(prefix):
                name = name[len(prefix):]
        rows = conn.execute(f"SELECT oid FROM {TABLES} WHERE name = ?", (name,)).fetchall()
        if rows:
            return rows[0][0]
        from compute.sql.pg_catalog import SYSTEM_RELATIONS

        system = SYSTEM_RELATIONS.get(name)
        if system is not None:
            return system.oid
        raise SqlError("42P01", f'relation "{text}" does not exist')

    scalar("pg_regclass", regclass, 1)

    def regclass_out(oid: Any) -> Any:
        if oid is None:
            return None
        rows = conn.execute(f"SELECT name FROM {TABLES} WHERE oid = ?", (oid,)).fetchall()
        if rows:
            return _quote_ident(rows[0][0])
        from compute.sql.pg_catalog import SYSTEM_RELATIONS

        for rel in SYSTEM_RELATIONS.values():
            if rel.oid == oid:
                return rel.name
        return str(oid)

    scalar("pg_regclass_out", regclass_out, 1)
    def regtype_out(value: Any) -> str | None:
        """regtype as text: an OID is named; pg_typeof() already yields the name."""
        if value is None:
            return None
        if isinstance(value, str) and not value.isdigit():
            return value
        return T.regtype_name(int(value))

    scalar("pg_regtype_out", regtype_out, 1, True)
    scalar("pg_table_is_visible", lambda oid: 1, 1)
    scalar("pg_get_expr", lambda expr, rel, pretty=False: expr, -1)
    scalar("pg_get_indexdef", lambda oid, *rest: _indexdef(conn, oid), -1)
    scalar("pg_get_constraintdef", lambda oid, *rest: _constraintdef(conn, oid), -1)
    scalar("pg_get_serial_sequence", lambda table, column: _serial_sequence(conn, table, column), 2)

    # --- sequences (nextval writes, so translations calling it are marked is_write)
    def _seq_row(name: Any) -> tuple[int, int, int, int, int, int, int, int]:
        text = str(name)
        key = text[1:-1] if text.startswith('"') else text.lower()
        if key.startswith("public."):
            key = key[7:]
        rows = conn.execute(
            f"SELECT s.oid, s.last_value, s.is_called, s.increment, s.min_value, s.max_value, s.cycle, "
            f"s.start_value FROM {SEQUENCES} s JOIN {TABLES} t ON t.oid = s.oid WHERE t.name = ?",
            (key,),
        ).fetchall()
        if not rows:
            raise SqlError("42P01", f'relation "{text}" does not exist')
        return rows[0]

    def schema_version() -> int:
        return int(conn.execute("PRAGMA schema_version").fetchall()[0][0])

    def nextval(name: Any) -> Any:
        if name is None:
            return None
        oid, last, called, inc, lo, hi, cycle, _start = _seq_row(name)
        version = schema_version()
        position = ctx.sequence_positions.get(oid)
        if position is not None and position[2] == version:  # survives a rollback of the row
            last, called = position[0], position[1]
        value = last + inc if called else last
        if value > hi or value < lo:
            if not cycle:
                limit = "maximum" if value > hi else "minimum"
                raise SqlError("2200H", f'nextval: reached {limit} value of sequence "{name}" ({hi if value > hi else lo})')
            value = lo if value > hi else hi
        conn.execute(f"UPDATE {SEQUENCES} SET last_value = ?, is_called = 1 WHERE oid = ?", (value, oid))
        ctx.sequence_positions[oid] = (value, True, version)
        ctx.sequence_values[str(oid)] = value  # by oid: a re-created sequence has no currval yet
        ctx.last_sequence_value = value
        return value

    def currval(name: Any) -> Any:
        if name is None:
            return None
        value = ctx.sequence_values.get(str(_seq_row(name)[0]))
        if value is None:
            raise SqlError("55000", f'currval of sequence "{name}" is not yet defined in this session')
        return value

    def lastval() -> Any:
        if ctx.last_sequence_value is None:
            raise SqlError("55000", "lastval is not yet defined in this session")
        return ctx.last_sequence_value

    def setval(name: Any, value: Any, is_called: Any = 1) -> Any:
        oid, _last, _called, _inc, lo, hi, _cycle, _start = _seq_row(name)
        if not lo <= int(value) <= hi:
            raise SqlError("22003", f'setval: value {value} is out of bounds for sequence "{name}" ({lo}..{hi})')
        conn.execute(f"UPDATE {SEQUENCES} SET last_value = ?, is_called = ? WHERE oid = ?",
                     (int(value), 1 if is_called else 0, oid))
        ctx.sequence_positions[oid] = (int(value), bool(is_called), schema_version())
        if is_called:
            ctx.sequence_values[str(oid)] = int(value)
        return int(value)

    def fk_deferred(prefix: Any, initially: Any) -> int:
        state = ctx.fk_state
        return 1 if state is not None and state.is_deferred(str(prefix), bool(initially)) else 0

    def fk_defer(prefix: Any, side: Any, rowid: Any, detail: Any) -> None:
        ctx.fk_state.defer(str(prefix), str(side), int(rowid), detail)

    scalar("pg_fk_deferred", fk_deferred, 2)  # triggers of DEFERRABLE foreign keys (ddl.fk_trigger_sql)
    scalar("pg_fk_defer", fk_defer, 4)
    scalar("nextval", nextval, 1)
    scalar("currval", currval, 1)
    scalar("lastval", lastval, 0)
    scalar("setval", setval, -1)
    def seq_reset(oid: Any) -> None:
        ctx.sequence_positions.pop(int(oid), None)
        conn.execute(f"UPDATE {SEQUENCES} SET last_value = start_value, is_called = 0 WHERE oid = ?", (oid,))

    def seq_reset_owned(table_oid: Any) -> None:
        """TRUNCATE ... RESTART IDENTITY: every sequence the table owns starts over."""
        owned = conn.execute(f"SELECT oid FROM {SEQUENCES} WHERE owner_table = ?", (table_oid,)).fetchall()
        for (oid,) in owned:
            seq_reset(oid)

    scalar("pg_seq_reset_owned", seq_reset_owned, 1)

    register_math_udfs(scalar)  # math_functions.py (float checks and NaN, numeric sqrt/ln/exp/power)
    register_more_udfs(conn)  # more_functions.py (stddev, encode, format, regexp_match, ...)
    register_node_udfs(conn, ctx)  # node_functions.py (pg_is_in_recovery, pg_promote, ...)
    register_enum_udfs(conn)  # enums.py (pg_enum_in, pg_enum_ord, ...)

    conn.execute("PRAGMA temp_store = FILE")  # sorts and temp b-trees spill to disk: memory stays bounded
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA recursive_triggers = ON")  # self-referencing ON DELETE CASCADE (ddl.py)
    install_catalog(conn, ctx)


SLEEP_SLICE_S = 0.02  # pg_sleep checks for cancel / statement_timeout this often


def _sleep(secs: Any, ctx: SessionContext) -> None:
    """pg_sleep: sleeps in slices so that cancel and statement_timeout stop it (57014).

    SQLite's progress handler is not called while a function runs, so the statement's guard
    is polled here; raising InterruptError is what the session maps to 57014.
    """
    deadline = time.monotonic() + max(0.0, float(secs or 0))
    while True:
        if ctx.guard is not None and ctx.guard():
            raise apsw.InterruptError("interrupted")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(remaining, SLEEP_SLICE_S))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return T.format_float(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value)


def _pad(s: Any, n: Any, fill: Any, left: bool) -> Any:
    if s is None or n is None or fill is None:
        return None
    text, n = str(s), int(n)
    if len(text) >= n:
        return text[:n]
    if not fill:
        return text
    need = n - len(text)
    padding = (str(fill) * (need // len(str(fill)) + 1))[:need]
    return padding + text if left else text + padding


def _split_part(s: Any, sep: Any, n: Any) -> Any:
    if s is None or sep is None or n is None:
        return None
    if n == 0:
        raise SqlError("22023", "field position must not be zero")
    parts = str(s).split(str(sep)) if sep else [str(s)]
    index = n - 1 if n > 0 else len(parts) + n
    return parts[index] if 0 <= index < len(parts) else ""


def _translate(s: Any, src: Any, dst: Any) -> str:
    out = []
    src, dst = str(src), str(dst)
    for ch in str(s):
        i = src.find(ch)
        if i < 0:
            out.append(ch)
        elif i < len(dst):
            out.append(dst[i])
    return "".join(out)


def _quote_ident(s: Any) -> Any:
    if s is None:
        return None
    text = str(s)
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", text):
        return text
    return '"' + text.replace('"', '""') + '"'


def _like_to_regex(pattern: str, escape: Any) -> str:
    out = []
    i = 0
    esc = escape if escape else None
    while i < len(pattern):
        ch = pattern[i]
        if esc is not None and ch == esc and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _indexdef(conn: Any, oid: Any) -> Any:
    rows = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE indexname = (SELECT name FROM __strata_tables WHERE oid = ?)",
        (oid,),
    ).fetchall()
    return rows[0][0] if rows else None


def _constraintdef(conn: Any, oid: Any) -> Any:
    rows = conn.execute(
        "SELECT type, columns, definition, ref_table, ref_columns FROM __strata_constraints WHERE rowid + 100000 = ?",
        (oid,),
    ).fetchall()
    if not rows:
        return None
    ctype, cols, definition, ref_table, ref_cols = rows[0]
    names = ", ".join(json.loads(cols))
    if ctype == "p":
        return f"PRIMARY KEY ({names})"
    if ctype == "u":
        return f"UNIQUE ({names})"
    if ctype == "c":
        return f"CHECK ({definition})"
    if ctype == "f":
        ref = conn.execute("SELECT name FROM __strata_tables WHERE oid = ?", (ref_table,)).fetchall()
        ref_name = ref[0][0] if ref else "?"
        return f"FOREIGN KEY ({names}) REFERENCES {ref_name}({', '.join(json.loads(ref_cols or '[]'))})"
    return definition


def _serial_sequence(conn: Any, table: Any, column: Any) -> Any:
    if table is None or column is None:
        return None
    name = str(table).lower()
    if name.startswith("public."):
        name = name[7:]
    rows = conn.execute(
        "SELECT t2.name FROM __strata_sequences s JOIN __strata_tables t ON t.oid = s.owner_table "
        "JOIN __strata_tables t2 ON t2.oid = s.oid WHERE t.name = ? AND s.owner_column = ?",
        (name, str(column)),
    ).fetchall()
    return "public." + rows[0][0] if rows else None


# ------------------------------------------------------------------------------ json / jsonb
# json and jsonb are stored as text (jsonb normalised the way jsonb_out prints it).


def _json_load(doc: Any) -> Any:
    return json.loads(doc, parse_float=Decimal)


def _json_out(value: Any, as_text: bool) -> Any:
    """A json value as jsonb text, or for ->>/#>> as text (strings unquoted, null -> NULL)."""
    if as_text:
        if value is None:
            return None
        if isinstance(value, str):
            return value
    return T._jsonb_dump(value)


def _json_step(value: Any, key: Any) -> tuple[bool, Any]:
    if isinstance(value, dict):
        k = str(key)
        return (k in value, value.get(k))
    if isinstance(value, list):
        try:
            index = int(key)
        except (TypeError, ValueError):
            return (False, None)
        if index < 0:
            index += len(value)
        return (0 <= index < len(value), value[index] if 0 <= index < len(value) else None)
    return (False, None)


def json_get(doc: Any, key: Any, as_text: int = 0) -> Any:
    """doc -> key / doc ->> key (an int key indexes arrays, negative from the end)."""
    if doc is None or key is None:
        return None
    value = _json_load(doc)
    if isinstance(key, str) and isinstance(value, list):
        return None
    if isinstance(key, int) and isinstance(value, dict):
        return None
    found, item = _json_step(value, key)
    return _json_out(item, bool(as_text)) if found else None


def json_path(doc: Any, path: Any, as_text: int = 0) -> Any:
    """doc #> path / doc #>> path; path is a text[] (stored as a JSON array)."""
    if doc is None or path is None:
        return None
    value = _json_load(doc)
    for key in json.loads(path):
        if key is None:
            return None
        found, value = _json_step(value, key)
        if not found:
            return None
    return _json_out(value, bool(as_text))


def _contains(a: Any, b: Any, top: bool = True) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return all(k in a and _contains(a[k], v, False) for k, v in b.items())
    if isinstance(a, list) and isinstance(b, list):
        return all(any(_contains(x, y, False) for x in a) for y in b)
    if isinstance(a, list) and top and not isinstance(b, dict | list):
        return any(not isinstance(x, dict | list) and x == b and type(x) is type(b) for x in a)
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return bool(a == b and (type(a) is type(b) or (isinstance(a, int | Decimal) and isinstance(b, int | Decimal))))


def jsonb_contains(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    return 1 if _contains(_json_load(a), _json_load(b)) else 0


def _has_key(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value
    if isinstance(value, list):
        return any(isinstance(x, str) and x == key for x in value)
    return isinstance(value, str) and value == key


def jsonb_exists(doc: Any, key: Any, mode: int = 0) -> Any:
    """? key (mode 0), ?| keys (1: any), ?& keys (2: all); keys is a text[] as a JSON array."""
    if doc is None or key is None:
        return None
    value = _json_load(doc)
    if mode == 0:
        return 1 if _has_key(value, str(key)) else 0
    keys = [k for k in json.loads(key) if k is not None]
    hits = [_has_key(value, k) for k in keys]
    return 1 if (any(hits) if mode == 1 else all(hits)) else 0


def jsonb_concat(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    x, y = _json_load(a), _json_load(b)
    if isinstance(x, dict) and isinstance(y, dict):
        return T._jsonb_dump({**x, **y})
    left = x if isinstance(x, list) else [x]
    right = y if isinstance(y, list) else [y]
    return T._jsonb_dump(left + right)


def jsonb_delete(doc: Any, key: Any) -> Any:
    if doc is None or key is None:
        return None
    value = _json_load(doc)
    if isinstance(value, dict):
        if isinstance(key, int):
            raise SqlError("22023", "cannot delete from object using integer index")
        value.pop(str(key), None)
    elif isinstance(value, list):
        if isinstance(key, int):
            index = key + len(value) if key < 0 else key
            if 0 <= index < len(value):
                del value[index]
        else:
            value = [x for x in value if not (isinstance(x, str) and x == key)]
    else:
        raise SqlError("22023", "cannot delete from scalar")
    return T._jsonb_dump(value)


def jsonb_set(doc: Any, path: Any, new: Any, create_missing: Any = 1) -> Any:
    if doc is None or path is None or new is None:
        return None
    root = _json_load(doc)
    keys = json.loads(path)
    replacement = _json_load(new)
    if not keys:
        return T._jsonb_dump(root)
    target = root
    for key in keys[:-1]:
        found, target = _json_step(target, key)
        if not found:
            return T._jsonb_dump(root)
    last = keys[-1]
    if isinstance(target, dict):
        if last in target or create_missing:
            target[last] = replacement
    elif isinstance(target, list):
        try:
            index = int(last)
        except ValueError:
            raise SqlError("22P02", f'path element at position {len(keys)} is not an integer: "{last}"') from None
        if index < 0:
            index += len(target)
        if 0 <= index < len(target):
            target[index] = replacement
        elif create_missing:
            if index < 0:
                target.insert(0, replacement)
            else:
                target.append(replacement)
    return T._jsonb_dump(root)


def json_typeof(doc: Any) -> Any:
    if doc is None:
        return None
    value = _json_load(doc)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | Decimal | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def jsonb_strip_nulls(doc: Any) -> Any:
    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    return None if doc is None else T._jsonb_dump(strip(_json_load(doc)))


def jsonb_array_length(doc: Any) -> Any:
    if doc is None:
        return None
    value = _json_load(doc)
    if not isinstance(value, list):
        raise SqlError("22023", "cannot get array length of a non-array" if not isinstance(value, dict)
                       else "cannot get array length of a non-array")
    return len(value)


def register_json_functions(conn: Any) -> None:
    det = {"deterministic": True}
    conn.create_scalar_function("pg_json_get", json_get, -1, **det)
    conn.create_scalar_function("pg_json_path", json_path, -1, **det)
    conn.create_scalar_function("pg_jsonb_contains", jsonb_contains, 2, **det)
    conn.create_scalar_function("pg_jsonb_exists", jsonb_exists, -1, **det)
    conn.create_scalar_function("pg_jsonb_concat", jsonb_concat, 2, **det)
    conn.create_scalar_function("pg_jsonb_delete", jsonb_delete, 2, **det)
    conn.create_scalar_function("pg_jsonb_set", jsonb_set, -1, **det)
    conn.create_scalar_function("pg_json_typeof", json_typeof, 1, **det)
    conn.create_scalar_function("pg_jsonb_strip_nulls", jsonb_strip_nulls, 1, **det)
    conn.create_scalar_function("pg_jsonb_array_length", jsonb_array_length, 1, **det)
