"""Dates, times, timestamps, time zones and intervals: input parsing (fast regular expressions,
then compute.datetime_input for the rest), output formatting, and their binary forms."""

from __future__ import annotations

import datetime as _dt
import functools
import re
import struct
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import compute.pgtypes.widedates as _wide
from compute import datetime_input as _datetime_input
from compute.pgtypes.oids import DATE, INTERVAL, TIME, TIMESTAMP, TIMESTAMPTZ
from compute.pgtypes.posixtz import parse_posix
from compute.pgtypes.scalars import invalid_input
from compute.pgtypes.widedates import format_offset, time_of_day
from compute.sqlstate import SqlError

# --------------------------------------------------------------------------- date/time

_PG_EPOCH = _dt.datetime(2000, 1, 1)
WIDE_MARKS = (_wide.BC_MARK, _wide.BIG_MARK)  # first characters of stored BC / past-9999 values
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
        zone = _named_zone(name)
        if zone is None:
            raise SqlError("22023", f'invalid value for parameter "TimeZone": "{name}"')
    if len(_ZONES) >= _MAX_ZONES:
        _ZONES.clear()
    _ZONES[name] = zone
    return zone


_MAX_ZONES = 1024  # distinct TimeZone spellings remembered


def _named_zone(name: str) -> _dt.tzinfo | None:
    """A zone file (IANA name, any case) or else a POSIX TZ string (``EST5EDT4``, ``UTC+3``,
    ``<+03>-3``), as pg_tzset looks them up; None if it is neither."""
    spelled = _zone_names().get(name.lower())
    if spelled is not None:
        try:
            return ZoneInfo(spelled)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    return parse_posix(name)


def timezone_setting(value: str) -> str:
    """SET TimeZone: the value SHOW prints (a zone file's own spelling), 22023 if unknown."""
    if value.upper() in ("UTC", "GMT", "Z") or re.fullmatch(r"[+-]?\d{1,2}(:\d{2})?", value):
        return "GMT" if value.upper() == "GMT" else "UTC" if value.upper() in ("UTC", "Z") else value
    if _named_zone(value) is None:
        raise SqlError("22023", f'invalid value for parameter "TimeZone": "{value}"')
    return _zone_names().get(value.lower(), value)


class _WideInput(SqlError):
    """Input of a year outside 1-9999 (see widedates): its local time and zone, for the callers
    that store such years; elsewhere it is the refusal it says."""

    def __init__(self, micros: int, tz: str | None) -> None:
        super().__init__("0A000", "this use of dates before the year 1 (BC) or after 9999 is not supported")
        self.micros, self.tz = micros, tz


def _special_datetime(word: str) -> _dt.datetime | None:
    """epoch/now/today/tomorrow/yesterday outside literals (literals are bound at translation)."""
    if word == "epoch":
        return _dt.datetime(1970, 1, 1)
    now = _dt.datetime.now(_UTC).replace(tzinfo=None)
    if word == "now":
        return now
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return today + _dt.timedelta(days={"today": 0, "tomorrow": 1, "yesterday": -1}.get(word, 0))


def _decoded_datetime(text: str, type_name: str, order: str = "MDY") -> tuple[_dt.datetime, str | None]:
    """The forms the fast regular expressions miss (month names, MDY, Julian...): datetime.c rules."""
    d = _datetime_input.decode(text, type_name, order=order)
    if d.special is not None:
        if d.special.endswith("infinity") or d.special == "allballs":
            raise SqlError("22007", f'invalid input syntax for type {type_name}: "{text}"')
        special = _special_datetime(d.special)
        assert special is not None
        return special, "+00" if d.special in ("epoch", "now") else None  # instants, not local times
    assert d.year is not None and d.month is not None and d.day is not None
    if not 1 <= d.year <= 9999:
        clock = ((d.hour * 60 + d.minute) * 60 + d.second) * 1_000_000 + d.micros
        tz = d.tz_name if d.tz_name is not None else None if d.tz_offset is None else format_offset(d.tz_offset)
        raise _WideInput(_wide.from_fields(d.year, d.month, d.day, clock), tz)
    try:
        value = _dt.datetime(d.year, d.month, d.day) + _dt.timedelta(
            hours=d.hour, minutes=d.minute, seconds=d.second, microseconds=d.micros)
    except (ValueError, OverflowError):
        raise SqlError("22008", f'date/time field value out of range: "{text}"') from None
    if d.tz_name is not None:
        return value, d.tz_name
    return value, None if d.tz_offset is None else format_offset(d.tz_offset)


