"""Date/time input in the forms PostgreSQL accepts, in DateStyle's field order (datetime.c).

pgtypes parses the common ISO spellings with fast regular expressions and falls back to
``decode()`` for everything else: month names ('January 8, 1999', '1999-Jan-08',
'08-Jan-99'), slashes and dots in DateStyle's MDY/DMY/YMD order ('1/8/1999', '01.08.1999'), compact
'19990108' / '990108', day of year '1999.008', Julian days 'J2451187', ISO 'T' separators, 12-hour
times with AM/PM, day names, and time zones as offsets, abbreviations or IANA names. The input is
split into fields and each number is assigned to year, month or day with DecodeNumber()'s rules,
so ambiguous input fails the way PostgreSQL fails (22007 for bad syntax, 22008 for a field out of
range, with the DateStyle hint where PostgreSQL gives it).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

from compute.sqlstate import SqlError

_MONTHS = {name: i + 1 for i, name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"))}
_MONTHS.update({name[:3]: num for name, num in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_DAYS = frozenset({"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sun",
                   "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat"})
# time zone abbreviations PostgreSQL's default set knows (UTC offset in seconds)
# PostgreSQL's default time zone abbreviations (share/timezonesets/Default): seconds east of UTC,
# or the zone whose offset at the date is meant (the 'dynamic' ones)
_ZONE_ABBREVS: dict[str, int | str] = {
    "acdt": 37800, "acsst": 37800, "acst": 34200, "act": -18000, "acwst": 31500, "adt": -10800,
    "aedt": 39600, "aesst": 39600, "aest": 36000, "aft": 16200, "akdt": -28800, "akst": -32400,
    "almst": 25200, "almt": 21600, "amt": -14400, "ast": -14400, "awsst": 32400, "awst": 28800,
    "azost": 0, "azot": -3600, "bdst": 7200, "bdt": 21600, "bnt": 28800, "bort": 28800,
    "bot": -14400, "bra": -10800, "brst": -7200, "brt": -10800, "bst": 3600, "btt": 21600,
    "cadt": 37800, "cast": 34200, "cct": 28800, "cdt": -18000, "cest": 7200, "cet": 3600,
    "cetdst": 7200, "chadt": 49500, "chast": 45900, "chut": 36000, "clst": -10800, "cot": -18000,
    "cst": -21600, "cxt": 25200, "ddut": 36000, "eat": 10800, "edt": -14400, "eest": 10800,
    "eet": 7200, "eetdst": 10800, "egst": 0, "egt": -3600, "est": -18000, "fet": 10800,
    "fjst": 46800, "fjt": 43200, "fnst": -3600, "fnt": -7200, "galt": -21600, "gamt": -32400,
    "gft": -10800, "gilt": 43200, "gmt": 0, "hkt": 28800, "hst": -36000, "ict": 25200,
    "idt": 10800, "irt": 12600, "ist": 7200, "jayt": 32400, "jst": 32400, "kdt": 36000,
    "kgst": 21600, "kst": 32400, "lhst": 37800, "ligt": 36000, "mart": -34200, "mdt": -21600,
    "mest": 7200, "mesz": 7200, "met": 3600, "metdst": 7200, "mez": 3600, "mht": 43200,
    "mmt": 23400, "mpt": 36000, "msd": 14400, "mst": -25200, "must": 18000, "mut": 14400,
    "mvt": 18000, "myt": 28800, "ndt": -9000, "nft": -12600, "npt": 20700, "nst": -12600,
    "nzdt": 46800, "nzst": 43200, "nzt": 43200, "pdt": -25200, "pet": -18000, "pgt": 36000,
    "pht": 28800, "pkst": 21600, "pkt": 18000, "pmdt": -7200, "pmst": -10800, "pont": 39600,
    "pst": -28800, "pwt": 32400, "pyst": -10800, "ret": 14400, "sadt": 37800, "sast": 7200,
    "sct": 14400, "taht": -36000, "tft": 18000, "tjt": 18000, "tot": 46800, "trut": 36000,
    "tvt": 43200, "uct": 0, "ulast": 32400, "ut": 0, "utc": 0, "uyst": -7200, "uyt": -10800,
    "uzst": 21600, "uzt": 18000, "vut": 39600, "wadt": 28800, "wakt": 43200, "wast": 25200,
    "wat": 3600, "wdt": 32400, "wet": 0, "wetdst": 3600, "wft": 43200, "wgst": -7200,
    "wgt": -10800, "xjt": 21600, "yapt": 36000, "yekst": 21600, "z": 0, "zulu": 0,
    "amst": "Asia/Yerevan", "anast": "Asia/Anadyr", "anat": "Asia/Anadyr",
    "arst": "America/Argentina/Buenos_Aires", "art": "America/Argentina/Buenos_Aires",
    "azst": "Asia/Baku", "azt": "Asia/Baku", "ckt": "Pacific/Rarotonga", "clt": "America/Santiago",
    "davt": "Antarctica/Davis", "easst": "Pacific/Easter", "east": "Pacific/Easter",
    "fkst": "Atlantic/Stanley", "fkt": "Atlantic/Stanley", "gest": "Asia/Tbilisi",
    "get": "Asia/Tbilisi", "gyt": "America/Guyana", "iot": "Indian/Chagos",
    "irkst": "Asia/Irkutsk", "irkt": "Asia/Irkutsk", "kgt": "Asia/Bishkek",
    "kost": "Pacific/Kosrae", "krast": "Asia/Krasnoyarsk", "krat": "Asia/Krasnoyarsk",
    "lhdt": "Australia/Lord_Howe", "lint": "Pacific/Kiritimati", "lkt": "Asia/Colombo",
    "magst": "Asia/Magadan", "magt": "Asia/Magadan", "mawt": "Antarctica/Mawson",
    "msk": "Europe/Moscow", "novst": "Asia/Novosibirsk", "novt": "Asia/Novosibirsk",
    "nut": "Pacific/Niue", "omsst": "Asia/Omsk", "omst": "Asia/Omsk", "petst": "Asia/Kamchatka",
    "pett": "Asia/Kamchatka", "pyt": "America/Asuncion", "sgt": "Asia/Singapore",
    "tkt": "Pacific/Fakaofo", "tmt": "Asia/Ashgabat", "ulat": "Asia/Ulaanbaatar",
    "vet": "America/Caracas", "vlast": "Asia/Vladivostok", "vlat": "Asia/Vladivostok",
    "volt": "Europe/Volgograd", "yakst": "Asia/Yakutsk", "yakt": "Asia/Yakutsk",
    "yekt": "Asia/Yekaterinburg",
}


def zone_abbreviation(name: str) -> int | str | None:
    """What a time zone abbreviation means (seconds east, or a zone name), None if it is none."""
    return _ZONE_ABBREVS.get(name.lower())


_IGNORED_WORDS = frozenset({"on", "at", "t"})
_SPECIAL_WORDS = frozenset({"epoch", "now", "today", "tomorrow", "yesterday", "infinity",
                            "-infinity", "+infinity", "allballs"})

# --------------------------------------------------------------------------- calendar


def cdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def date2j(y: int, m: int, d: int) -> int:
    """Julian day number of a (proleptic Gregorian, astronomical-year) date."""
    if m > 2:
        m += 1
        y += 4800
    else:
        m += 13
        y += 4799
    century = cdiv(y, 100)
    julian = y * 365 - 32167 + cdiv(y, 4) - century + cdiv(century, 4)
    return julian + cdiv(7834 * m, 256) + d


def j2date(jd: int) -> tuple[int, int, int]:
    """(astronomical year, month, day) of a Julian day number."""
    julian = jd + 32044
    quad = julian // 146097
    extra = (julian - quad * 146097) * 4 + 3
    julian += 60 + quad * 3 + extra // 146097
    quad = julian // 1461
    julian -= quad * 1461
    y = julian * 4 // 1461
    julian = ((julian + 305) % 365 if y != 0 else (julian + 306) % 366) + 123
    y += quad * 4
    quad = julian * 2141 // 65536
    return y - 4800, (quad + 10) % 12 + 1, julian - 7834 * quad // 256


# words of datetime.c's core keyword table (not time zone names)
_KEYWORDS = frozenset(_MONTHS) | _DAYS | _IGNORED_WORDS | _SPECIAL_WORDS | {"am", "pm", "ad", "bc"}

_BAD_FORMAT = "bad"
_OVERFLOW = "overflow"
_MD_OVERFLOW = "md-overflow"


class _DecodeError(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class Decoded:
    """Fields of one date/time input string (astronomical year; tz_offset in seconds east)."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    hour: int = 0
    minute: int = 0
    second: int = 0
    micros: int = 0
    has_time: bool = False
    tz_offset: int | None = None
    tz_name: str | None = None
    special: str | None = None  # epoch/now/today/... (alone in the input)
    doy: int | None = None
    two_digit_year: bool = False
    text_month: bool = False
    bc: bool = False
    julian: bool = False
    ampm: str | None = None
    fields: set[str] = field(default_factory=set)
    order: str = "MDY"  # DateStyle's field order: MDY, DMY or YMD


