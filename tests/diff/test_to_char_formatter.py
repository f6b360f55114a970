"""compute/sql/functions/formatting.py against PostgreSQL 15's to_char, value by value.

The SQL diff cases (cases/to_char.sql) go through a Strata server; this test drives the formatter
directly so it also covers what Strata cannot store yet (BC dates, years past 9999) and many more
pattern/value combinations than a case file would hold. Every expected string comes from the
real PostgreSQL oracle.
"""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
import pytest

from compute import pgtypes as T
from compute.datetime_input import date2j, j2date
from compute.sql.api import SqlError
from compute.sql.functions import formatting as TC
from tests.support import PostgresOracle

DATE_PATTERNS = [
    "YYYY-MM-DD HH24:MI:SS.US", "HH HH12 MI SS MS FF1 FF2 FF4 FF5 SSSS SSSSS", "AM pm A.M. p.m.",
    "Y,YYY YYYY YYY YY Y", "IYYY IYY IY I IW IDDD ID", "BC AD B.C. a.d. bc", "MONTH Month month MON Mon mon MM",
    "DAY Day day DY Dy dy", "DDD DD D W WW J Q CC RM rm", "FMDay FMMonth FMDDth FMYYYY FMCC FMRM FMIW",
    "DDth DDTH CCth YYYYth Jth FMDDDth", '"q\\"t" \\"Y\\" YYYY\\MM', "TZ tz TZH TZM OF FMOF",
]

# (PostgreSQL literal, astronomical year, month, day, microseconds of the day)
DATES = [
    ("0044-03-15 BC", -43, 3, 15, 0),
    ("0001-12-31 BC", 0, 12, 31, 0),
    ("0001-01-01 BC", 0, 1, 1, 0),
    ("0100-06-15 10:00:00 BC", -99, 6, 15, 36_000_000_000),
    ("0005-02-29 BC", -4, 2, 29, 0),  # 5 BC (astronomical -4) is a leap year
    ("4713-11-24 BC", -4712, 11, 24, 0),
    ("0001-01-01", 1, 1, 1, 0),
    ("12345-06-07", 12345, 6, 7, 0),
    ("2024-02-29", 2024, 2, 29, 0),
]


def _pg(conn: psycopg.Connection[Any], sql: str, args: list[Any]) -> tuple[str, Any]:
    try:
        row = conn.execute(sql, args).fetchone()
        return ("ok", row[0] if row else None)
    except psycopg.Error as exc:
        return ("error", exc.sqlstate)


def _ours(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(*args))
    except SqlError as exc:
        return ("error", exc.sqlstate)


@pytest.fixture(scope="module")
def pg(pg_oracle: PostgresOracle) -> Any:
    conn = psycopg.connect(pg_oracle.dsn, autocommit=True)
    conn.execute("SET TimeZone = 'UTC'")
    yield conn
    conn.close()


def test_bc_and_wide_years(pg: psycopg.Connection[Any]) -> None:
    mismatches = []
    for (literal, year, mon, day, micros), fmt in itertools.product(DATES, DATE_PATTERNS):
        expected = _pg(pg, "SELECT to_char(%s::timestamp, %s)", [literal, fmt])
        got = _ours(TC.format_tm, TC.tm_from_date(year, mon, day, micros), fmt, False)
        if expected != got:
            mismatches.append((literal, fmt, expected, got))
    assert not mismatches, mismatches[:10]


def test_julian_day_round_trip() -> None:
    for jd in range(0, 5_000_000, 997):
        assert date2j(*j2date(jd)) == jd


INTERVALS = ["1 year 2 mons 3 days 04:05:06.789", "-1 year -2 mons -3 days -04:05:06.789", "0", "12 mons",
             "-12 mons", "-13 mons", "100 hours", "-100 hours 30 minutes", "1000 years", "-1 mons",
             "-00:00:00.5", "123456 hours", "1 year -1 mons", "-1 year 1 mons", "-23:59:59"]
INTERVAL_PATTERNS = ["HH HH12 HH24 MI SS MS US FF3 SSSS", "AM PM a.m.", "Y,YYY YYYY YYY YY Y IYYY IY",
                     "MM DDD IDDD DD W WW IW CC J Q RM rm", "FMHH24 FMMI FMSS FMMM FMDD FMYYYY FMRM",
                     "DDth HH24TH", "Mon", "Day", "AD", "TZ", "D", "OF", "DY", "ID"]


def test_intervals(pg: psycopg.Connection[Any]) -> None:
    mismatches = []
    for text, fmt in itertools.product(INTERVALS, INTERVAL_PATTERNS):
        expected = _pg(pg, "SELECT to_char(%s::interval, %s)", [text, fmt])
        got = _ours(TC.to_char, T.parse_interval(text), fmt, T.INTERVAL, "UTC")
        if expected != got:
            mismatches.append((text, fmt, expected, got))
    assert not mismatches, mismatches[:10]


NUMBERS = ["0", "1", "-1", "7", "-7", "0.5", "-0.5", "12.5", "-12.5", "123.456", "-123.456", "99999",
           "-99999", "0.0049", "15", "-0.001", "1000000", "2.5", "99.995", "3999", "112"]
NUMBER_TOKENS = ["9", "9", "9", "0", "0", ".", "D", ",", "G", "S", "MI", "PL", "SG", "PR", "FM", "L",
                 "V", "TH", "th", "B", "EEEE", " ", "x", '"a"', "RN", "rn"]


def test_number_patterns(pg: psycopg.Connection[Any]) -> None:
    # Deterministic pseudo-random patterns over the number keywords (errors must match too).
    patterns = []
    state = 12345
    for _ in range(400):
        tokens = []
        for _ in range(1 + state % 8):
            state = (state * 1103515245 + 12345) % 2**31
            tokens.append(NUMBER_TOKENS[state % len(NUMBER_TOKENS)])
        patterns.append("".join(tokens))
    mismatches = []
    for index, fmt in enumerate(patterns):
        number = NUMBERS[index % len(NUMBERS)]
        checks: list[tuple[str, Any, int]] = [("numeric", T.parse_numeric(number), T.NUMERIC),
                                              ("float8", float(number), T.FLOAT8),
                                              ("float4", float(number), T.FLOAT4)]
        if float(number).is_integer():
            checks += [("int4", int(float(number)), T.INT4), ("int8", int(float(number)), T.INT8)]
        for type_name, value, oid in checks:
            expected = _pg(pg, f"SELECT to_char(%s::{type_name}, %s)", [number, fmt])
            got = _ours(TC.to_char, value, fmt, oid, "UTC")
            if expected != got:
                mismatches.append((number, type_name, fmt, expected, got))
    assert not mismatches, mismatches[:10]


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/Berlin"])
def test_timestamptz_zones(pg: psycopg.Connection[Any], zone: str) -> None:
    pg.execute(f"SET TimeZone = '{zone}'")
    try:
        mismatches = []
        for stamp, fmt in itertools.product(["2024-01-02 03:04:05+00", "2024-07-02 15:30:00.25+00"],
                                            ["YYYY-MM-DD HH24:MI:SS TZ tz TZH TZM OF FMOF", "HH12 AM Day"]):
            expected = _pg(pg, "SELECT to_char(%s::timestamptz, %s)", [stamp, fmt])
            got = _ours(TC.to_char, T.parse_timestamptz(stamp), fmt, T.TIMESTAMPTZ, zone)
            if expected != got:
                mismatches.append((stamp, fmt, expected, got))
        assert not mismatches, mismatches
    finally:
        pg.execute("SET TimeZone = 'UTC'")