def parse_date(text: str, order: str = "MDY") -> str:
    """date_in; ``order`` is DateStyle's field order (MDY, DMY, YMD) for all-numeric dates."""
    m = _DATE_RE.match(text) or _DATE_COMPACT_RE.match(text)
    wide = m is not None and m.re is _DATE_RE and bool(m.group(4) or len(m.group(1)) > 4)
    if wide:
        m = None  # BC or a year past 9999: the general decoder
    low = text.strip().lower()
    if low in ("infinity", "+infinity"):
        return "infinity"
    if low == "-infinity":
        return "-infinity"
    if not m:
        ts = None if wide else _TS_RE.match(text)
        if ts and len(ts.group(1)) <= 4:
            return parse_date(f"{ts.group(1)}-{ts.group(2)}-{ts.group(3)}")
        try:
            return format_date(_decoded_datetime(text, "date", order)[0].date())
        except _WideInput as wide:
            return _wide.store_date(_wide.check_date(wide.micros // _wide.DAY_US, text))
    try:
        value = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise SqlError("22008", f'date/time field value out of range: "{text}"') from None
    return format_date(value)


def _parse_datetime(oid: int, text: str, order: str = "MDY") -> tuple[_dt.datetime, str | None]:
    """(naive value, offset text or zone name) of timestamp/timestamptz input."""
    m = _TS_RE.match(text)
    if not m:
        return _decoded_datetime(text, _TS_NAMES[oid], order)
    year, month, day, hour, minute, second, frac, tz = m.groups()
    micros, carry = _frac_micros(frac)
    try:
        value = _dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micros
        )
    except ValueError:
        if len(year) > 4:  # a year past 9999: the general decoder
            return _decoded_datetime(text, _TS_NAMES[oid], order)
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


def parse_timestamp(text: str, order: str = "MDY") -> str:
    low = text.strip().lower()
    if low in ("infinity", "-infinity"):
        return low
    try:
        value, _tz = _parse_datetime(TIMESTAMP, text, order)
    except _WideInput as wide:
        return _wide.store_ts(_wide.check_ts(wide.micros, text))
    return format_timestamp(value)


def parse_timestamptz(text: str, tz: str = "UTC", order: str = "MDY") -> str:
    """timestamptz_in; a value without an offset is in session time zone ``tz``."""
    low = text.strip().lower()
    if low in ("infinity", "-infinity"):
        return low
    try:
        value, offset = _parse_datetime(TIMESTAMPTZ, text, order)
    except _WideInput as wide:
        return _wide_timestamptz(text, wide, tz)
    if offset is None:
        aware = value.replace(tzinfo=get_zone(tz))
    elif offset[0] not in "+-" and offset.upper() not in ("Z", "UTC", "GMT"):
        aware = value.replace(tzinfo=_input_zone(offset))
    else:
        aware = value.replace(tzinfo=_dt.timezone(_dt.timedelta(seconds=_tz_offset_seconds(offset))))
    return format_timestamp(aware.astimezone(_UTC).replace(tzinfo=None)) + "+00"


def _wide_timestamptz(text: str, wide: _WideInput, tz: str) -> str:
    """timestamptz input of a year outside 1-9999: the local time less its zone's offset."""
    if wide.tz is None:
        offset = _wide.local_offset_us(wide.micros, get_zone(tz))
    elif wide.tz[0] not in "+-" and wide.tz.upper() not in ("Z", "UTC", "GMT"):
        offset = _wide.local_offset_us(wide.micros, _input_zone(wide.tz))
    else:
        offset = _tz_offset_seconds(wide.tz) * 1_000_000
    return _wide.store_ts(_wide.check_ts(wide.micros - offset, text), tz=True)


@functools.cache
def _zone_names() -> dict[str, str]:
    """IANA zone names by lower case: PostgreSQL matches them case-insensitively."""
    return {zone.lower(): zone for zone in available_timezones()}


class _AbbrevZone(_dt.tzinfo):
    """A dynamic abbreviation ('MSK' is Europe/Moscow's): the zone's offset where it used that
    abbreviation, else its standard offset then."""

    def __init__(self, abbrev: str, zone: _dt.tzinfo) -> None:
        self.abbrev, self.zone = abbrev.upper(), zone

    def utcoffset(self, dt: _dt.datetime | None) -> _dt.timedelta:
        offset = self.zone.utcoffset(dt) or _dt.timedelta(0)
        if self.zone.tzname(dt) == self.abbrev:
            return offset
        return offset - (self.zone.dst(dt) or _dt.timedelta(0))

    def dst(self, dt: _dt.datetime | None) -> _dt.timedelta:
        return _dt.timedelta(0)

    def tzname(self, dt: _dt.datetime | None) -> str:
        return self.abbrev


def _input_zone(name: str) -> _dt.tzinfo:
    """A zone named in timestamptz input: IANA or POSIX (22023 like PostgreSQL when unknown)."""
    dynamic = _datetime_input.zone_abbreviation(name)
    if isinstance(dynamic, str):
        return _AbbrevZone(name, ZoneInfo(dynamic))
    zone = _named_zone(name)
    if zone is None:
        raise SqlError("22023", f'time zone "{name}" not recognized')
    return zone


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


def enc_timestamp_bin(value: Any) -> bytes:
    special = _INFINITY_TS.get(value)
    if special is not None:
        return struct.pack("!q", special)
    if value[:1] in WIDE_MARKS:
        return struct.pack("!q", _wide.ts_micros(value))
    return struct.pack("!q", _micros_since_epoch(timestamp_from_storage(value)))


def enc_timestamptz_bin(value: Any) -> bytes:
    special = _INFINITY_TS.get(value)
    if special is not None:
        return struct.pack("!q", special)
    if value[:1] in WIDE_MARKS:
        return struct.pack("!q", _wide.ts_micros(value))
    aware = timestamptz_from_storage(value).astimezone(_UTC).replace(tzinfo=None)
    return struct.pack("!q", _micros_since_epoch(aware))


def dec_timestamp_bin(data: bytes) -> str:
    (micros,) = struct.unpack("!q", data)
    if micros == 2**63 - 1:
        return "infinity"
    if micros == -(2**63):
        return "-infinity"
    try:
        return format_timestamp(_PG_EPOCH + _dt.timedelta(microseconds=micros))
    except OverflowError:
        return _wide.store_ts(micros)


def dec_timestamptz_bin(data: bytes) -> str:
    text = dec_timestamp_bin(data)
    return text if text.endswith("infinity") else text + "+00"


def enc_date_bin(value: Any) -> bytes:
    if value == "infinity":
        return struct.pack("!i", 2**31 - 1)
    if value == "-infinity":
        return struct.pack("!i", -(2**31))
    try:
        return struct.pack("!i", (_dt.date.fromisoformat(value) - _PG_EPOCH_DATE).days)
    except ValueError:
        if value[:1] in WIDE_MARKS:
            return struct.pack("!i", _wide.date_days(value))
        raise


def dec_date_bin(data: bytes) -> str:
    (days,) = struct.unpack("!i", data)
    if days == 2**31 - 1:
        return "infinity"
    if days == -(2**31):
        return "-infinity"
    try:
        return format_date(_PG_EPOCH_DATE + _dt.timedelta(days=days))
    except OverflowError:
        return _wide.store_date(days)


def date_fields(value: str) -> tuple[int, int, int]:
    """(astronomical year, month, day) of a stored date (any year, see widedates)."""
    if value[:1] in WIDE_MARKS:
        year, month, day = _wide.fields(value)[:3]
        return year, month, day
    year, month, day = (int(part) for part in value.split("-"))
    return year, month, day


def timestamptz_text(value: str, tz: str) -> str:
    """timestamptz_out (ISO) of a stored value in time zone ``tz``, any year."""
    if value[:1] in WIDE_MARKS:
        return _wide.tstz_local_iso(value, get_zone(tz))
    return format_timestamptz(timestamptz_from_storage(value), tz)


def datetime_text(value: str) -> str:
    """date_out / timestamp_out (ISO) of a stored date or timestamp."""
    return _wide.iso(value) if value[:1] in WIDE_MARKS else value


def parse_timetz(text: str, tz: str = "UTC") -> str:
    """timetz_in then timetz_out: ``HH:MM:SS[.ffffff]+HH[:MM]``; without a zone, the session
    TimeZone's offset now."""
    m = _TIME_RE.match(text)
    if not m:
        abbrev = _TIME_ABBREV_RE.match(text)
        meaning = _datetime_input.zone_abbreviation(abbrev.group(2)) if abbrev else None
        if abbrev and isinstance(meaning, int):  # '04:05:06 EST': a fixed abbreviation
            return parse_timetz(abbrev.group(1) + format_offset(meaning), tz)
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
    return time_micros(value[:cut]), _tz_offset_seconds(value[cut:])


_TIME_ABBREV_RE = re.compile(r"\s*(\d[\d:.]*)\s+([A-Za-z]+)\s*\Z")


def timetz_has_zone(text: str) -> bool:
    """Whether timetz input names its offset (else it is the session TimeZone's)."""
    if _TIME_ABBREV_RE.match(text):
        return True
    m = _TIME_RE.match(text)
    return m is not None and m.group(5) is not None


def timetz_key(value: Any) -> int | None:
    """An integer that orders timetz values as timetz_cmp does: by the UTC time (time minus
    offset), then by zone (seconds west); equal keys are equal values."""
    if value is None:
        return None
    micros, offset = _timetz_parts(str(value))
    return (micros - offset * 1_000_000) * 100_000 + (-offset + 50_000)


def enc_timetz_bin(value: Any) -> bytes:
    micros, offset = _timetz_parts(str(value))
    return struct.pack("!qi", micros, -offset)  # timetz_send: the zone in seconds west


def dec_timetz_bin(data: bytes) -> str:
    micros, west = struct.unpack("!qi", data)
    return dec_time_bin(struct.pack("!q", micros)) + format_offset(-west)


def time_micros(value: str) -> int:
    """Microseconds since midnight of a stored time."""
    h, m, rest = value.split(":")
    sec, _, frac = rest.partition(".")
    return ((int(h) * 60 + int(m)) * 60 + int(sec)) * 1_000_000 + int(frac.ljust(6, "0")[:6] or 0)


def dec_time_bin(data: bytes) -> str:
    (micros,) = struct.unpack("!q", data)
    return time_of_day(micros)


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
    r"\s*(?:([+-]?\d+-\d+)(?=\s|\Z)|([+-]?\d+(?::\d+){1,2}(?:\.\d+)?)|([+-]?(?:\d+\.?\d*|\.\d+))\s*([a-z]+)?)", re.I
)
_CLOCK_NEXT = re.compile(r"\s*[+-]?\d+:")  # a bare number before a time of day is days ('1 2:03:04')
_OTHER_SIGN = re.compile(r"\s[+-]")


