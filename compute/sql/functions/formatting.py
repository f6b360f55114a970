"""Formatting functions: to_char, to_date, to_timestamp (their translation and UDFs); to_char is
the output side of PostgreSQL's formatting.c, for date/time values and numbers.

A format string is parsed into nodes (keywords with FM/TM/TH/th modifiers, literal characters,
double-quoted text, backslash escapes) and each keyword renders one field. Date/time values go
through a ``Tm`` record built with PostgreSQL's own calendar arithmetic (Julian days, ISO weeks,
astronomical years), so BC years, intervals (``time`` too, as PostgreSQL casts it to interval)
and timestamptz in the session TimeZone print exactly as PostgreSQL prints them. Numbers follow
NUM_processor: digit positions, sign placement (S, MI, PL, SG, PR), rounding per input type, '#'
fill on overflow, fill mode, EEEE, V, RN and ordinal suffixes. The C locale is assumed (PostgreSQL
runs with --locale=C.UTF-8 here): D is '.', G is ',', L is a blank.
"""

from __future__ import annotations

import datetime as _dt
import math
import struct
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.datetime_input import cdiv as _cdiv
from compute.datetime_input import date2j
from compute.sql.api import SqlError
from compute.sql.functions.common import args_as, scalar_registrar, type_names
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler, Scope, fn, lit_int
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler




# --------------------------------------------------------------------------- format parsing

_FM, _TH, _th, _TM = 1, 2, 4, 8

_DCH_KEYWORDS = frozenset("""
A.D. A.M. AD AM B.C. BC CC DAY DDD DD DY Day Dy D FF1 FF2 FF3 FF4 FF5 FF6 FX HH24 HH12 HH
IDDD ID IW IYYY IYY IY I J MI MM MONTH MON MS Month Mon OF P.M. PM Q RM SSSSS SSSS SS TZH TZM TZ
US WW W Y,YYY YYYY YYY YY Y a.d. a.m. ad am b.c. bc cc day ddd dd dy d ff1 ff2 ff3 ff4 ff5 ff6
fx hh24 hh12 hh iddd id iw iyyy iyy iy i j mi mm month mon ms of p.m. pm q rm sssss ssss ss tz
us ww w y,yyy yyyy yyy yy y
""".split())

_NUM_KEYWORDS = frozenset("""
, . 0 9 B C D EEEE FM G L MI PL PR RN SG SP S TH V b c d eeee fm g l mi pl pr rn sg sp s th v
""".split())

# Lower-case keywords that mean the same as their upper-case spelling (the others print in
# lower case: day, dy, month, mon, am/pm, ad/bc, rm, tz...).
_DCH_SAME_AS_UPPER = frozenset("""
cc ddd dd d ff1 ff2 ff3 ff4 ff5 ff6 fx hh24 hh12 hh iddd id iw iyyy iyy iy i j mi mm ms of q
sssss ssss ss us ww w y,yyy yyyy yyy yy y
""".split())


@dataclass
class _Node:
    key: str | None  # keyword (canonical spelling) or None for a literal
    text: str = ""  # the literal text
    suffix: int = 0


def _match_keyword(fmt: str, pos: int, keywords: frozenset[str]) -> str | None:
    for length in (5, 4, 3, 2, 1):
        word = fmt[pos:pos + length]
        if len(word) == length and word in keywords:
            return word
    return None


def _parse_format(fmt: str, keywords: frozenset[str], datetime: bool) -> list[_Node]:
    """formatting.c parse_format(): keywords (longest match), prefixes/suffixes, literals."""
    nodes: list[_Node] = []
    pos = 0
    while pos < len(fmt):
        suffix = 0
        if datetime and fmt[pos:pos + 2] in ("FM", "fm", "TM", "tm"):
            suffix = _FM if fmt[pos:pos + 2] in ("FM", "fm") else _TM
            pos += 2
        key = _match_keyword(fmt, pos, keywords) if pos < len(fmt) else None
        if key is not None:
            pos += len(key)
            if datetime and fmt[pos:pos + 2] in ("TH", "th", "SP"):
                suffix |= {"TH": _TH, "th": _th, "SP": 0}[fmt[pos:pos + 2]]
                pos += 2
            nodes.append(_Node(key, suffix=suffix))
            continue
        if pos >= len(fmt):
            break
        ch = fmt[pos]
        if ch == '"':
            pos += 1
            while pos < len(fmt):
                if fmt[pos] == '"':
                    pos += 1
                    break
                if fmt[pos] == "\\" and pos + 1 < len(fmt):
                    pos += 1
                nodes.append(_Node(None, fmt[pos]))
                pos += 1
            continue
        if ch == "\\" and fmt[pos + 1:pos + 2] == '"':
            pos += 1
        nodes.append(_Node(None, fmt[pos]))
        pos += 1
    return nodes