def _tokens(text: str) -> list[tuple[str, str]]:
    """ParseDateTime(): (kind, text) fields; kinds: date, time, number, word, tz."""
    s = re.sub(r"(?<=\d)t(?=\d)", " ", text.strip().lower())
    out: list[tuple[str, str]] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace() or c == ",":
            i += 1
            continue
        if c.isdigit():
            j = i
            while j < n and s[j].isdigit():
                j += 1
            if j < n and s[j] == ":":
                k = j
                while k < n and (s[k].isdigit() or s[k] in ":."):
                    k += 1
                out.append(("time", s[i:k]))
                i = k
            elif j < n and s[j] in "-/." and j + 1 < n and s[j + 1].isalnum():
                k = j
                while k < n and (s[k].isalnum() or s[k] in "-/."):
                    k += 1
                piece = s[i:k]
                if s[j] == "." and piece.count(".") == 1 and not any(ch.isalpha() for ch in piece):
                    out.append(("number", piece))
                else:
                    out.append(("date", piece))
                i = k
            else:
                k = j
                if k < n and s[k] == "." and (k + 1 >= n or not s[k + 1].isalnum()):
                    k += 1
                out.append(("number", s[i:k]))
                i = k
            continue
        if c.isalpha():
            j = i
            while j < n and s[j].isalpha():
                j += 1
            word = s[i:j]
            if j < n and s[j] in "-/._" and j + 1 < n and s[j + 1].isalnum():
                k = j
                while k < n and (s[k].isalnum() or s[k] in "-/._+"):
                    k += 1
                out.append(("date" if word in _MONTHS else "zone", s[i:k]))
                i = k
            elif j < n and (s[j].isdigit() or s[j] == "+") and word != "j" and word not in _KEYWORDS:
                # not a keyword: a zone name or date glued to digits ('est320831'): one field
                k = j
                while k < n and (s[k].isalnum() or s[k] in "-/._+:"):
                    k += 1
                out.append(("zone" if "/" in s[i:k] else "date", s[i:k]))
                i = k
            elif word == "j" and j < n and s[j].isdigit():
                k = j
                while k < n and s[k].isdigit():
                    k += 1
                out.append(("julian", s[j:k]))
                i = k
            else:
                out.append(("word", word))
                i = j
            continue
        if c in "+-":
            j = i + 1
            if j < n and s[j].isdigit():
                while j < n and (s[j].isdigit() or s[j] in ":"):
                    j += 1
                out.append(("tz", s[i:j]))
            elif s[i + 1:].strip() == "infinity" and i == 0:
                out.append(("word", s[i:].strip()))
                j = n
            else:
                raise _DecodeError(_BAD_FORMAT)
            i = j
            continue
        raise _DecodeError(_BAD_FORMAT)
    return out