def interval_parts(text: str, sql_standard: bool = False) -> tuple[int, int, int]:
    """interval_in: ``1 year 2 mons 3 days 04:05:06.5``, SQL's ``1-2 3 4:05:06`` -> (months, days, us).
    With IntervalStyle sql_standard a leading minus and no other sign negates every field."""
    if text.startswith("P"):
        return _datetime_input.iso8601_interval(text)
    if sql_standard and _negates_all(text):
        rest = text.strip()[1:]
        try:
            months, days, micros = interval_parts(rest)
        except SqlError as exc:  # the message quotes the input as written
            raise SqlError(exc.sqlstate, exc.message.replace(f'"{rest}"', f'"{text}"')) from None
        return -months, -days, -micros
    original = text
    body = text.strip()
    if body.startswith("@"):
        body = body[1:]
    ago = False
    if body.lower().endswith(" ago"):
        ago = True
        body = body[:-4]
    months = days = micros = 0
    bare_seconds = False
    pos = 0
    body = body.strip()
    if not body:
        raise SqlError("22007", f'invalid input syntax for type interval: "{original}"')
    while pos < len(body):
        m = _INTERVAL_TOKEN.match(body, pos)
        if not m or m.end() == pos:
            raise SqlError("22007", f'invalid input syntax for type interval: "{original}"')
        pos = m.end()
        year_month, clock, number, unit = m.groups()
        if year_month:  # SQL's years-months: the sign applies to both
            sign = -1 if year_month.startswith("-") else 1
            years, _, mons = year_month.lstrip("+-").partition("-")
            if int(mons) > 11:
                raise SqlError("22015", f'interval field value out of range: "{original}"')
            months += sign * (int(years) * 12 + int(mons))
            continue
        if clock:
            sign = -1 if clock.startswith("-") else 1
            pieces = clock.lstrip("+-").split(":")
            h = int(pieces[0])
            mi = int(pieces[1])
            sec = Decimal(pieces[2]) if len(pieces) > 2 else Decimal(0)
            micros += sign * (h * 3_600_000_000 + mi * 60_000_000 + int(sec * 1_000_000))
            continue
        assert number is not None
        if unit is None and _CLOCK_NEXT.match(body, pos):  # SQL's 'days hours:minutes:seconds'
            amount = Decimal(number)
            days += int(amount)
            micros += int((amount - int(amount)) * 86_400_000_000)
            continue
        if unit is None:
            if bare_seconds:  # '2 3': two numbers without units
                raise SqlError("22007", f'invalid input syntax for type interval: "{original}"')
            bare_seconds = True
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


