"""Dates and timestamps outside the years 1-9999: BC dates and years after 9999.

Storage keeps SQLite's bytewise order. Years 1-9999 stay ISO text ('2024-01-02 03:04:05'), as
before; other years take a prefix and a fixed-width year so the text still sorts in time order:

  BC years:   '/' + (9999 - BC year) in 4 digits, then '-MM-DD[ HH:MM:SS[.f]][+00]'
              ('/' sorts after the '-' of '-infinity' and before '0'; older years sort first)
  past 9999:  ':' + the year in 7 digits, then the same tail (':' sorts after '9', before 'i')

Only values whose first character is '/' or ':' (or results Python's datetime cannot hold) come
here: ordinary values take no extra work. Arithmetic is on Julian days and microseconds, as in
PostgreSQL (proleptic Gregorian calendar, astronomical years: 1 BC is year 0).
"""

from __future__ import annotations

import datetime as _dt
import re

from compute.datetime_input import date2j, j2date
from compute.sqlstate import SqlError

BC_MARK = "/"
BIG_MARK = ":"
EPOCH_JDATE = 2451545  # Julian day of 2000-01-01, PostgreSQL's epoch
DAY_US = 86_400_000_000
MIN_DAYS = -EPOCH_JDATE  # 4714-11-24 BC, Julian day 0
MAX_DATE_DAYS = date2j(5874898, 1, 1) - 1 - EPOCH_JDATE  # 5874897-12-31
MAX_TS_DAYS = date2j(294277, 1, 1) - 1 - EPOCH_JDATE  # 294276-12-31
_CYCLE_DAYS = 146097  # days in 400 Gregorian years: a whole number of weeks
_STORED_RE = re.compile(r"([/:]?\d+)-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d+))?)?([+-]\d\d(?::\d\d){0,2})?\Z")


def is_wide(value: str) -> bool:
    """Whether stored text is of a year outside 1-9999."""
    return value[:1] in (BC_MARK, BIG_MARK)


def year_text(year: int) -> str:
    """The stored year of astronomical ``year`` (0 is 1 BC)."""
    if 1 <= year <= 9999:
        return f"{year:04d}"
    if year < 1:
        return f"{BC_MARK}{9999 - (1 - year):04d}"
    return f"{BIG_MARK}{year:07d}"


def _stored_year(text: str) -> int:
    if text[0] == BC_MARK:
        return 1 - (9999 - int(text[1:]))
    if text[0] == BIG_MARK:
        return int(text[1:])
    return int(text)


def fields(value: str) -> tuple[int, int, int, int, int, int, int, str | None]:
    """(astronomical year, month, day, hour, minute, second, microsecond, offset text) of stored text."""
    m = _STORED_RE.match(value)
    if m is None:
        raise SqlError("22007", f'invalid stored date/time value: "{value}"')
    year, month, day, hour, minute, second, frac, offset = m.groups()
    micro = int(frac.ljust(6, "0")[:6]) if frac else 0
    return (_stored_year(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            micro, offset)


def date_days(value: str) -> int:
    """Days since 2000-01-01 of a stored date (or the date part of a timestamp)."""
    year, month, day = fields(value)[:3]
    return date2j(year, month, day) - EPOCH_JDATE


def ts_micros(value: str) -> int:
    """Microseconds since 2000-01-01 of a stored timestamp (timestamptz: of its UTC time)."""
    year, month, day, hour, minute, second, micro, offset = fields(value)
    micros = (date2j(year, month, day) - EPOCH_JDATE) * DAY_US + ((hour * 60 + minute) * 60 + second) * 1_000_000
    if offset:
        sign = -1 if offset[0] == "-" else 1
        parts = [int(p) for p in offset[1:].split(":")] + [0, 0]
        micros -= sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]) * 1_000_000
    return micros + micro


def check_date(days: int, text: str | None = None) -> int:
    if not MIN_DAYS <= days <= MAX_DATE_DAYS:
        raise SqlError("22008", "date out of range" + (f': "{text}"' if text is not None else ""))
    return days


def check_ts(micros: int, text: str | None = None) -> int:
    if not MIN_DAYS * DAY_US <= micros < (MAX_TS_DAYS + 1) * DAY_US:
        raise SqlError("22008", "timestamp out of range" + (f': "{text}"' if text is not None else ""))
    return micros


def store_date(days: int) -> str:
    """Stored text of a date given as days since 2000-01-01 (22008 outside PostgreSQL's range)."""
    year, month, day = j2date(check_date(days) + EPOCH_JDATE)
    return f"{year_text(year)}-{month:02d}-{day:02d}"