def _number(d: Decoded, text: str) -> None:
    """DecodeNumber(): assign one numeric field by what has been seen and DateStyle's order."""
    if not text.isdigit():
        raise _DecodeError(_BAD_FORMAT)
    flen, val = len(text), int(text)
    have = {f for f in d.fields if f in ("y", "m", "d")}
    if flen == 3 and have == {"y"} and 1 <= val <= 366:
        d.doy = val
        d.fields |= {"m", "d"}
        return
    if not have:
        if flen >= 3 or d.order == "YMD":
            d.year, slot = val, "y"
        elif d.order == "DMY":
            d.day, slot = val, "d"
        else:
            d.month, slot = val, "m"
    elif have == {"y"}:
        d.month, slot = val, "m"
    elif have == {"m"}:
        if d.text_month and (flen >= 3 or d.order == "YMD"):
            d.year, slot = val, "y"
        else:
            d.day, slot = val, "d"
    elif have == {"y", "m"}:
        if d.text_month and flen >= 3 and d.two_digit_year:
            d.day, d.year, slot = d.year, val, "d"
            d.two_digit_year = False
            d.fields.add("d")
            return
        d.day, slot = val, "d"
    elif have == {"d"}:
        d.month, slot = val, "m"
    elif have == {"m", "d"}:
        d.year, slot = val, "y"
    else:
        raise _DecodeError(_BAD_FORMAT)
    d.fields.add(slot)
    if slot == "y":
        d.two_digit_year = flen <= 2


