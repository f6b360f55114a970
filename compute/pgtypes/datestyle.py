"""DateStyle and IntervalStyle output (datetime.c EncodeDateOnly / EncodeDateTime / EncodeInterval).

Values are stored and computed in the ISO / postgres forms; a session whose DateStyle is not ISO
(or whose IntervalStyle is not postgres) has its text results re-formatted here, at the wire and
in casts to text. The default styles never come here, so they cost nothing.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from typing import Any

import compute.pgtypes.widedates as _wide
from compute.pgtypes.codec import array_values
from compute.pgtypes.datetimes import (
    WIDE_MARKS,
    datetime_text,
    get_zone,
    interval_parts,
    timestamptz_text,
)
from compute.pgtypes.oids import (
    DATE,
    DATE_ARRAY,
    INTERVAL,
    INTERVAL_ARRAY,
    TIMESTAMP,
    TIMESTAMP_ARRAY,
    TIMESTAMPTZ,
    TIMESTAMPTZ_ARRAY,
)

DEFAULT_DATESTYLE = "ISO, MDY"
DEFAULT_INTERVALSTYLE = "postgres"
STYLED_OIDS = frozenset({DATE, TIMESTAMP, TIMESTAMPTZ, INTERVAL})
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# stored / ISO text: date, optional time with fraction, optional offset, optional BC
_ISO_RE = re.compile(r"(\d{4,})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(\.\d+)?)?([+-]\d\d(?::\d\d){0,2})?( BC)?\Z")


def style_name(datestyle: str) -> str:
    """The output style of a DateStyle value (``SQL, DMY`` -> ``SQL``)."""
    return datestyle.split(",")[0].strip()


def date_order(datestyle: str) -> str:
    """The input field order of a DateStyle value (``SQL, DMY`` -> ``DMY``)."""
    return datestyle.rsplit(",", 1)[-1].strip() if "," in datestyle else "MDY"


def _date_text(style: str, dmy: bool, year: str, month: str, day: str) -> str:
    if style == "SQL":
        return f"{day}/{month}/{year}" if dmy else f"{month}/{day}/{year}"
    if style == "German":
        return f"{day}.{month}.{year}"
    if style == "Postgres":
        return f"{day}-{month}-{year}" if dmy else f"{month}-{day}-{year}"
    return f"{year}-{month}-{day}"


def _offset_seconds(text: str) -> int:
    sign = -1 if text[0] == "-" else 1
    parts = [int(p) for p in text[1:].split(":")] + [0, 0]
    return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])


def zone_abbrev(utc: _dt.datetime, tz: str) -> str:
    """The zone abbreviation PostgreSQL prints after a timestamptz in the SQL/German/Postgres styles."""
    zone = get_zone(tz)
    if zone is _dt.UTC:
        return "GMT" if tz.upper() == "GMT" else "UTC"
    if isinstance(zone, _dt.timezone):  # '-02:00' (POSIX, no name) or a number of hours (ISO)
        if ":" in tz:
            return ""
        seconds = int(zone.utcoffset(None).total_seconds())
        sign, seconds = ("-" if seconds < 0 else "+"), abs(seconds)
        hours, minutes = divmod(seconds // 60, 60)
        return f"{sign}{hours:02d}" + (f"{minutes:02d}" if minutes else "")
    return utc.replace(tzinfo=_dt.UTC).astimezone(zone).tzname() or ""


def format_styled(oid: int, text: str, datestyle: str, tz: str) -> str:
    """An ISO-style date/timestamp/timestamptz text (timestamptz already in the session zone) in
    DateStyle ``datestyle``."""
    m = _ISO_RE.match(text)
    if m is None:  # infinity, -infinity
        return text
    style = style_name(datestyle)
    dmy = date_order(datestyle) == "DMY" or style == "German"
    year, month, day, hour, minute, second, frac, offset, bc = m.groups()
    bc = bc or ""
    if oid == DATE:
        return _date_text(style, dmy, year, month, day) + bc
    clock = f"{hour}:{minute}:{second}{frac or ''}"
    zone = ""
    if offset is not None:
        astro = 1 - int(year) if bc else int(year)
        micros = _wide.from_fields(astro, int(month), int(day),
                                   ((int(hour) * 60 + int(minute)) * 60 + int(second)) * 1_000_000)
        utc, _ = _wide.shifted(micros - _offset_seconds(offset) * 1_000_000)  # zone rules repeat every 400 years
        zone = " " + zone_abbrev(utc, tz)
    if style == "Postgres":
        wday = _DAYS[_weekday(int(year), int(month), int(day), bool(bc))]
        mon = _MONTHS[int(month) - 1]
        middle = f"{day} {mon}" if dmy else f"{mon} {day}"
        return f"{wday} {middle} {clock} {year}{zone}{bc}"
    return f"{_date_text(style, dmy, year, month, day)} {clock}{zone}{bc}"


def _weekday(year: int, month: int, day: int, bc: bool) -> int:
    """Monday = 0, for any proleptic Gregorian year (BC years are astronomical 1 - year)."""
    astro = 1 - year if bc else year
    # shift by 400-year cycles (146097 days, a whole number of weeks) into datetime's range
    shifted = astro + 400 * ((2000 - astro) // 400)
    return _dt.date(shifted, month, day).weekday()


# --------------------------------------------------------------------------- interval


def _split(months: int, days: int, micros: int) -> tuple[int, int, int, int, int, int, int]:
    """interval2itm: fields truncated toward zero, each with the sign of its part."""
    year = -(-months // 12) if months < 0 else months // 12
    mon = months - year * 12
    sign = -1 if micros < 0 else 1
    total = abs(micros)
    hour, rest = divmod(total, 3_600_000_000)
    minute, rest = divmod(rest, 60_000_000)
    sec, fsec = divmod(rest, 1_000_000)
    return year, mon, days, sign * hour, sign * minute, sign * sec, sign * fsec


def _seconds(sec: int, fsec: int, fill: bool) -> str:
    text = f"{abs(sec):02d}" if fill else str(abs(sec))
    if fsec:
        text += f".{abs(fsec):06d}".rstrip("0")
    return text


def _sql_standard(year: int, mon: int, mday: int, hour: int, minute: int, sec: int, fsec: int) -> str:
    values = (year, mon, mday, hour, minute, sec, fsec)
    negative = any(v < 0 for v in values)
    positive = any(v > 0 for v in values)
    year_month = year != 0 or mon != 0
    day_time = any(v != 0 for v in values[2:])
    standard = not (negative and positive) and not (year_month and day_time)
    out = ""
    if negative and standard:
        out = "-"
        year, mon, mday, hour, minute, sec, fsec = (-v for v in values)
    if not negative and not positive:
        return "0"
    if not standard:
        ys = "-" if year < 0 or mon < 0 else "+"
        ds = "-" if mday < 0 else "+"
        ss = "-" if hour < 0 or minute < 0 or sec < 0 or fsec < 0 else "+"
        return (f"{ys}{abs(year)}-{abs(mon)} {ds}{abs(mday)} {ss}{abs(hour)}:{abs(minute):02d}:"
                + _seconds(sec, fsec, True))
    if year_month:
        return f"{out}{year}-{mon}"
    if mday:
        return f"{out}{mday} {hour}:{minute:02d}:" + _seconds(sec, fsec, True)
    return f"{out}{hour}:{minute:02d}:" + _seconds(sec, fsec, True)


def _iso_8601(year: int, mon: int, mday: int, hour: int, minute: int, sec: int, fsec: int) -> str:
    if not any((year, mon, mday, hour, minute, sec, fsec)):
        return "PT0S"
    out = "P" + "".join(f"{v}{u}" for v, u in ((year, "Y"), (mon, "M"), (mday, "D")) if v)
    if hour or minute or sec or fsec:
        out += "T"
    out += "".join(f"{v}{u}" for v, u in ((hour, "H"), (minute, "M")) if v)
    if sec or fsec:
        out += ("-" if sec < 0 or fsec < 0 else "") + _seconds(sec, fsec, False) + "S"
    return out


def _verbose(year: int, mon: int, mday: int, hour: int, minute: int, sec: int, fsec: int) -> str:
    out = "@"
    is_zero, is_before = True, False
    for value, unit in ((year, "year"), (mon, "mon"), (mday, "day"), (hour, "hour"), (minute, "min")):
        if value == 0:
            continue
        if is_zero:
            is_before, value = value < 0, abs(value)
        elif is_before:
            value = -value
        out += f" {value} {unit}{'' if value == 1 else 's'}"
        is_zero = False
    if sec or fsec:
        out += " "
        if sec < 0 or (sec == 0 and fsec < 0):
            if is_zero:
                is_before = True
            elif not is_before:
                out += "-"
        elif is_before:
            out += "-"
        out += _seconds(sec, fsec, False) + f" sec{'s' if abs(sec) != 1 or fsec else ''}"
        is_zero = False
    if is_zero:
        out += " 0"
    return out + (" ago" if is_before else "")


_INTERVAL_STYLES: dict[str, Callable[..., str]] = {
    "sql_standard": _sql_standard, "iso_8601": _iso_8601, "postgres_verbose": _verbose,
}


def format_interval_styled(text: str, intervalstyle: str) -> str:
    """A stored (postgres style) interval in IntervalStyle ``intervalstyle``."""
    formatter = _INTERVAL_STYLES.get(intervalstyle)
    if formatter is None:
        return text
    return formatter(*_split(*interval_parts(text)))


# --------------------------------------------------------------------------- session output


def is_default(datestyle: str, intervalstyle: str) -> bool:
    return style_name(datestyle) == "ISO" and intervalstyle == DEFAULT_INTERVALSTYLE


def styled_text(oid: int, value: Any, datestyle: str, intervalstyle: str, tz: str) -> str:
    """A text-format result value of ``oid`` in the session's styles (value is never None)."""
    text = value if isinstance(value, str) else str(value)
    if oid == INTERVAL:
        return format_interval_styled(text, intervalstyle)
    if text[:1] in WIDE_MARKS:
        text = datetime_text(text)
    if style_name(datestyle) == "ISO":
        return text
    return format_styled(oid, text, datestyle, tz)