def store_ts(micros: int, tz: bool = False) -> str:
    """Stored text of a timestamp (``tz``: a timestamptz, in UTC) from microseconds since 2000."""
    days, rest = divmod(check_ts(micros), DAY_US)
    text = f"{store_date(days)} {time_of_day(rest)}"
    return text + "+00" if tz else text


def iso(value: str) -> str:
    """PostgreSQL's ISO text of stored text ('0044-03-15 BC', '10000-01-01', '... 12:00:00+00 BC')."""
    if value[:1] == BC_MARK:
        return f"{9999 - int(value[1:5]):04d}{value[5:]} BC"
    if value[:1] == BIG_MARK:
        return str(int(value[1:8])) + value[8:]
    return value


def from_fields(year: int, month: int, day: int, micros: int = 0) -> int:
    """Microseconds since 2000 of a date (astronomical year) plus ``micros`` into the day."""
    return (date2j(year, month, day) - EPOCH_JDATE) * DAY_US + micros


def split_micros(micros: int) -> tuple[int, int, int, int]:
    """(astronomical year, month, day, microseconds into the day) of microseconds since 2000."""
    days, rest = divmod(micros, DAY_US)
    year, month, day = j2date(days + EPOCH_JDATE)
    return year, month, day, rest


def shifted(micros: int) -> tuple[_dt.datetime, int]:
    """A naive datetime equal to ``micros`` moved by whole 400-year cycles into Python's range
    (BC values into the years 1-400, where zone files give local mean time as PostgreSQL does;
    later ones into 9600-9999, where the zone's last rule holds), and the cycles moved."""
    year = split_micros(micros)[0]
    cycles = 0
    if year < 1:
        cycles = (year - 400) // 400
    elif year > 9999:
        cycles = (year - 9600) // 400
    base = micros - cycles * _CYCLE_DAYS * DAY_US
    return _dt.datetime(2000, 1, 1) + _dt.timedelta(microseconds=base), cycles


def zone_offset_us(utc_micros: int, zone: _dt.tzinfo) -> int:
    """The UTC offset (microseconds east) of ``zone`` at the UTC instant ``utc_micros``."""
    moment, _ = shifted(utc_micros)
    offset = moment.replace(tzinfo=_dt.UTC).astimezone(zone).utcoffset()
    return 0 if offset is None else int(offset.total_seconds() * 1_000_000)


def local_offset_us(local_micros: int, zone: _dt.tzinfo) -> int:
    """The UTC offset of ``zone`` for the local time ``local_micros`` (as a naive time in that zone)."""
    moment, _ = shifted(local_micros)
    offset = moment.replace(tzinfo=zone).utcoffset()
    return 0 if offset is None else int(offset.total_seconds() * 1_000_000)


def format_offset(seconds: int) -> str:
    """A UTC offset as PostgreSQL prints it: +05, -03:30, +00:19:32."""
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}"
    if minutes or secs:
        text += f":{minutes:02d}"
    if secs:
        text += f":{secs:02d}"
    return text


def format_offset_us(offset_us: int) -> str:
    return format_offset(offset_us // 1_000_000)


def tstz_local_iso(value: str, zone: _dt.tzinfo) -> str:
    """ISO output of a stored timestamptz in ``zone`` ('0044-03-15 07:03:58-04:56:02 BC')."""
    utc = ts_micros(value)
    offset = zone_offset_us(utc, zone)
    return iso(store_ts_unchecked(utc + offset) + format_offset_us(offset))


def store_ts_unchecked(micros: int) -> str:
    """Stored text of ``micros`` without the range check (a local time shown for a valid instant)."""
    days, rest = divmod(micros, DAY_US)
    year, month, day = j2date(days + EPOCH_JDATE)
    return f"{year_text(year)}-{month:02d}-{day:02d} {time_of_day(rest)}"


def time_of_day(micros: int) -> str:
    """HH:MM:SS[.ffffff] of microseconds since midnight, trailing zeros of the fraction cut."""
    secs, micro = divmod(micros, 1_000_000)
    minutes, sec = divmod(secs, 60)
    hour, minute = divmod(minutes, 60)
    text = f"{hour:02d}:{minute:02d}:{sec:02d}"
    if micro:
        text += f".{micro:06d}".rstrip("0")
    return text


def add_months(micros: int, months: int) -> int:
    """timestamp + n months: the same day of month, clamped to the month's last day."""
    year, month, day, rest = split_micros(micros)
    total = year * 12 + (month - 1) + months
    year, month = total // 12, total % 12 + 1
    last = j2date(date2j(year + (month == 12), month % 12 + 1, 1) - 1)[2]
    return from_fields(year, month, min(day, last), rest)