def _concatenated(d: Decoded, text: str) -> None:
    """DecodeNumberField(): YYYYMMDD / YYMMDD before a date, HHMMSS / HHMM after one."""
    digits, _, frac = text.partition(".")
    if {"y", "m", "d"} <= d.fields:
        if len(digits) == 6:
            _set_time(d, int(digits[:2]), int(digits[2:4]), int(digits[4:]), frac)
            return
        if len(digits) == 4:
            _set_time(d, int(digits[:2]), int(digits[2:]), 0, frac)
            return
        raise _DecodeError(_BAD_FORMAT)
    if frac or d.fields & {"y", "m", "d"}:
        raise _DecodeError(_BAD_FORMAT)
    if len(digits) == 8:
        d.year, d.month, d.day = int(digits[:4]), int(digits[4:6]), int(digits[6:])
    elif len(digits) == 6:
        d.year, d.month, d.day = int(digits[:2]), int(digits[2:4]), int(digits[4:])
        d.two_digit_year = True
    else:
        raise _DecodeError(_MD_OVERFLOW)
    d.fields |= {"y", "m", "d"}


def _date_field(d: Decoded, text: str) -> None:
    """DecodeDate(): a field with - / . separators; month names first, then the numbers."""
    if d.fields & {"y", "m", "d"}:
        raise _DecodeError(_BAD_FORMAT)
    parts = [p for p in re.split(r"[-/.]", text) if p]
    numbers = []
    for part in parts:
        if part.isdigit():
            numbers.append(part)
        elif part in _MONTHS:
            if "m" in d.fields:
                raise _DecodeError(_BAD_FORMAT)
            d.month, d.text_month = _MONTHS[part], True
            d.fields.add("m")
        else:
            raise _DecodeError(_BAD_FORMAT)
    for number in numbers:
        _number(d, number)


def _set_time(d: Decoded, hour: int, minute: int, second: int, frac: str) -> None:
    if d.has_time:
        raise _DecodeError(_BAD_FORMAT)
    d.has_time = True
    d.hour, d.minute, d.second = hour, minute, second
    if frac:
        if not frac.isdigit():
            raise _DecodeError(_BAD_FORMAT)
        d.micros = round(int(frac) * 10 ** (6 - len(frac))) if len(frac) <= 6 else round(int(frac[:7]) / 10)


def _time_field(d: Decoded, text: str) -> None:
    pieces = text.split(":")
    if len(pieces) > 3 or not all(pieces) or text.endswith("."):
        raise _DecodeError(_BAD_FORMAT)
    hour, minute = pieces[0], pieces[1]
    sec, _, frac = (pieces[2] if len(pieces) == 3 else "0").partition(".")
    if len(pieces) == 2 and "." in minute:
        minute, _, frac = minute.partition(".")
        # mm:ss.f form is hours:minutes for PostgreSQL only without fraction; keep it simple
    if not (hour.isdigit() and minute.isdigit() and sec.isdigit()):
        raise _DecodeError(_BAD_FORMAT)
    _set_time(d, int(hour), int(minute), int(sec), frac)