_ARRAY_OF = {DATE_ARRAY: DATE, TIMESTAMP_ARRAY: TIMESTAMP, TIMESTAMPTZ_ARRAY: TIMESTAMPTZ,
             INTERVAL_ARRAY: INTERVAL}
_NEEDS_QUOTE = re.compile(r'[\s{},"\\]')


def _styled_array(elem: int, items: list[Any], datestyle: str, intervalstyle: str, tz: str) -> str:
    parts = []
    for item in items:
        if item is None:
            parts.append("NULL")
            continue
        if isinstance(item, list):
            parts.append(_styled_array(elem, item, datestyle, intervalstyle, tz))
            continue
        if elem == TIMESTAMPTZ and not str(item).endswith("infinity"):
            item = timestamptz_text(str(item), tz)
        text = styled_text(elem, item, datestyle, intervalstyle, tz)
        parts.append('"' + text + '"' if _NEEDS_QUOTE.search(text) else text)
    return "{" + ",".join(parts) + "}"


def styled_encoder(oid: int, datestyle: str, intervalstyle: str, tz: str) -> Callable[[Any], bytes] | None:
    """A text-format encoder of ``oid`` for a session with non-default styles (None: the usual one
    is right; values given are never None)."""
    if oid in STYLED_OIDS:
        if oid == INTERVAL and intervalstyle == DEFAULT_INTERVALSTYLE:
            return None
        if oid != INTERVAL and style_name(datestyle) == "ISO":
            return None
        return lambda value: styled_text(oid, value, datestyle, intervalstyle, tz).encode()
    elem = _ARRAY_OF.get(oid)
    if elem is None or styled_encoder(elem, datestyle, intervalstyle, tz) is None:
        return None
    return lambda value: _styled_array(elem, array_values(value), datestyle, intervalstyle, tz).encode()