# --------------------------------------------------------------------------- calendar helpers


def _cmod(a: int, b: int) -> int:
    return a - b * _cdiv(a, b)


def _j2day(jd: int) -> int:
    """Day of the week, 0 = Sunday."""
    return (jd + 1) % 7


def _iso_week_start(year: int) -> int:
    day4 = date2j(year, 1, 4)
    return day4 - _j2day(day4 - 1)


def _iso_year_week(year: int, mon: int, mday: int) -> tuple[int, int]:
    dayn = date2j(year, mon, mday)
    iso_year = year
    start = _iso_week_start(year)
    if dayn < start:
        iso_year = year - 1
        start = _iso_week_start(iso_year)
    week = _cdiv(dayn - start, 7) + 1
    if week >= 52:
        nxt = _iso_week_start(year + 1)
        if dayn >= nxt:
            iso_year, week = year + 1, _cdiv(dayn - nxt, 7) + 1
    return iso_year, week


def _iso_year_day(year: int, mon: int, mday: int) -> int:
    iso_year, _ = _iso_year_week(year, mon, mday)
    return date2j(year, mon, mday) - _iso_week_start(iso_year) + 1


@dataclass
class Tm:
    """PostgreSQL's struct pg_tm plus fractional seconds and time zone (tm_year astronomical)."""

    year: int
    mon: int
    mday: int
    hour: int = 0
    min: int = 0
    sec: int = 0
    fsec: int = 0  # microseconds
    yday: int = 0
    wday: int = 0
    gmtoff: int = 0
    tzn: str | None = None


def tm_from_date(year: int, mon: int, mday: int, micros_of_day: int = 0) -> Tm:
    jd = date2j(year, mon, mday)
    secs, fsec = divmod(micros_of_day, 1_000_000)
    hour, rest = divmod(secs, 3600)
    return Tm(year, mon, mday, hour, rest // 60, rest % 60, fsec,
              yday=jd - date2j(year, 1, 1) + 1, wday=_j2day(jd))


def tm_from_interval(months: int, days: int, micros: int) -> Tm:
    """interval2tm() plus interval_to_char()'s day-of-year."""
    tm = Tm(_cdiv(months, 12), _cmod(months, 12), days)
    tm.hour = _cdiv(micros, 3_600_000_000)
    rest = micros - tm.hour * 3_600_000_000
    tm.min = _cdiv(rest, 60_000_000)
    rest -= tm.min * 60_000_000
    tm.sec = _cdiv(rest, 1_000_000)
    tm.fsec = rest - tm.sec * 1_000_000
    tm.yday = (tm.year * 12 + tm.mon) * 30 + tm.mday
    return tm


# --------------------------------------------------------------------------- date/time output

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_ROMAN_MONTHS = ("XII", "XI", "X", "IX", "VIII", "VII", "VI", "V", "IV", "III", "II", "I")


def _ordinal(num: str, upper: bool) -> str:
    """get_th(): ST/ND/RD/TH for the last digit ("teens" get TH)."""
    if not num or not num[-1].isdigit():
        raise SqlError("22P02", f'"{num}" is not a number')
    last = num[-1]
    if len(num) > 1 and num[-2] == "1":
        last = "0"
    suffix = {"1": "st", "2": "nd", "3": "rd"}.get(last, "th")
    return num + (suffix.upper() if upper else suffix)


def _zpad(value: int, width: int) -> str:
    """sprintf("%0*d"): the width includes a minus sign."""
    return f"{value:0{width}d}" if width else str(value)


def _adjust_year(year: int, is_interval: bool) -> int:
    return year if is_interval or year > 0 else -(year - 1)


def _invalid_for_interval() -> SqlError:
    return SqlError("22007", "invalid format specification for an interval value",
                    hint="Intervals are not tied to specific calendar dates.")


_INTERVAL_INVALID = frozenset("""
A.D. AD B.C. BC a.d. ad b.c. bc MONTH Month month MON Mon mon DAY Day day DY Dy dy D ID TZ tz
TZH TZM OF
""".split())