def _tz_field(d: Decoded, text: str) -> None:
    if d.tz_offset is not None or d.tz_name is not None:
        raise _DecodeError(_BAD_FORMAT)
    sign = -1 if text[0] == "-" else 1
    body = text[1:]
    if ":" in body:
        parts = body.split(":")
        if len(parts) > 3 or not all(p.isdigit() for p in parts):
            raise _DecodeError(_BAD_FORMAT)
        hours, minutes, seconds = int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 0
    elif len(body) <= 2:
        hours, minutes, seconds = int(body), 0, 0
    elif len(body) == 4:
        hours, minutes, seconds = int(body[:2]), int(body[2:]), 0
    elif len(body) == 6:
        hours, minutes, seconds = int(body[:2]), int(body[2:4]), int(body[4:])
    else:
        raise _DecodeError(_BAD_FORMAT)
    if hours > 15 or minutes > 59 or seconds > 59:
        raise _DecodeError("tz-overflow")
    d.tz_offset = sign * (hours * 3600 + minutes * 60 + seconds)


def _word(d: Decoded, word: str, pending: list[str]) -> None:
    if word in _MONTHS:
        if "m" in d.fields and not d.text_month and "d" not in d.fields and d.month and 1 <= d.month <= 31:
            d.day = d.month  # '8 jan 1999': the number taken for a month was the day
            d.fields.add("d")
        elif "m" in d.fields:
            raise _DecodeError(_BAD_FORMAT)
        d.month, d.text_month = _MONTHS[word], True
        d.fields.add("m")
    elif word in _DAYS or word in _IGNORED_WORDS:
        return
    elif word in ("am", "pm", "a.m.", "p.m."):
        if d.ampm is not None:
            raise _DecodeError(_BAD_FORMAT)
        d.ampm = word[0]
    elif word in ("ad", "bc"):
        d.bc = word == "bc"
    elif word == "j":
        pending.append("julian")
    elif word == "allballs":
        _set_time(d, 0, 0, 0, "")
        d.tz_offset = 0
    elif word in ("today", "tomorrow", "yesterday"):
        # a date that may take a time ('today 10:00'); the UTC clock's date, see docs
        if d.fields & {"y", "m", "d"}:
            raise _DecodeError(_BAD_FORMAT)
        day = _dt.datetime.now(_dt.UTC).date() + _dt.timedelta(days={"today": 0, "tomorrow": 1}.get(word, -1))
        d.year, d.month, d.day = day.year, day.month, day.day
        d.julian = True  # a complete year: no two-digit or BC adjustment
        d.fields |= {"y", "m", "d"}
    elif word in _SPECIAL_WORDS:
        if d.special is not None:
            raise _DecodeError(_BAD_FORMAT)
        d.special = word
    elif word in _ZONE_ABBREVS:
        if d.tz_offset is not None or d.tz_name is not None:
            raise _DecodeError(_BAD_FORMAT)
        meaning = _ZONE_ABBREVS[word]
        if isinstance(meaning, str):
            d.tz_name = word  # a dynamic abbreviation ('msk'): its zone's offset at the date
        else:
            d.tz_offset = meaning
    else:
        raise _DecodeError(_BAD_FORMAT)


def _julian(d: Decoded, digits: str) -> None:
    if d.fields & {"y", "m", "d"}:
        raise _DecodeError(_BAD_FORMAT)
    d.year, d.month, d.day = j2date(int(digits))
    d.julian = True
    d.fields |= {"y", "m", "d"}