def _negates_all(text: str) -> bool:
    """DecodeInterval's sql_standard rule: the first field has a minus and no other field a sign."""
    body = text.strip()
    return body.startswith("-") and _OTHER_SIGN.search(body) is None and " " in body


def parse_interval(text: str, sql_standard: bool = False) -> str:
    return format_interval(*interval_parts(text, sql_standard))




def order_sensitive(oid: int, text: str) -> bool:
    """Whether date/timestamp input ``text`` reads differently under another DateStyle order
    (so a literal of it cannot be folded once for every session)."""
    if oid == INTERVAL:  # '-1 year 2 mons' reads differently with IntervalStyle sql_standard
        return _negates_all(text)
    if oid not in (DATE, TIMESTAMP, TIMESTAMPTZ) or _TS_RE.match(text) or _DATE_COMPACT_RE.match(text):
        return False
    if not re.search(r"\d+\s*[-/.]\s*\d+|\d+\s+\d+", text):  # no two adjacent numeric date fields
        return False
    seen = set()
    for order in ("MDY", "DMY", "YMD"):
        try:
            seen.add(_parse_datetime(TIMESTAMP, text, order)[0])
        except _WideInput as wide:
            seen.add(wide.micros)  # type: ignore[arg-type]
        except SqlError as exc:
            seen.add(exc.sqlstate)  # type: ignore[arg-type]
    return len(seen) > 1


def interval_zone(text: str) -> str:
    """SET TIME ZONE INTERVAL '+02:00' HOUR TO MINUTE: the POSIX zone PostgreSQL makes of it
    (``<+02>-02``; the interval is hours east of UTC)."""
    body = re.sub(r"(?i)(hour(\s*to\s*minute)?|minute)\s*\Z", "", text.strip()).strip()
    if body != text.strip() and re.fullmatch(r"[+-]?\d+", body):  # INTERVAL '2' HOUR: the last field's unit
        body += " minutes" if text.strip().lower().endswith("minute") else " hours"
    months, days, micros = interval_parts(body)
    if months or days:
        raise SqlError("22023", f'invalid interval value for time zone: {"month" if months else "day"} not allowed')
    seconds = micros // 1_000_000
    east = format_offset(seconds)
    west = format_offset(-seconds) if seconds else "+00"
    return f"<{east}>{west}"