def format_tm(tm: Tm, fmt: str, is_interval: bool) -> str:
    """DCH_to_char(): render ``tm`` with the format ``fmt``."""
    out: list[str] = []
    for node in _parse_format(fmt, _DCH_KEYWORDS, True):
        if node.key is None:
            out.append(node.text)
            continue
        key = node.key
        if key in _DCH_SAME_AS_UPPER:
            key = key.upper()
        if is_interval and key in _INTERVAL_INVALID:
            raise _invalid_for_interval()
        fm = bool(node.suffix & _FM)
        render = _render_time if key in _TIME_KEYS else _render_date
        text = render(key, tm, fm, bool(node.suffix & _TM), is_interval)
        if text is not None and node.suffix & (_TH | _th):
            text = _ordinal(text, bool(node.suffix & _TH))
        if text is not None:
            out.append(text)
    return "".join(out)


def _name(name: str, style: str, fm: bool, tm_prefix: bool, width: int) -> str:
    if style == "upper":
        name = name.upper()
    elif style == "lower":
        name = name.lower()
    return name if fm or tm_prefix or not width else name.ljust(width)


# keywords of the time of day and zone (_render_time); the rest are date keywords (_render_date)
_TIME_KEYS = frozenset({"A.M.", "P.M.", "AM", "PM", "a.m.", "p.m.", "am", "pm", "HH", "HH12", "HH24", "MI",
                        "SS", "MS", "US", "FF1", "FF2", "FF3", "FF4", "FF5", "FF6", "SSSS", "SSSSS", "TZ",
                        "tz", "TZH", "TZM", "OF"})