def _decode_fields(text: str, order: str) -> Decoded:
    d = Decoded(order=order)
    pending: list[str] = []
    for kind, value in _tokens(text):
        if pending and kind == "number":
            pending.pop()
            _julian(d, value)
            continue
        if pending:
            raise _DecodeError(_BAD_FORMAT)
        if kind == "date" and value[0].isalpha() and {"m", "d"} <= d.fields:
            if d.tz_offset is not None or d.tz_name is not None:  # a zone name with digits (DecodeDateTime)
                raise _DecodeError(_BAD_FORMAT)
            d.tz_name = value
        elif kind == "date":
            _date_field(d, value)
        elif kind == "time":
            _time_field(d, value)
        elif kind == "number":
            if "." in value and not value.endswith(".") and not d.fields & {"y", "m", "d"}:
                _date_field(d, value)
            elif len(value.rstrip(".")) >= 6 or ({"y", "m", "d"} <= d.fields and len(value) == 4):
                _concatenated(d, value.rstrip("."))
            else:
                _number(d, value.rstrip("."))
        elif kind == "julian":
            _julian(d, value)
        elif kind == "tz":
            _tz_field(d, value)
        elif kind == "zone":
            if d.tz_offset is not None or d.tz_name is not None:
                raise _DecodeError(_BAD_FORMAT)
            d.tz_name = value
        else:
            _word(d, value, pending)
    return d  # a trailing 'J' with no number is ignored, as PostgreSQL does


_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _validate(d: Decoded, need_date: bool) -> None:
    """ValidateDate() and the time-of-day checks of DecodeDateTime()."""
    if d.special is not None:
        if d.fields or d.has_time:
            raise _DecodeError(_BAD_FORMAT)
        return
    if d.ampm is not None:
        if d.hour > 12:
            raise _DecodeError(_OVERFLOW)
        if d.ampm == "a" and d.hour == 12:
            d.hour = 0
        elif d.ampm == "p" and d.hour != 12:
            d.hour += 12
    if not need_date:
        return
    if {"y", "m", "d"} - d.fields:
        raise _DecodeError(_BAD_FORMAT)
    assert d.year is not None
    if not d.julian:
        if d.two_digit_year and d.year < 100 and not d.bc:
            d.year += 2000 if d.year < 70 else 1900
        if d.year == 0:
            raise _DecodeError(_OVERFLOW)
        if d.bc:
            d.year = 1 - d.year
    if d.doy is not None:
        _, d.month, d.day = j2date(date2j(d.year, 1, 1) + d.doy - 1)
    assert d.month is not None and d.day is not None
    if not 1 <= d.month <= 12 or not 1 <= d.day <= 31:
        raise _DecodeError(_MD_OVERFLOW)
    if d.day > _DAYS_IN_MONTH[d.month - 1] + (1 if d.month == 2 and _is_leap(d.year) else 0):
        raise _DecodeError(_OVERFLOW)
    if d.has_time and (d.hour > 24 or d.minute > 59 or d.second > 60
                       or (d.hour == 24 and (d.minute or d.second or d.micros))):
        raise _DecodeError(_OVERFLOW)


def decode(text: str, type_name: str, need_date: bool = True, order: str = "MDY") -> Decoded:
    """Decode ``text`` as input for ``type_name`` (date, timestamp, timestamp with time zone);
    ``order``: DateStyle's field order for all-numeric dates."""
    try:
        d = _decode_fields(text, order)
        _validate(d, need_date)
        return d
    except _DecodeError as exc:
        if exc.kind == _BAD_FORMAT:
            raise SqlError("22007", f'invalid input syntax for type {type_name}: "{text}"') from None
        if exc.kind == "tz-overflow":
            raise SqlError("22009", f'time zone displacement out of range: "{text}"') from None
        hint = 'Perhaps you need a different "datestyle" setting.' if exc.kind == _MD_OVERFLOW else None
        raise SqlError("22008", f'date/time field value out of range: "{text}"', hint=hint) from None


# --------------------------------------------------------------------------- ISO 8601 intervals

_ISO_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)")


