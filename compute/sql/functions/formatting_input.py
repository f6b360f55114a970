"""to_date/to_timestamp(text, template): parsing a value with a PostgreSQL template."""

from __future__ import annotations

import datetime as _dt
import re
from typing import TYPE_CHECKING, Any

from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler

if TYPE_CHECKING:
    pass


# to_date / to_timestamp templates
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december"]


_TEMPLATE = re.compile(r'"[^"]*"|FM|HH24|HH12|HH|MI|SS|MS|US|YYYY|YY|MM|DD|DDD|Month|MONTH|month|Mon|MON|mon|'
                       r'Day|DAY|day|Dy|DY|dy|AM|PM|am|pm|A\.M\.|P\.M\.|BC|AD|bc|ad|B\.C\.|A\.D\.|b\.c\.|a\.d\.|'
                       r'TZ|tz|OF|.', re.S)
_ERA = r"([AaBb]\.?[CcDd]\.?)"


_FIELD_RE = {
    "YYYY": r"(\d{1,4})", "YY": r"(\d{1,2})", "MM": r"(\d{1,2})", "DD": r"(\d{1,2})", "DDD": r"(\d{1,3})",
    "HH24": r"(\d{1,2})", "HH12": r"(\d{1,2})", "HH": r"(\d{1,2})", "MI": r"(\d{1,2})", "SS": r"(\d{1,2})",
    "MS": r"(\d{1,3})", "US": r"(\d{1,6})", "MONTH": r"([A-Za-z]+)", "MON": r"([A-Za-z]{3})",
    "DAY": r"([A-Za-z]+)", "DY": r"([A-Za-z]{3})", "AM": r"([AaPp]\.?[Mm]\.?)", "PM": r"([AaPp]\.?[Mm]\.?)",
    "A.M.": r"([AaPp]\.?[Mm]\.?)", "P.M.": r"([AaPp]\.?[Mm]\.?)",
    "BC": _ERA, "AD": _ERA, "B.C.": _ERA, "A.D.": _ERA,
}


def _parse_template(value: str, fmt: str) -> _dt.datetime:
    parts: list[str] = []
    fields: list[str] = []
    for tok in _TEMPLATE.findall(fmt):
        if tok.startswith('"'):
            parts.append(re.escape(tok[1:-1]))
            continue
        if tok == "FM":
            continue
        key = tok.upper()
        if key in _FIELD_RE:
            parts.append(r"\s*" + _FIELD_RE[key])
            fields.append(key)
        elif tok.isspace():
            parts.append(r"\s*")
        elif tok.isalnum():
            parts.append(re.escape(tok))
        else:
            parts.append(r"[^A-Za-z0-9]?")
    m = re.match("".join(parts), value.strip())
    if m is None:
        raise SqlError("22007", f'invalid value "{value}" for "{fmt}"')
    year, month, day, hour, minute, second, micro = 1, 1, 1, 0, 0, 0, 0
    pm: bool | None = None
    twelve = False
    for key, text in zip(fields, m.groups(), strict=True):
        if key == "YYYY":
            year = int(text)
        elif key == "YY":
            y = int(text)
            year = 2000 + y if y < 70 else 1900 + y
        elif key == "MM":
            month = int(text)
        elif key == "DD":
            day = int(text)
        elif key in ("HH24",):
            hour = int(text)
        elif key in ("HH12", "HH"):
            hour = int(text)
            twelve = True
        elif key == "MI":
            minute = int(text)
        elif key == "SS":
            second = int(text)
        elif key == "MS":
            micro = int(text.ljust(3, "0")) * 1000
        elif key == "US":
            micro = int(text.ljust(6, "0"))
        elif key in ("MONTH", "MON"):
            names = [n if key == "MONTH" else n[:3] for n in _MONTHS]
            if text.lower() not in names:
                raise SqlError("22007", f'invalid value "{text}" for "{key}"')
            month = names.index(text.lower()) + 1
        elif key in ("AM", "PM", "A.M.", "P.M."):
            pm = text[0].lower() == "p"
        elif key in ("BC", "AD", "B.C.", "A.D.") and text[0].lower() == "b":
            raise SqlError("0A000", f'dates before the year 1 (BC) are not supported: "{value}"')
    if twelve or pm is not None:
        if not 1 <= hour <= 12:
            raise SqlError("22008", f'hour "{hour}" is invalid for the 12-hour clock',
                           hint="Use the 24-hour clock, or give an hour between 1 and 12.")
        hour = hour % 12 + (12 if pm else 0)
    try:
        return _dt.datetime(year, month, day, hour, minute, second, micro)
    except ValueError:
        raise SqlError("22008", f'date/time field value out of range: "{value}"') from None


def _to_date(value: Any, fmt: Any) -> str | None:
    if value is None or fmt is None:
        return None
    return _parse_template(str(value), str(fmt)).date().isoformat()


def _to_timestamp_fmt(value: Any, fmt: Any) -> str | None:
    if value is None or fmt is None:
        return None
    return T.format_timestamp(_parse_template(str(value), str(fmt)))


HANDLERS: dict[str, Handler] = {
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    det = {"deterministic": True}
    conn.create_scalar_function("pg_to_date", _to_date, 2, **det)
    conn.create_scalar_function("pg_to_timestamp_fmt", _to_timestamp_fmt, 2, **det)