def _render_time(key: str, tm: Tm, fm: bool, tm_prefix: bool, is_interval: bool) -> str | None:
    """One time-of-day or zone keyword; None for one that prints nothing (and takes no TH)."""
    pm = _cmod(tm.hour, 24) >= 12
    if key in ("A.M.", "P.M."):
        return "P.M." if pm else "A.M."
    if key in ("AM", "PM"):
        return "PM" if pm else "AM"
    if key in ("a.m.", "p.m."):
        return "p.m." if pm else "a.m."
    if key in ("am", "pm"):
        return "pm" if pm else "am"
    if key in ("HH", "HH12"):
        hour12 = _cmod(tm.hour, 12)
        return _zpad(12 if hour12 == 0 else hour12, 0 if fm else (2 if tm.hour >= 0 else 3))
    if key == "HH24":
        return _zpad(tm.hour, 0 if fm else (2 if tm.hour >= 0 else 3))
    if key == "MI":
        return _zpad(tm.min, 0 if fm else (2 if tm.min >= 0 else 3))
    if key == "SS":
        return _zpad(tm.sec, 0 if fm else (2 if tm.sec >= 0 else 3))
    if key.startswith("FF") or key in ("MS", "US"):
        digits = 3 if key == "MS" else 6 if key == "US" else int(key[2])
        return _zpad(_cdiv(tm.fsec, 10 ** (6 - digits)), digits)
    if key in ("SSSS", "SSSSS"):
        return str(tm.hour * 3600 + tm.min * 60 + tm.sec)
    if key in ("TZ", "tz"):
        if tm.tzn is None:
            return None
        return tm.tzn.upper() if key == "TZ" else tm.tzn.lower()
    if key == "TZH":
        return ("+" if tm.gmtoff >= 0 else "-") + _zpad(abs(tm.gmtoff) // 3600, 2)
    if key == "TZM":
        return _zpad(abs(tm.gmtoff) % 3600 // 60, 2)
    if key == "OF":
        text = ("+" if tm.gmtoff >= 0 else "-") + _zpad(abs(tm.gmtoff) // 3600, 0 if fm else 2)
        if abs(tm.gmtoff) % 3600:
            text += ":" + _zpad(abs(tm.gmtoff) % 3600 // 60, 2)
        return text
    raise AssertionError(key)


def _render_date(key: str, tm: Tm, fm: bool, tm_prefix: bool, is_interval: bool) -> str | None:
    """One date keyword; None for one that prints nothing (and takes no TH)."""
    two = 0 if fm else 2
    if key in ("A.D.", "B.C."):
        return "B.C." if tm.year <= 0 else "A.D."
    if key in ("AD", "BC"):
        return "BC" if tm.year <= 0 else "AD"
    if key in ("a.d.", "b.c."):
        return "b.c." if tm.year <= 0 else "a.d."
    if key in ("ad", "bc"):
        return "bc" if tm.year <= 0 else "ad"
    if key in ("MONTH", "Month", "month", "MON", "Mon", "mon"):
        if not tm.mon:
            return None
        full = key in ("MONTH", "Month", "month")
        name = _MONTHS[tm.mon - 1] if full else _MONTHS[tm.mon - 1][:3]
        style = "upper" if key.isupper() else "lower" if key.islower() else "title"
        return _name(name, style, fm, tm_prefix, 9 if full else 0)
    if key == "MM":
        return _zpad(tm.mon, 0 if fm else (2 if tm.mon >= 0 else 3))
    if key in ("DAY", "Day", "day", "DY", "Dy", "dy"):
        full = key in ("DAY", "Day", "day")
        name = _DAYS[tm.wday] if full else _DAYS[tm.wday][:3]
        style = "upper" if key.isupper() else "lower" if key.islower() else "title"
        return _name(name, style, fm, tm_prefix, 9 if full else 0)
    if key == "DDD":
        return _zpad(tm.yday, 0 if fm else 3)
    if key == "IDDD":
        return _zpad(_iso_year_day(tm.year, tm.mon, tm.mday), 0 if fm else 3)
    if key == "DD":
        return _zpad(tm.mday, two)
    if key == "D":
        return str(tm.wday + 1)
    if key == "ID":
        return str(7 if tm.wday == 0 else tm.wday)
    if key == "WW":
        return _zpad(_cdiv(tm.yday - 1, 7) + 1, two)
    if key == "IW":
        return _zpad(_iso_year_week(tm.year, tm.mon, tm.mday)[1], two)
    if key == "Q":
        if not tm.mon:
            return None
        return str(_cdiv(tm.mon - 1, 3) + 1)
    if key == "CC":
        if is_interval:
            century = _cdiv(tm.year, 100)
        elif tm.year > 0:
            century = _cdiv(tm.year - 1, 100) + 1
        else:
            century = _cdiv(tm.year, 100) - 1
        if -99 <= century <= 99:
            return _zpad(century, 0 if fm else (2 if century >= 0 else 3))
        return str(century)
    if key in ("Y,YYY", "YYYY", "YYY", "YY", "Y", "IYYY", "IYY", "IY", "I"):
        # the field width follows the calendar year's sign, also for the ISO year
        negative = _adjust_year(tm.year, is_interval) < 0
        year = tm.year if key[0] == "Y" else _iso_year_week(tm.year, tm.mon, tm.mday)[0]
        year = _adjust_year(year, is_interval)
        if key == "Y,YYY":
            thousands = _cdiv(year, 1000)
            return f"{thousands},{year - thousands * 1000:03d}"
        digits = len(key)
        if digits == 4:
            return _zpad(year, 0 if fm else (5 if negative else 4))
        if digits == 1:
            return str(_cmod(year, 10))
        return _zpad(_cmod(year, 10 ** digits), 0 if fm else (digits + 1 if negative else digits))
    if key in ("RM", "rm"):
        if not tm.mon and not tm.year:
            return None
        if tm.mon == 0:
            index = 0 if tm.year >= 0 else 11
        elif tm.mon < 0:
            index = -(tm.mon + 1)
        else:
            index = 12 - tm.mon
        numeral = _ROMAN_MONTHS[index] if key == "RM" else _ROMAN_MONTHS[index].lower()
        return numeral if fm else numeral.ljust(4)
    if key == "W":
        return str(_cdiv(tm.mday - 1, 7) + 1)
    if key == "J":
        return str(date2j(tm.year, tm.mon, tm.mday))
    if key == "FX":
        return None
    raise AssertionError(key)


# --------------------------------------------------------------------------- number output


@dataclass
class _NumDesc:
    pre: int = 0
    post: int = 0
    lsign: int = 0  # -1 before the digits, 1 after, 0 none
    pre_lsign_num: int = 0
    multi: int = 0
    zero_start: int = 0
    zero_end: int = 0
    decimal: bool = False
    zero: bool = False
    blank: bool = False
    fillmode: bool = False
    bracket: bool = False
    minus: bool = False
    plus: bool = False
    roman: bool = False
    is_multi: bool = False
    eeee: bool = False


def _syntax(message: str, detail: str | None = None) -> SqlError:
    return SqlError("42601", message, detail=detail)


def _prepare_number_format(fmt: str) -> tuple[list[_Node], _NumDesc]:
    """parse_format() + NUMDesc_prepare() for the NUM keywords."""
    nodes = _parse_format(fmt, _NUM_KEYWORDS, False)
    num = _NumDesc()
    for node in nodes:
        key = node.key
        if key is None:
            continue
        upper = key.upper()
        if num.eeee and upper != "EEEE":
            raise _syntax('"EEEE" must be the last pattern used')
        if upper == "9":
            if num.bracket:
                raise _syntax('"9" must be ahead of "PR"')
            if num.is_multi:
                num.multi += 1
            elif num.decimal:
                num.post += 1
            else:
                num.pre += 1
        elif upper == "0":
            if num.bracket:
                raise _syntax('"0" must be ahead of "PR"')
            if not num.zero and not num.decimal:
                num.zero = True
                num.zero_start = num.pre + 1
            if not num.decimal:
                num.pre += 1
            else:
                num.post += 1
            num.zero_end = num.pre + num.post
        elif upper == "B":
            if num.pre == 0 and num.post == 0 and not num.zero:
                num.blank = True
        elif upper in ("D", "."):
            if num.decimal:
                raise _syntax("multiple decimal points")
            if num.is_multi:
                raise _syntax('cannot use "V" and decimal point together')
            num.decimal = True
        elif upper == "FM":
            num.fillmode = True
        elif upper == "S":
            if num.lsign:
                raise _syntax('cannot use "S" twice')
            if num.plus or num.minus or num.bracket:
                raise _syntax('cannot use "S" and "PL"/"MI"/"SG"/"PR" together')
            if not num.decimal:
                num.lsign = -1
                num.pre_lsign_num = num.pre
            elif num.lsign == 0:
                num.lsign = 1
        elif upper in ("MI", "PL", "SG"):
            if num.lsign:
                raise _syntax(f'cannot use "S" and "{upper}" together')
            num.minus = num.minus or upper in ("MI", "SG")
            num.plus = num.plus or upper in ("PL", "SG")
        elif upper == "PR":
            if num.lsign or num.plus or num.minus:
                raise _syntax('cannot use "PR" and "S"/"PL"/"MI"/"SG" together')
            num.bracket = True
        elif upper == "RN":
            num.roman = True
        elif upper == "V":
            if num.decimal:
                raise _syntax('cannot use "V" and decimal point together')
            num.is_multi = True
        elif upper == "EEEE":
            if num.eeee:
                raise _syntax('cannot use "EEEE" twice')
            if (num.blank or num.fillmode or num.lsign or num.bracket or num.minus or num.plus
                    or num.roman or num.is_multi):
                raise _syntax('"EEEE" is incompatible with other formats',
                              '"EEEE" may only be used together with digit and decimal point patterns.')
            num.eeee = True
    return nodes, num


def _roman(number: int) -> str:
    if number > 3999 or number < 1:
        return "#" * 15
    ones = ("", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX")
    tens = ("", "X", "XX", "XXX", "XL", "L", "LX", "LXX", "LXXX", "XC")
    hundreds = ("", "C", "CC", "CCC", "CD", "D", "DC", "DCC", "DCCC", "CM")
    return "M" * (number // 1000) + hundreds[number // 100 % 10] + tens[number // 10 % 10] + ones[number % 10]


def _last_relevant(number: str) -> int | None:
    """Index of the last non-zero digit after the decimal point (or of the point itself)."""
    point = number.find(".")
    if point < 0:
        return None
    result = point
    for i in range(point + 1, len(number)):
        if number[i] != "0":
            result = i
    return result


class _NumProc:
    """NUM_processor() for to_char: walk the format nodes, emit digits, signs and literals."""

    def __init__(self, nodes: list[_Node], num: _NumDesc, number: str, out_pre_spaces: int,
                 sign: str) -> None:
        self.nodes, self.num, self.number = nodes, num, number
        self.sign = sign
        self.out_pre_spaces = out_pre_spaces
        self.pos = 0  # number_p as an index into number
        self.out: list[str] = []
        self.num_in = False
        self.num_curr = 0
        self.last_relevant: int | None = None

    def _at(self, index: int | None) -> str:
        if index is None or index >= len(self.number):
            return ""
        return self.number[index]

    def _predec_space(self) -> bool:
        return (not self.num.zero and self.pos == 0 and self.number[:1] == "0" and self.num.post != 0)

    def run(self) -> str:
        num = self.num
        if num.zero_start:
            num.zero_start -= 1
        if num.eeee:
            return self.number
        if num.roman:
            num.lsign = num.pre_lsign_num = num.post = num.pre = 0
            self.out_pre_spaces = 0
            self.sign = "\0"  # SG then writes C's NUL and ends the output
        if num.plus or num.minus:
            self.sign_wrote = not (num.plus and not num.minus)
        else:
            if self.sign != "-" and num.fillmode:
                num.bracket = False
            self.sign_wrote = self.sign == "+" and num.fillmode and not num.lsign
            if num.lsign == -1 and num.pre == num.pre_lsign_num:
                num.lsign = 1
        self.num_count = num.post + num.pre - 1
        if num.fillmode and num.decimal:
            self.last_relevant = _last_relevant(self.number)
            if self.last_relevant is not None and num.zero_end > self.out_pre_spaces:
                last_zero = min(len(self.number) - 1, num.zero_end - self.out_pre_spaces)
                self.last_relevant = max(self.last_relevant, last_zero)
        if not self.sign_wrote and self.out_pre_spaces == 0:
            self.num_count += 1
        for node in self.nodes:
            if node.key is None:
                self.out.append(node.text)
                continue
            key = node.key
            upper = key.upper()
            if upper in ("9", "0", ".", "D"):
                self._numpart(upper)
            elif upper in (",", "G"):
                if not self.num_in:
                    if not num.fillmode:
                        self.out.append(" ")
                else:
                    self.out.append(",")
            elif upper == "L":
                self.out.append(" ")
            elif upper == "RN":
                if num.roman:
                    text = self.number if key == "RN" else self.number.lower()
                    self.out.append(text.lstrip() if num.fillmode else text)
            elif upper == "TH":
                if num.roman or self.number[:1] == "#" or self.sign == "-" or num.decimal:
                    continue
                self.out.append(_ordinal(self.number, key == "TH")[len(self.number):])
            elif upper == "MI":
                if self.sign == "-":
                    self.out.append("-")
                elif not num.fillmode:
                    self.out.append(" ")
            elif upper == "PL":
                if self.sign == "+":
                    self.out.append("+")
                elif not num.fillmode:
                    self.out.append(" ")
            elif upper == "SG":
                self.out.append(self.sign)
        return "".join(self.out).split("\0", 1)[0]

    def _numpart(self, key: str) -> None:
        num = self.num
        if num.roman:
            return
        self.num_in = False
        if (not self.sign_wrote
                and (self.num_curr >= self.out_pre_spaces or (num.zero and num.zero_start == self.num_curr))
                and (not self._predec_space() or self._at(self.last_relevant) == ".")):
            if num.lsign:
                if num.lsign == -1:
                    self.out.append("-" if self.sign == "-" else "+")
                    self.sign_wrote = True
            elif num.bracket:
                self.out.append(" " if self.sign == "+" else "<")
                self.sign_wrote = True
            elif self.sign == "+":
                if not num.fillmode:
                    self.out.append(" ")
                self.sign_wrote = True
            elif self.sign == "-":
                self.out.append("-")
                self.sign_wrote = True
        if self.num_curr < self.out_pre_spaces and (num.zero_start > self.num_curr or not num.zero):
            if not num.fillmode:
                self.out.append(" ")
        elif num.zero and self.num_curr < self.out_pre_spaces and num.zero_start <= self.num_curr:
            self.out.append("0")
            self.num_in = True
        else:
            current = self._at(self.pos)
            if current == ".":
                if self._at(self.last_relevant) != "." or num.fillmode:
                    self.out.append(".")
            elif (self.last_relevant is not None and self.pos > self.last_relevant and key != "0"):
                pass
            elif self._predec_space():
                if not num.fillmode:
                    self.out.append(" ")
                elif self._at(self.last_relevant) == ".":
                    self.out.append("0")
            else:
                # an exhausted number string writes C's terminating NUL: the output ends there
                self.out.append(current or "\0")
                self.num_in = True
            if current:
                self.pos += 1
        end = self.num_count + (1 if self.out_pre_spaces else 0) + (1 if num.decimal else 0)
        if self.last_relevant is not None and self.last_relevant == self.pos:
            end = self.num_curr
        if self.num_curr + 1 == end:
            if self.sign_wrote and num.bracket:
                self.out.append(" " if self.sign == "+" else ">")
            elif num.lsign == 1:
                self.out.append("-" if self.sign == "-" else "+")
        self.num_curr += 1


def _sci_numeric(value: Decimal, scale: int) -> str:
    """numeric_out_sci(): one digit before the point, ``scale`` after (not renormalised)."""
    if value.is_zero():
        exponent = 0
    else:
        exponent = value.adjusted()
    with localcontext() as ctx:
        ctx.prec = 1000
        significand = (value.scaleb(-exponent)).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    text = format(significand, "f")
    if text.startswith("-") and significand.is_zero():
        text = text[1:]
    return f"{text}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _fill_overflow(num: _NumDesc) -> str:
    chars = ["#"] * (num.pre + num.post + 1)
    chars[num.pre] = "."
    return "".join(chars)


def _split_sign(text: str) -> tuple[str, str]:
    return ("-", text[1:]) if text.startswith("-") else ("+", text)


def _pre_len(numstr: str) -> int:
    point = numstr.find(".")
    return point if point >= 0 else len(numstr)


def format_number(value: Any, fmt: str, oid: int) -> str:
    """to_char(int4/int8/numeric/float4/float8, text)."""
    if not fmt:
        return ""
    nodes, num = _prepare_number_format(fmt)
    out_pre_spaces = 0
    sign = "+"
    is_float = oid in (T.FLOAT4, T.FLOAT8)
    is_int = oid in (T.INT2, T.INT4, T.INT8)
    if is_float:
        fval = float(value)
        if oid == T.FLOAT4:
            fval = _float4(fval)
        dec: Decimal | None = None
    else:
        dec = T.to_decimal(value)
        fval = 0.0
    if num.roman:
        if is_float:
            if math.isnan(fval) or math.isinf(fval):
                numstr = "#" * 15
            else:
                numstr = _roman(int(_c_rint(fval)))
        else:
            assert dec is not None
            if dec.is_nan() or dec.is_infinite():
                raise SqlError("0A000", f"cannot convert {'NaN' if dec.is_nan() else 'infinity'} to integer")
            else:
                whole = int(dec.quantize(Decimal(1), rounding=ROUND_HALF_UP))
                if not -2**31 <= whole < 2**31:
                    raise SqlError("22003", "integer out of range")
                numstr = _roman(whole)
        numstr = numstr.rjust(15)
    elif num.eeee:
        if is_float:
            numstr = _sci_float(fval, num)
        else:
            assert dec is not None
            if dec.is_nan() or dec.is_infinite():
                numstr = _sci_special(num)
            elif oid == T.INT4 or oid == T.INT2:
                numstr = _sci_float(float(dec), num)
            else:
                numstr = _sci_numeric(dec, num.post)
                if not numstr.startswith("-"):
                    numstr = " " + numstr
    else:
        if is_float:
            if num.is_multi:
                fval *= 10.0 ** num.multi
                if oid == T.FLOAT4:
                    fval = _float4(fval)
                num.pre += num.multi
            digits = 6 if oid == T.FLOAT4 else 15
            int_part = "NaN" if math.isnan(fval) else f"{abs(fval):.0f}"
            if len(int_part) >= digits:
                num.post = 0
            elif len(int_part) + num.post > digits:
                num.post = digits - len(int_part)
            if math.isinf(fval):
                # infinity always overflows (float4 loses its fraction digits on the way)
                if oid == T.FLOAT4:
                    num.post = 0
                return _NumProc(nodes, num, _fill_overflow(num), 0, "-" if fval < 0 else "+").run()
            if math.isnan(fval):
                sign, numstr = "+", "NaN"
            else:
                sign, numstr = _split_sign(f"{fval:.{num.post}f}")
        elif is_int:
            assert dec is not None
            ival = int(dec)
            if num.is_multi:
                ival *= 10 ** num.multi
                num.pre += num.multi
            sign, numstr = _split_sign(str(ival))
            if num.post:
                numstr += "." + "0" * num.post
        else:
            assert dec is not None
            if num.is_multi:
                with localcontext() as ctx:
                    ctx.prec = 1000
                    dec = dec * (Decimal(10) ** num.multi)
                num.pre += num.multi
            if dec.is_nan() or dec.is_infinite():
                sign, numstr = _split_sign(T.numeric_to_str(dec))
            else:
                with localcontext() as ctx:
                    ctx.prec = 1000
                    rounded = dec.quantize(Decimal(1).scaleb(-num.post), rounding=ROUND_HALF_UP)
                sign, numstr = _split_sign(format(rounded, "f"))
                if rounded.is_zero():
                    sign = "+"
        pre_len = _pre_len(numstr)
        if pre_len < num.pre:
            out_pre_spaces = num.pre - pre_len
        elif pre_len > num.pre:
            numstr = _fill_overflow(num)
    return _NumProc(nodes, num, numstr, out_pre_spaces, sign).run()


def _float4(value: float) -> float:
    """``value`` rounded to single precision (float4 arithmetic)."""
    try:
        return float(struct.unpack("f", struct.pack("f", value))[0])
    except OverflowError:
        return math.copysign(math.inf, value)


def _c_rint(value: float) -> float:
    """rint(): round half to even, like C with the default rounding mode."""
    return float(round(value))


def _sci_special(num: _NumDesc) -> str:
    chars = ["#"] * (num.pre + num.post + 6)
    chars[0] = " "
    chars[num.pre + 1] = "."
    return "".join(chars)


def _sci_float(value: float, num: _NumDesc) -> str:
    if math.isnan(value) or math.isinf(value):
        return _sci_special(num)
    text = f"{value:+.{num.post}e}"
    return " " + text[1:] if text.startswith("+") else text


# --------------------------------------------------------------------------- entry point


def _tm_from_storage(value: str, oid: int, timezone: str) -> Tm | None:
    """A Tm for a stored date/time value; None for +/-infinity (to_char returns NULL)."""
    if value in ("infinity", "-infinity"):
        return None
    if oid == T.DATE:
        # PostgreSQL has no to_char(date): the date becomes a timestamptz at local midnight.
        year, mon, mday = T.date_fields(value)
        tm = tm_from_date(year, mon, mday)
        if 1 <= year <= 9999:
            aware = _dt.datetime(year, mon, mday, tzinfo=T.get_zone(timezone))
            tm.gmtoff = int((aware.utcoffset() or _dt.timedelta(0)).total_seconds())
            tm.tzn = aware.tzname()
        return tm
    if oid == T.TIMESTAMPTZ:
        aware = T.timestamptz_from_storage(value).astimezone(T.get_zone(timezone))
        local = aware.replace(tzinfo=None)
        offset = aware.utcoffset() or _dt.timedelta(0)
        tm = tm_from_date(local.year, local.month, local.day, _micros_of_day(local))
        tm.gmtoff = int(offset.total_seconds())
        tm.tzn = aware.tzname()
        return tm
    local = T.timestamp_from_storage(value)
    return tm_from_date(local.year, local.month, local.day, _micros_of_day(local))


def _micros_of_day(value: _dt.datetime) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def to_char(value: Any, fmt: Any, oid: int, timezone: str) -> str | None:
    """to_char(value, fmt) for a value of type ``oid`` (stored form), in session ``timezone``."""
    if value is None or fmt is None:
        return None
    fmt = str(fmt)
    if oid in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE):
        if not fmt:
            return None
        tm = _tm_from_storage(str(value), oid, timezone)
        return None if tm is None else format_tm(tm, fmt, False)
    if oid in (T.INTERVAL, T.TIME):
        if not fmt:
            return None
        if oid == T.TIME:
            months, days, micros = 0, 0, T.time_micros(str(value))
        else:
            months, days, micros = T.interval_parts(str(value))
        return format_tm(tm_from_interval(months, days, micros), fmt, True)
    try:
        return format_number(value, fmt, oid)
    except InvalidOperation:
        raise SqlError("22P02", f'invalid input syntax for type numeric: "{value}"') from None


def _to_char(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
             scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", f"function to_char({', '.join(type_names(types))}) does not exist")
    if types[0].oid == T.UNKNOWN:
        raise SqlError("42725", f"function to_char({', '.join(type_names(types))}) is not unique",
                       hint="Could not choose a best candidate function. You might need to add explicit type casts.")
    if types[0].oid not in _TO_CHAR_TYPES:
        raise SqlError("42883", f"function to_char({', '.join(type_names(types))}) does not exist",
                       hint="No function matches the given name and argument types. "
                            "You might need to add explicit type casts.")
    return fn("pg_to_char", args[0], args[1], lit_int(types[0].oid)), ty.TEXT


# to_char's input types (time arrives as an interval, int2 as int4, like PostgreSQL's casts)
_TO_CHAR_TYPES = frozenset({T.INT2, T.INT4, T.INT8, T.NUMERIC, T.FLOAT4, T.FLOAT8, T.DATE, T.TIME,
                            T.TIMESTAMP, T.TIMESTAMPTZ, T.INTERVAL})


def _to_timestamp(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                  scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 1:
        raise SqlError("0A000", "to_timestamp(text, text) is not supported")
    seconds = fn("pg_cast", args[0], lit_int(types[0].oid), lit_int(T.FLOAT8))
    return fn("pg_cast", fn("strftime", exp.Literal.string("%Y-%m-%d %H:%M:%f+00"), seconds,
                            exp.Literal.string("unixepoch")), lit_int(T.TEXT), lit_int(T.TIMESTAMPTZ)), ty.TIMESTAMPTZ


def _h_to_date(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function to_date does not exist")
    return fn("pg_to_date", *args_as(c, args, types, [ty.TEXT, ty.TEXT])), ty.DATE


def _h_to_timestamp(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) == 2:
        local = fn("pg_to_timestamp_fmt", *args_as(c, args, types, [ty.TEXT, ty.TEXT]))
        return fn("pg_ts_to_tstz", local), ty.TIMESTAMPTZ
    return _to_timestamp(c, args, types, node, scope)


HANDLERS: dict[str, Handler] = {
    "to_char": _to_char,
    "to_timestamp": _h_to_timestamp,
    "to_date": _h_to_date,
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)

    scalar("pg_to_char", lambda value, fmt, src=T.TIMESTAMP: to_char(value, fmt, src, ctx.timezone))