def session_styled(settings: dict[str, str]) -> bool:
    """Whether a session's date/time text needs more than the defaults (DateStyle not ``ISO, MDY``
    or IntervalStyle not postgres); the wire keeps this flag per connection and looks no further
    when it is false."""
    return (settings.get("datestyle", DEFAULT_DATESTYLE) != DEFAULT_DATESTYLE
            or settings.get("intervalstyle", DEFAULT_INTERVALSTYLE) != DEFAULT_INTERVALSTYLE)


def styled_row_encoders(encoders: list[Callable[[Any], bytes | None]], oids: list[int],
                        formats: list[int], settings: dict[str, str]) -> list[Callable[[Any], bytes | None]]:
    """Row encoders whose text-format date/time/interval columns follow the session's styles."""
    datestyle = settings.get("datestyle", DEFAULT_DATESTYLE)
    intervalstyle = settings.get("intervalstyle", DEFAULT_INTERVALSTYLE)
    tz = settings.get("timezone", "UTC")
    out = list(encoders)
    for i, oid in enumerate(oids):
        fmt = formats[0] if len(formats) == 1 else formats[i] if i < len(formats) else 0
        enc = styled_encoder(oid, datestyle, intervalstyle, tz) if fmt == 0 else None
        if enc is not None:
            out[i] = lambda v, enc=enc: None if v is None else enc(v)  # type: ignore[misc]
    return out
