"""POSIX time zone specifications (``EST5EDT4,M3.2.0,M11.1.0``, ``UTC+3``, ``<+03>-3``) as tzinfo.

PostgreSQL accepts a TimeZone that names no zone file if it parses as a POSIX TZ string (tzparse):
a standard-time name and offset, optionally a daylight name, its offset (default one hour ahead)
and the rules of the switch (default: the US rules, ``M3.2.0,M11.1.0``). Offsets count hours
*west* of UTC, so ``UTC+3`` is three hours behind UTC.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re

MAX_OFFSET_HOURS = 24 * 7 - 1  # tzcode's limit on the hours of an offset or a rule time
_NAME = r"(<[A-Za-z0-9:+-]{3,}>|[A-Za-z]{3,})"
_OFFSET = r"([+-]?\d{1,3}(?::\d{1,2}(?::\d{1,2})?)?)"
_RULE = r"(M\d{1,2}\.\d\.\d|J\d{1,3}|\d{1,3})(?:/" + _OFFSET + ")?"
_SPEC = re.compile(_NAME + _OFFSET + "(?:" + _NAME + _OFFSET + "?(?:," + _RULE + "," + _RULE + ")?)?\\Z")
_DEFAULT_RULES = (("M3.2.0", None), ("M11.1.0", None))
_ZERO = _dt.timedelta(0)


def _seconds(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")] + [0, 0]
    if parts[0] > MAX_OFFSET_HOURS or parts[1] > 59 or parts[2] > 59:
        raise ValueError(text)
    return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])


def _rule_date(rule: str, year: int) -> _dt.date:
    """The day a rule names in ``year``: Mm.w.d (week w of month m, weekday d, Sunday 0; week 5 is
    the last), Jn (day n of 365, no leap day) or n (day n counting from 0)."""
    if rule.startswith("M"):
        month, week, wday = (int(p) for p in rule[1:].split("."))
        first = _dt.date(year, month, 1)
        day = first + _dt.timedelta(days=(wday - (first.weekday() + 1) % 7) % 7 + 7 * (week - 1))
        while day.month != month:
            day -= _dt.timedelta(days=7)
        return day
    if rule.startswith("J"):
        n = int(rule[1:])
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return _dt.date(year, 1, 1) + _dt.timedelta(days=n - 1 + (1 if leap and n >= 60 else 0))
    return _dt.date(year, 1, 1) + _dt.timedelta(days=int(rule))


class PosixZone(_dt.tzinfo):
    """A zone from a POSIX TZ string; offsets here are seconds *east* of UTC."""

    def __init__(self, spec: str, std: str, std_east: int, dst: str | None, dst_east: int,
                 rules: tuple[tuple[str, str | None], tuple[str, str | None]]) -> None:
        self.spec, self.std_name, self.std_east, self.dst_name, self.dst_east = spec, std, std_east, dst, dst_east
        self.rules = rules

    def __repr__(self) -> str:
        return f"PosixZone({self.spec!r})"

    def _switches(self, year: int) -> tuple[_dt.datetime, _dt.datetime]:
        """(DST start, DST end) of ``year`` in UTC."""
        (start, start_at), (end, end_at) = self.rules
        begin = _dt.datetime.combine(_rule_date(start, year), _dt.time()) + \
            _dt.timedelta(seconds=_seconds(start_at) if start_at else 7200)
        finish = _dt.datetime.combine(_rule_date(end, year), _dt.time()) + \
            _dt.timedelta(seconds=_seconds(end_at) if end_at else 7200)
        return begin - _dt.timedelta(seconds=self.std_east), finish - _dt.timedelta(seconds=self.dst_east)

    def _is_dst_utc(self, utc: _dt.datetime) -> bool:
        if self.dst_name is None or not 1 < utc.year < 9999:
            return False
        begin, finish = self._switches(utc.year)
        return begin <= utc < finish if begin < finish else not finish <= utc < begin

    def _is_dst_local(self, local: _dt.datetime) -> bool:
        return self._is_dst_utc(local.replace(tzinfo=None) - _dt.timedelta(seconds=self.std_east))

    def utcoffset(self, dt: _dt.datetime | None) -> _dt.timedelta:
        if dt is None or not self._is_dst_local(dt):
            return _dt.timedelta(seconds=self.std_east)
        return _dt.timedelta(seconds=self.dst_east)

    def dst(self, dt: _dt.datetime | None) -> _dt.timedelta:
        if dt is None or not self._is_dst_local(dt):
            return _ZERO
        return _dt.timedelta(seconds=self.dst_east - self.std_east)

    def tzname(self, dt: _dt.datetime | None) -> str:
        if dt is not None and self.dst_name is not None and self._is_dst_local(dt):
            return self.dst_name
        return self.std_name

    def fromutc(self, dt: _dt.datetime) -> _dt.datetime:
        utc = dt.replace(tzinfo=None)
        east = self.dst_east if self._is_dst_utc(utc) else self.std_east
        return (utc + _dt.timedelta(seconds=east)).replace(tzinfo=self)


@functools.lru_cache(maxsize=256)
def parse_posix(spec: str) -> PosixZone | None:
    """The zone of a POSIX TZ string, None if ``spec`` is not one."""
    m = _SPEC.match(spec.strip())
    if m is None:
        return None
    std, std_off, dst, dst_off, start, start_at, end, end_at = m.groups()
    try:
        std_east = -_seconds(std_off)
        dst_east = -_seconds(dst_off) if dst_off else std_east + 3600
        for at in (start_at, end_at):
            if at:
                _seconds(at)
    except ValueError:
        return None
    rules = ((start, start_at), (end, end_at)) if start else _DEFAULT_RULES
    return PosixZone(spec, std.strip("<>"), std_east, dst.strip("<>") if dst else None, dst_east, rules)
