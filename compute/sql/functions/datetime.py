"""Date/time functions and operators: translation and SQLite runtime (timestamps are text)."""

from __future__ import annotations

import calendar
import datetime as _dt
import json
import re
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.datetime_input import zone_abbreviation
from compute.pgtypes import widedates as W
from compute.sql.api import SqlError
from compute.sql.functions import datetime_wide as wide
from compute.sql.functions.common import scalar_registrar, simple, type_names, typed_udf
from compute.sql.functions.numeric import num_out
from compute.sql.functions.session import SessionContext
from compute.sql.functions.srf import MAX_SERIES
from compute.sql.translate.scope import Handler, Scope, fn, lit_int
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler

SERVER_STARTED = _dt.datetime.now(_dt.UTC)
"""When this compute process started: pg_postmaster_start_time() (and pg_conf_load_time(): its
settings are read once, at start)."""


def _date_trunc(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
    value, vt = args[1], types[1]
    if vt.oid == T.UNKNOWN:
        value, vt = c.coerce(value, vt, ty.TIMESTAMPTZ), ty.TIMESTAMPTZ
    if vt.oid == T.DATE:
        value, vt = c.coerce(value, vt, ty.TIMESTAMPTZ), ty.TIMESTAMPTZ
    return fn("pg_date_trunc", args[0], value, lit_int(vt.oid)), Ty(vt.oid)


def _now_precision(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                   scope: Scope) -> tuple[exp.Expression, Ty]:
    """current_timestamp(p) and friends: the transaction time rounded to p fractional digits."""
    name = node.name.lower()
    base, result = {"current_timestamp": ("pg_now", ty.TIMESTAMPTZ), "localtimestamp": ("pg_localtimestamp", ty.TIMESTAMP),
                    "current_time": ("pg_current_time", ty.TIME), "localtime": ("pg_current_time", ty.TIME)}[name]
    if len(args) != 1 or not isinstance(args[0], exp.Literal) or args[0].is_string:
        raise SqlError("42601", f"syntax error at or near \"{name}\"")
    precision = min(int(args[0].this), 6)
    return fn("pg_typmod", fn(base), lit_int(result.oid), lit_int(precision)), result


def _timezone(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", f"function timezone({', '.join(type_names(types))}) does not exist")
    return c.at_time_zone(args[1], types[1], c.coerce(args[0], types[0], ty.TEXT))


def _date_part(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: Scope) -> tuple[exp.Expression, Ty]:
    value, vt = args[1], types[1]
    if vt.oid == T.UNKNOWN:
        value, vt = c.coerce(value, vt, ty.TIMESTAMPTZ), ty.TIMESTAMPTZ
    return fn("pg_cast", fn("pg_extract", args[0], value, lit_int(vt.oid)), lit_int(T.NUMERIC),
              lit_int(T.FLOAT8)), ty.FLOAT8


def _make_date(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 3:
        raise SqlError("42883", f"function make_date({', '.join(type_names(types))}) does not exist")
    stamp = fn("pg_make_timestamp", *args, lit_int(0), lit_int(0), lit_int(0))  # its checks and errors
    return fn("pg_cast", stamp, lit_int(T.TIMESTAMP), lit_int(T.DATE)), ty.DATE


def _h_make_time(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                 scope: Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower()
    n = 3 if name == "make_time" else 6
    if len(args) != n:
        raise SqlError("42883", f"function {name} does not exist")
    wanted = [ty.INT4] * (n - 1) + [ty.FLOAT8]
    out = [c.coerce(a, t, w) for a, t, w in zip(args, types, wanted, strict=True)]
    return fn(f"pg_{name}", *out), ty.TIME if n == 3 else ty.TIMESTAMP


_INTERVAL_ARGS = ("years", "months", "weeks", "days", "hours", "mins", "secs")


def _h_make_interval(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                     scope: Scope) -> tuple[exp.Expression, Ty]:
    values: dict[str, exp.Expression] = {}
    positional = 0
    for a, t in zip(args, types, strict=True):
        if isinstance(a, exp.Kwarg):
            key = a.this.name.lower()
            if key not in _INTERVAL_ARGS:
                raise SqlError("42883", "function make_interval does not exist")
            a = a.expression
        else:
            if positional >= len(_INTERVAL_ARGS):
                raise SqlError("42883", "function make_interval does not exist")
            key = _INTERVAL_ARGS[positional]
            positional += 1
        values[key] = c.coerce(a, t, ty.FLOAT8 if key == "secs" else ty.INT4)
    out = [values.get(k, lit_int(0)) for k in _INTERVAL_ARGS]
    return fn("pg_make_interval", *out), ty.INTERVAL


def _h_isfinite(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 1:
        raise SqlError("42883", "function isfinite does not exist")
    t = types[0] if types[0].oid != T.UNKNOWN else ty.DATE
    arg = c.coerce(args[0], types[0], t)
    return fn("pg_isfinite", arg), ty.BOOL


def _justify(value: Any, hours: bool, days: bool) -> str | None:
    if value is None:
        return None
    months, d, micros = T.interval_parts(str(value))
    day_us = 86_400_000_000
    if hours:
        extra = int(micros / day_us)
        d += extra
        micros -= extra * day_us
    if days:
        extra = int(d / 30)
        months += extra
        d -= extra * 30
    if hours and days:
        if months > 0 and (d < 0 or (d == 0 and micros < 0)):
            d += 30
            months -= 1
        elif months < 0 and (d > 0 or (d == 0 and micros > 0)):
            d -= 30
            months += 1
    if hours:
        if d > 0 and micros < 0:
            micros += day_us
            d -= 1
        elif d < 0 and micros > 0:
            micros -= day_us
            d += 1
    return T.format_interval(months, d, micros)


def _make_time(h: Any, m: Any, sec: Any) -> str | None:
    if h is None or m is None or sec is None:
        return None
    s = Decimal(repr(float(sec)))
    if not (0 <= int(h) <= 24 and 0 <= int(m) < 60 and 0 <= s <= 60):
        raise SqlError("22008", f"time field value out of range: {h}:{m}:{T.numeric_to_str(s)}")
    micros = int((s * 1_000_000).to_integral_value(rounding=ROUND_HALF_UP))
    return str(T.decode_text(T.TIME, f"{int(h):02d}:{int(m):02d}:{micros // 1_000_000:02d}"
                                     f".{micros % 1_000_000:06d}"))


def _make_timestamp(y: Any, mo: Any, d: Any, h: Any, mi: Any, sec: Any) -> str | None:
    if None in (y, mo, d, h, mi, sec):
        return None
    time = _make_time(h, mi, sec)
    try:
        date = _dt.date(int(y), int(mo), int(d)).isoformat()
    except ValueError:
        date = _wide_date(int(y), int(mo), int(d))
    return f"{date} {time}"


def _wide_date(y: int, mo: int, d: int) -> str:
    """make_date of a year outside 1-9999: a negative year is BC (-44 is 44 BC), 0 does not exist."""
    bad = SqlError("22008", f"date field value out of range: {y}-{mo:02d}-{d:02d}")
    if y == 0 or not 1 <= mo <= 12 or d < 1:
        raise bad
    astro = y + 1 if y < 0 else y
    days = W.date2j(astro, mo, d) - W.EPOCH_JDATE
    if W.j2date(days + W.EPOCH_JDATE)[1:] != (mo, d):
        raise bad
    return W.store_date(days)


def _make_interval(years: Any, months: Any, weeks: Any, days: Any, hours: Any, mins: Any, secs: Any) -> str | None:
    if None in (years, months, weeks, days, hours, mins, secs):
        return None
    micros = int(hours) * 3_600_000_000 + int(mins) * 60_000_000 + int(
        (Decimal(repr(float(secs))) * 1_000_000).to_integral_value(rounding=ROUND_HALF_UP))
    return T.format_interval(int(years) * 12 + int(months), int(weeks) * 7 + int(days), micros)


def _time_micros(value: Any) -> int:
    h, m, sec = str(value).split(":")
    return (int(h) * 3600 + int(m) * 60) * 1_000_000 + int(Decimal(sec) * 1_000_000)


def _time_diff(a: Any, b: Any) -> str | None:
    if a is None or b is None:
        return None
    return T.format_interval(0, 0, _time_micros(a) - _time_micros(b))


def _isfinite(value: Any) -> int | None:
    if value is None:
        return None
    return 0 if "infinity" in str(value).lower() else 1


_KEY_OFFSET = 1 << 90


def interval_key(value: Any) -> str | None:
    """A text key that sorts intervals by value (interval_cmp: 1 month = 30 days, 1 day = 24 hours)."""
    if value is None:
        return None
    months, days, micros = T.interval_parts(str(value))
    span = (months * 30 + days) * 86_400_000_000 + micros
    return f"{span + _KEY_OFFSET:032d}"


def _interval_collation(a: str, b: str) -> int:
    if a == b:
        return 0
    try:
        x, y = interval_key(a), interval_key(b)
    except (SqlError, ValueError):
        return -1 if a < b else 1
    assert x is not None and y is not None
    return -1 if x < y else (1 if x > y else 0)


def naive_text(value: _dt.datetime) -> str:
    """``T.format_timestamp`` at C speed (now() is formatted once per transaction): isoformat
    has the same fields (four-digit year, a six-digit fraction only when not zero);
    PostgreSQL drops the fraction's trailing zeros."""
    text = value.isoformat(" ")
    return text.rstrip("0") if value.microsecond else text


def wall_text(value: _dt.datetime) -> str:
    """``naive_text`` of an aware datetime's wall clock (its offset dropped) without
    ``replace(tzinfo=None)``, a keyword-parsing C call: isoformat's four-digit year, time and
    fraction end at a fixed place, before the offset."""
    text = value.isoformat(" ")
    return text[:26].rstrip("0") if value.microsecond else text[:19]


def utc_text(value: _dt.datetime) -> str:
    if value.tzinfo is not _dt.UTC:
        value = value.astimezone(_dt.UTC)
    return wall_text(value) + "+00"


_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _month_days(year: int, month: int) -> int:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if month == 2 and leap else _DAYS_IN_MONTH[month - 1]


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


# ------------------------------------------------------------------------------ time


def tstz_out(ctx: SessionContext, value: Any) -> Any:
    if value is None or not isinstance(value, str) or value.endswith("infinity"):
        return value
    if value[:1] in T.WIDE_MARKS:
        return T.timestamptz_text(value, ctx.timezone)
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
    abbrev = zone_abbreviation(name.strip())  # abbreviations first, as timestamptz_zone looks
    if isinstance(abbrev, int):
        return _dt.timezone(_dt.timedelta(seconds=abbrev))
    try:
        return T.get_zone(abbrev or name)
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
    if wide.is_wide(value):
        if src == T.TIMESTAMP:
            return wide.to_timestamptz(value, T.TIMESTAMP, tz)
        return wide.to_timestamp(value, tz)
    if src == T.TIMESTAMP:
        local = T.timestamp_from_storage(value).replace(tzinfo=tz)
        return utc_text(local)
    moment = T.timestamptz_from_storage(value).astimezone(tz)
    return T.format_timestamp(moment.replace(tzinfo=None))


def tstz_to_ts(ctx: SessionContext, value: Any) -> Any:
    if value is None or not isinstance(value, str) or value.endswith("infinity"):
        return value
    if value[:1] in T.WIDE_MARKS:
        return wide.to_timestamp(value, T.get_zone(ctx.timezone))
    local = T.timestamptz_from_storage(value).astimezone(T.get_zone(ctx.timezone))
    return T.format_timestamp(local.replace(tzinfo=None))


def ts_to_tstz(ctx: SessionContext, value: Any) -> Any:
    if value is None or not isinstance(value, str) or value.endswith("infinity"):
        return value
    if value[:1] in T.WIDE_MARKS:
        return wide.to_timestamptz(value, T.TIMESTAMP, T.get_zone(ctx.timezone))
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
        return num_out(Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6))
    simple = {
        "year": dt.year, "month": dt.month, "day": dt.day, "hour": dt.hour, "minute": dt.minute,
        "dow": (dt.weekday() + 1) % 7, "isodow": dt.isoweekday(), "doy": dt.timetuple().tm_yday,
        "quarter": (dt.month - 1) // 3 + 1, "week": dt.isocalendar()[1], "isoyear": dt.isocalendar()[0],
        "decade": dt.year // 10, "century": (dt.year - 1) // 100 + 1, "millennium": (dt.year - 1) // 1000 + 1,
    }
    if unit in simple:
        return str(simple[unit])
    if unit == "second":
        return num_out(Decimal(dt.second) + Decimal(dt.microsecond).scaleb(-6).quantize(Decimal("0.000001")))
    if unit == "milliseconds":
        return num_out((Decimal(dt.second * 1_000_000 + dt.microsecond) / 1000).quantize(Decimal("0.001")))
    if unit == "microseconds":
        return str(dt.second * 1_000_000 + dt.microsecond)
    raise SqlError("22023", f'unit "{unit}" not recognized for type timestamp')


def _interval_add(ts: _dt.datetime, months: int, days: int, micros: int, sign: int = 1) -> _dt.datetime:
    if months:
        total = ts.year * 12 + (ts.month - 1) + sign * months
        year, month = divmod(total, 12)
        month += 1
        day = min(ts.day, calendar.monthrange(year, month)[1])
        ts = ts.replace(year=year, month=month, day=day)
    return ts + sign * _dt.timedelta(days=days, microseconds=micros)


def moment(value: str, src: int) -> _dt.datetime:
    if src == T.TIMESTAMPTZ:
        return T.timestamptz_from_storage(value)
    return T.timestamp_from_storage(value)


HANDLERS: dict[str, Handler] = {
    "justify_hours": typed_udf("pg_justify_hours", ty.INTERVAL, [ty.INTERVAL], (1,)),
    "justify_days": typed_udf("pg_justify_days", ty.INTERVAL, [ty.INTERVAL], (1,)),
    "justify_interval": typed_udf("pg_justify_interval", ty.INTERVAL, [ty.INTERVAL], (1,)),
    "make_time": _h_make_time,
    "make_timestamp": _h_make_time,
    "make_interval": _h_make_interval,
    "isfinite": _h_isfinite,
    "now": simple("pg_now", ty.TIMESTAMPTZ),
    "transaction_timestamp": simple("pg_now", ty.TIMESTAMPTZ),
    "statement_timestamp": simple("pg_statement_timestamp", ty.TIMESTAMPTZ),
    "clock_timestamp": simple("pg_clock_timestamp", ty.TIMESTAMPTZ),
    "pg_postmaster_start_time": simple("pg_postmaster_start_time", ty.TIMESTAMPTZ),
    "pg_conf_load_time": simple("pg_postmaster_start_time", ty.TIMESTAMPTZ),
    "age": simple("pg_age", ty.INTERVAL),
    "date_trunc": _date_trunc,
    "current_timestamp": _now_precision,
    "localtimestamp": _now_precision,
    "current_time": _now_precision,
    "localtime": _now_precision,
    "timezone": _timezone,
    "date_part": _date_part,
    "make_date": _make_date,
}


def _register_clock(scalar: Callable[..., None], ctx: SessionContext) -> None:
    """Transaction/statement clocks, time zone conversion, date_trunc and extract."""
    # --- time
    # The instant pg_now last formatted and its text: now() is one instant per transaction,
    # and CURRENT_TIMESTAMP into a timestamp column (pg_tstz_to_ts(pg_now())) converts that
    # instant without parsing its text back.
    last_now: list[Any] = [None, ""]

    def now_text() -> str:
        value = ctx.now()
        if value is not last_now[0]:
            last_now[1] = utc_text(value)
            last_now[0] = value
        return str(last_now[1])

    def to_ts(value: Any) -> Any:
        instant = last_now[0]
        if instant is not None and instant.tzinfo is not None and value == last_now[1]:
            return wall_text(instant.astimezone(T.get_zone(ctx.timezone)))
        return tstz_to_ts(ctx, value)

    scalar("pg_now", now_text, 0)
    scalar("pg_statement_timestamp", lambda: utc_text(ctx.statement_start or ctx.now()), 0)
    scalar("pg_clock_timestamp", lambda: utc_text(_dt.datetime.now(_dt.UTC)), 0)
    scalar("pg_postmaster_start_time", lambda: utc_text(SERVER_STARTED), 0)
    scalar("pg_current_date", lambda: tstz_to_ts(ctx, utc_text(ctx.now()))[:10], 0)
    scalar("pg_localtimestamp", lambda: tstz_to_ts(ctx, utc_text(ctx.now())), 0)
    scalar("pg_current_time", lambda: tstz_to_ts(ctx, utc_text(ctx.now()))[11:], 0)
    scalar("pg_tstz_out", lambda v: tstz_out(ctx, v), 1)
    scalar("pg_tstz_to_ts", to_ts, 1)
    scalar("pg_ts_to_tstz", lambda v: ts_to_tstz(ctx, v), 1)

    def date_trunc(unit: str, value: Any, src: int = T.TIMESTAMP) -> Any:
        if value is None or unit is None:
            return None
        if wide.is_wide(value):
            raise wide.refuse("date_trunc")
        if src == T.TIMESTAMPTZ:
            local = T.timestamptz_from_storage(value).astimezone(T.get_zone(ctx.timezone))
            truncated = _truncate(local.replace(tzinfo=None), unit).replace(tzinfo=local.tzinfo)
            if isinstance(local.tzinfo, _dt.timezone):
                return utc_text(truncated)
            return utc_text(truncated.replace(tzinfo=T.get_zone(ctx.timezone)))
        return T.format_timestamp(_truncate(T.timestamp_from_storage(value), unit))

    scalar("pg_date_trunc", date_trunc)

    def extract(unit: str, value: Any, src: int = T.TIMESTAMP) -> Any:
        if value is None or unit is None:
            return None
        if wide.is_wide(value):
            fields = wide.extract(unit, value, src, T.get_zone(ctx.timezone))
            return fields if isinstance(fields, str) else _extract(unit, fields)
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
                return num_out(total + Decimal(micros).scaleb(-6))
            mapping = {"year": months // 12, "month": months % 12, "day": days,
                       "hour": micros // 3_600_000_000, "minute": micros // 60_000_000 % 60}
            if unit_l in mapping:
                return str(mapping[unit_l])
            if unit_l == "second":
                return num_out(Decimal(micros % 60_000_000).scaleb(-6).quantize(Decimal("0.000001")))
            raise SqlError("22023", f'unit "{unit}" not recognized for type interval')
        return _extract(unit, T.timestamp_from_storage(value))

    scalar("pg_extract", extract)


def _register_timestamp_arithmetic(scalar: Callable[..., None], ctx: SessionContext) -> None:
    """timestamp +/- interval, timestamp series, differences, date + days."""
    def ts_add(value: Any, interval: Any, src: int, sign: int = 1) -> Any:
        if value is None or interval is None:
            return None
        if not wide.is_wide(value):
            try:
                return ts_add_in_range(value, interval, src, sign)
            except (OverflowError, ValueError):  # Python's dates stop at years 1 and 9999
                pass
        if src == T.TIME or value.endswith("infinity"):
            return ts_add_in_range(value, interval, src, sign)
        months, days, micros = T.interval_parts(interval)
        return wide.ts_add(value, sign * months, sign * days, sign * micros, src, T.get_zone(ctx.timezone))

    def ts_add_in_range(value: Any, interval: Any, src: int, sign: int) -> Any:
        months, days, micros = T.interval_parts(interval)
        if src == T.TIMESTAMPTZ:
            zone = T.get_zone(ctx.timezone)
            local = T.timestamptz_from_storage(value).astimezone(zone).replace(tzinfo=None)
            moved = _interval_add(local, months, days, micros, sign).replace(tzinfo=zone)
            return utc_text(moved)
        if src == T.DATE:
            base = _dt.datetime.fromisoformat(value)
            return T.format_timestamp(_interval_add(base, months, days, micros, sign))
        if src == T.TIME:
            base = _dt.datetime.combine(_dt.date(2000, 1, 1), _dt.time.fromisoformat(value))
            return T.format_time(_interval_add(base, 0, 0, micros, sign).time())
        return T.format_timestamp(_interval_add(T.timestamp_from_storage(value), months, days, micros, sign))

    scalar("pg_ts_add", ts_add)

    def ts_series_json(start: Any, stop: Any, step: Any, src: int) -> Any:
        """generate_series(timestamp[tz], timestamp[tz], interval): each value is the previous
        plus the step (month steps keep the day clamped as PostgreSQL's timestamp + interval)."""
        if start is None or stop is None or step is None:
            return "[]"
        if T.interval_parts(step) == (0, 0, 0):
            raise SqlError("22023", "step size cannot equal zero")
        rows: list[str] = []
        current, last = str(start), wide.micros_of(str(stop), src)
        forward = wide.micros_of(ts_add(current, step, src), src) > wide.micros_of(current, src)
        while (wide.micros_of(current, src) <= last) if forward else (wide.micros_of(current, src) >= last):
            rows.append(current)
            if len(rows) > MAX_SERIES:
                raise SqlError("54000", f"generate_series() would return more than {MAX_SERIES} rows")
            current = ts_add(current, step, src)
        return json.dumps(rows)

    scalar("pg_ts_series_json", ts_series_json, 4, True)

    def ts_diff(a: Any, b: Any, src: int) -> Any:
        if a is None or b is None:
            return None
        if wide.is_wide(a) or wide.is_wide(b):
            return wide.ts_diff(a, b)
        if src == T.TIMESTAMPTZ:
            delta = T.timestamptz_from_storage(a) - T.timestamptz_from_storage(b)
        else:
            delta = T.timestamp_from_storage(a) - T.timestamp_from_storage(b)
        return T.format_interval(0, delta.days, delta.seconds * 1_000_000 + delta.microseconds)

    scalar("pg_ts_diff", ts_diff)

    def date_add_days(value: Any, days: Any, sign: int = 1) -> Any:
        if value is None or days is None:
            return None
        try:
            return T.format_date(_dt.date.fromisoformat(value) + _dt.timedelta(days=sign * int(days)))
        except (OverflowError, ValueError):  # a year outside 1-9999
            if value.endswith("infinity"):
                return value
            return wide.date_add(value, sign * int(days))

    scalar("pg_date_add", date_add_days)


def _date_diff(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if wide.is_wide(a) or wide.is_wide(b):
        return wide.date_diff(a, b)
    return (_dt.date.fromisoformat(a) - _dt.date.fromisoformat(b)).days


def _register_interval_arithmetic(scalar: Callable[..., None], ctx: SessionContext) -> None:
    """Interval arithmetic, age(), AT TIME ZONE, OVERLAPS."""
    scalar("pg_date_diff", _date_diff, 2)

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
        if wide.is_wide(a) or wide.is_wide(b):
            raise wide.refuse("age()")
        end = T.timestamp_from_storage(a)
        start = T.timestamp_from_storage(b) if b is not None else T.timestamp_from_storage(
            tstz_to_ts(ctx, utc_text(ctx.now()))[:10] + " 00:00:00")
        if b is None:
            end, start = start, end
        return _timestamp_age(end, start)

    scalar("pg_age", age)
    scalar("pg_at_time_zone", at_time_zone, 3)

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


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    det = {"deterministic": True}

    _register_clock(scalar, ctx)
    _register_timestamp_arithmetic(scalar, ctx)
    _register_interval_arithmetic(scalar, ctx)
    conn.create_collation("pginterval", _interval_collation)
    conn.create_scalar_function("pg_interval_key", interval_key, 1, deterministic=True)
    conn.create_scalar_function("pg_timetz_key", T.timetz_key, 1, deterministic=True)
    conn.create_scalar_function("pg_time_diff", _time_diff, 2, **det)
    conn.create_scalar_function("pg_make_time", _make_time, 3, **det)
    conn.create_scalar_function("pg_make_timestamp", _make_timestamp, 6, **det)
    conn.create_scalar_function("pg_make_interval", _make_interval, 7, **det)
    conn.create_scalar_function("pg_isfinite", _isfinite, 1, **det)
    conn.create_scalar_function("pg_justify_hours", lambda v: _justify(v, True, False), 1, **det)
    conn.create_scalar_function("pg_justify_days", lambda v: _justify(v, False, True), 1, **det)
    conn.create_scalar_function("pg_justify_interval", lambda v: _justify(v, True, True), 1, **det)