class _IsoInterval:
    """DecodeISO8601Interval(): 'P1Y2M3DT4H5M6.5S', 'P0.5Y', alternative 'P0001-02-03T04:05:06'."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.years = self.months = self.days = self.micros = 0

    def number(self) -> tuple[int, float, int]:
        """(integer part, signed fraction, digits in the integer part) at the current position."""
        m = _ISO_NUMBER.match(self.text, self.pos)
        if not m:
            raise _DecodeError(_BAD_FORMAT)
        self.pos = m.end()
        value = float(m.group(0))
        whole = int(value)
        digits = len(m.group(1).split(".")[0])
        return whole, value - whole, digits

    def unit(self) -> str:
        ch = self.text[self.pos:self.pos + 1]
        self.pos += 1 if ch else 0
        return ch

    def fract_micros(self, frac: float, scale: int) -> None:
        if frac == 0:
            return
        frac *= scale
        usec = int(frac)
        frac -= usec
        self.micros += usec + round(frac)

    def fract_days(self, frac: float, scale: int) -> None:
        if frac == 0:
            return
        frac *= scale
        extra = int(frac)
        self.days += extra
        self.fract_micros(frac - extra, 86_400_000_000)

    def add_years(self, val: int, frac: float) -> None:
        self.years += val
        self.months += round(frac * 12)

    def add_months(self, val: int, frac: float) -> None:
        self.months += val
        self.fract_days(frac, 30)

    def add_days(self, val: int, frac: float) -> None:
        self.days += val
        self.fract_micros(frac, 86_400_000_000)

    def add_micros(self, val: int, frac: float, scale: int) -> None:
        self.micros += val * scale
        self.fract_micros(frac, scale)

    def parse(self) -> tuple[int, int, int]:
        if not self.text.startswith("P") or self.text == "P":
            raise _DecodeError(_BAD_FORMAT)
        self.pos = 1
        datepart, havefield = True, False
        while self.pos < len(self.text):
            if self.text[self.pos] == "T":
                datepart, havefield = False, False
                self.pos += 1
                continue
            val, frac, digits = self.number()
            unit = self.unit()
            if datepart:
                if unit == "Y":
                    self.add_years(val, frac)
                elif unit == "M":
                    self.add_months(val, frac)
                elif unit == "W":
                    self.days += val * 7
                    self.fract_days(frac, 7)
                elif unit == "D":
                    self.add_days(val, frac)
                elif unit in ("T", "", "-"):
                    if unit != "-" and digits == 8 and not havefield and frac == 0:
                        self.years += val // 10000
                        self.months += val // 100 % 100
                        self.days += val % 100
                    else:
                        if havefield:
                            raise _DecodeError(_BAD_FORMAT)
                        self.add_years(val, frac)
                        if unit == "-":
                            val, frac, _ = self.number()
                            self.add_months(val, frac)
                            unit = self.unit()
                            if unit == "-":
                                val, frac, _ = self.number()
                                self.add_days(val, frac)
                                unit = self.unit()
                            if unit not in ("", "T"):
                                raise _DecodeError(_BAD_FORMAT)
                    if unit == "":
                        break
                    datepart, havefield = False, False
                    continue
                else:
                    raise _DecodeError(_BAD_FORMAT)
            else:
                if unit in ("H", "M", "S"):
                    self.add_micros(val, frac, {"H": 3_600_000_000, "M": 60_000_000, "S": 1_000_000}[unit])
                elif unit in ("", ":"):
                    if unit == "" and digits == 6 and not havefield and frac == 0:
                        self.micros += (val // 10000 * 3600 + val // 100 % 100 * 60 + val % 100) * 1_000_000
                        break
                    if havefield:
                        raise _DecodeError(_BAD_FORMAT)
                    self.add_micros(val, frac, 3_600_000_000)
                    if unit == ":":
                        val, frac, _ = self.number()
                        self.add_micros(val, frac, 60_000_000)
                        unit = self.unit()
                        if unit == ":":
                            val, frac, _ = self.number()
                            self.add_micros(val, frac, 1_000_000)
                            unit = self.unit()
                        if unit != "":
                            raise _DecodeError(_BAD_FORMAT)
                    break
                else:
                    raise _DecodeError(_BAD_FORMAT)
            havefield = True
        return self.years * 12 + self.months, self.days, self.micros


def iso8601_interval(text: str) -> tuple[int, int, int]:
    """(months, days, microseconds) of an ISO 8601 interval ('P...'); 22007 when malformed."""
    try:
        return _IsoInterval(text).parse()
    except _DecodeError:
        raise SqlError("22007", f'invalid input syntax for type interval: "{text}"') from None
