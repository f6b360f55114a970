"""Date/timestamp functions for values of years outside 1-9999 (BC, past 9999): PostgreSQL's
arithmetic on Julian days and microseconds (compute.pgtypes.widedates holds the storage form).
Called only when a stored value is of such a year or Python's datetime overflows, so ordinary
values keep their usual path."""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any

from compute import pgtypes as T
from compute.pgtypes import widedates as W
from compute.sql.api import SqlError
from compute.sql.functions.numeric import num_out

_UNIX_EPOCH_US = 946_684_800_000_000  # 2000-01-01 minus 1970-01-01


def is_wide(value: Any) -> bool:
    return isinstance(value, str) and value[:1] in T.WIDE_MARKS


def micros_of(value: str, src: int) -> int:
    """Microseconds since 2000 (a date: its midnight; a timestamptz: UTC) of any stored value."""
    if src == T.DATE:
        return W.date_days(value) * W.DAY_US
    return W.ts_micros(value)


def refuse(what: str) -> SqlError:
    return SqlError("0A000", f"{what} of dates before the year 1 (BC) or after the year 9999 is not supported")


def ts_add(value: str, months: int, days: int, micros: int, src: int, zone: _dt.tzinfo) -> str:
    """timestamp[tz]/date + interval for any year (timestamp.c timestamp_pl_interval)."""
    base = micros_of(value, src)
    if src == T.TIMESTAMPTZ:
        local = base + W.zone_offset_us(base, zone)
        if months:
            local = W.add_months(local, months)
        local += days * W.DAY_US
        utc = local - W.local_offset_us(local, zone) + micros
        return W.store_ts(utc, tz=True)
    if months:
        base = W.add_months(base, months)
    return W.store_ts(base + days * W.DAY_US + micros)


def date_add(value: str, days: int) -> str:
    return W.store_date(W.date_days(value) + days)


def date_diff(a: str, b: str) -> int:
    return W.date_days(a) - W.date_days(b)


def ts_diff(a: str, b: str) -> str:
    """timestamp - timestamp: days and time, justified as timestamp_mi does (toward zero)."""
    diff = W.ts_micros(a) - W.ts_micros(b)
    days = abs(diff) // W.DAY_US * (1 if diff >= 0 else -1)
    return T.format_interval(0, days, diff - days * W.DAY_US)


def to_timestamptz(value: str, src: int, zone: _dt.tzinfo) -> str:
    """date/timestamp -> timestamptz: the local time read in the session zone."""
    local = micros_of(value, src)
    return W.store_ts(local - W.local_offset_us(local, zone), tz=True)


def to_timestamp(value: str, zone: _dt.tzinfo) -> str:
    """timestamptz -> timestamp: the local time in the session zone."""
    utc = W.ts_micros(value)
    return W.store_ts(utc + W.zone_offset_us(utc, zone))


def to_timestamp_of_date(value: str) -> str:
    """date -> timestamp (22008 past 294276, as date2timestamp)."""
    days = W.date_days(value)
    if days > W.MAX_TS_DAYS:
        raise SqlError("22008", "date out of range for timestamp")
    return W.store_ts(days * W.DAY_US)


def _pg_year(year: int) -> int:
    """PostgreSQL's extract(year): there is no year 0, 1 BC is -1."""
    return year if year > 0 else year - 1


def extract(unit: str, value: str, src: int, zone: _dt.tzinfo) -> str | _dt.datetime:
    """extract/date_part of any year: calendar fields from the true year, the rest from the same
    day shifted by whole 400-year cycles (weekdays and ISO weeks repeat)."""
    unit = unit.lower()
    micros = micros_of(value, src)
    if unit == "epoch":
        if src == T.DATE:
            return str((micros + _UNIX_EPOCH_US) // 1_000_000)
        return num_out(Decimal(micros + _UNIX_EPOCH_US).scaleb(-6))
    if src == T.TIMESTAMPTZ:
        micros += W.zone_offset_us(micros, zone)
    year = W.split_micros(micros)[0]
    if unit == "year":
        return str(_pg_year(year))
    if unit == "decade":
        return str(year // 10 if year >= 0 else -((8 - (year - 1)) // 10))
    if unit == "century":
        return str((year + 99) // 100 if year > 0 else -((99 - (year - 1)) // 100))
    if unit == "millennium":
        return str((year + 999) // 1000 if year > 0 else -((999 - (year - 1)) // 1000))
    moved, cycles = W.shifted(micros)
    if unit == "isoyear":
        iso_year = moved.isocalendar()[0] + 400 * cycles
        return str(iso_year if iso_year > 0 else iso_year - 1)
    if unit == "julian":
        raise refuse("extract(julian)")
    return moved  # the caller's usual field extraction
