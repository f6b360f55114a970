"""DateStyle / IntervalStyle / TimeZone as clients see them, against PostgreSQL 15: ParameterStatus
after SET, startup options, rollback of a SET, text and binary results through psycopg and asyncpg,
text parameters read in the session's field order, COPY TO output."""

from __future__ import annotations

import psycopg
import pytest

from tests.compat.oracle import assert_agree, psycopg_script
from tests.support import PostgresOracle, StrataProcess

VALUES = ("select '2003-02-01'::date as d, '2003-02-01 04:05:06.5'::timestamp as ts, "
          "'2003-07-01 04:05:06+00'::timestamptz as tz, '1 year -3 days 04:05:06'::interval as i, "
          "array['2003-02-01'::date] as a")


def _text_rows(dsn: str, sql: str, setup: list[str]) -> list[tuple[object, ...]]:
    """Rows of ``sql`` in text format, every value kept as the server's text."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in ("date", "timestamp", "timestamptz", "interval", "time", "timetz", "date[]"):
            conn.adapters.register_loader(name, psycopg.types.string.TextLoader)
        for stmt in setup:
            conn.execute(stmt.encode())
        return conn.execute(sql.encode()).fetchall()


@pytest.mark.parametrize("style", ["SQL, DMY", "Postgres, MDY", "German", "ISO, YMD"])
def test_values_agree_in_every_client(pg_oracle: PostgresOracle, strata_shared: StrataProcess,
                                      style: str) -> None:
    """Text results follow the DateStyle; binary results (psycopg binary, asyncpg) do not change."""
    setup = [f"set datestyle = '{style}'", "set timezone = 'Europe/Berlin'"]
    assert _text_rows(strata_shared.dsn, VALUES, setup) == _text_rows(pg_oracle.dsn, VALUES, setup)
    assert_agree(pg_oracle.dsn, strata_shared.dsn, VALUES, setup=setup, clients=("binary", "asyncpg"))


@pytest.mark.parametrize("style", ["postgres_verbose", "sql_standard", "iso_8601"])
def test_interval_styles_agree(pg_oracle: PostgresOracle, strata_shared: StrataProcess, style: str) -> None:
    sql = "select '1 year 2 mons 3 days 04:05:06.5'::interval as a, '-1 day'::interval as b"
    setup = [f"set intervalstyle = '{style}'"]
    assert _text_rows(strata_shared.dsn, sql, setup) == _text_rows(pg_oracle.dsn, sql, setup)
    assert_agree(pg_oracle.dsn, strata_shared.dsn, sql, setup=setup, clients=("binary", "asyncpg"))


def _statuses(dsn: str, **kwargs: str) -> list[tuple[str | None, str | None]]:
    out = []
    script = ["set datestyle = 'SQL, DMY'", "set datestyle = 'German'", "set intervalstyle = iso_8601",
              "begin", "set datestyle = 'Postgres'", "rollback"]
    if not kwargs:  # (RESET goes back to the startup value in PostgreSQL, to the default in Strata)
        script.append("reset datestyle")
    with psycopg.connect(dsn, autocommit=True, **kwargs) as conn:
        out.append((conn.info.parameter_status("DateStyle"), conn.info.parameter_status("IntervalStyle")))
        for sql in script:
            conn.execute(sql.encode())
            out.append((conn.info.parameter_status("DateStyle"), conn.info.parameter_status("IntervalStyle")))
    return out


def test_parameter_status_follows_set_and_rollback(pg_oracle: PostgresOracle,
                                                   strata_shared: StrataProcess) -> None:
    assert _statuses(strata_shared.dsn) == _statuses(pg_oracle.dsn)
    options = {"options": "-c datestyle=SQL,YMD -c intervalstyle=sql_standard"}
    assert _statuses(strata_shared.dsn, **options) == _statuses(pg_oracle.dsn, **options)


def test_rollback_restores_iso_output(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    script = ["begin", "set datestyle = 'SQL, DMY'", "select '2003-02-01'::date::text",
              "select '2003-02-01'::date", "rollback", "select '2003-02-01'::date",
              "set local datestyle = 'German'", "select '2003-02-01'::date"]
    assert psycopg_script(strata_shared.dsn, script) == psycopg_script(pg_oracle.dsn, script)


def test_text_parameters_read_in_the_field_order(pg_oracle: PostgresOracle,
                                                 strata_shared: StrataProcess) -> None:
    """A date sent as text ('05/04/2003') is read day first under DMY, as PostgreSQL reads it."""
    for style in ("DMY", "YMD", "MDY"):
        answers = []
        for dsn in (pg_oracle.dsn, strata_shared.dsn):
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"set datestyle = '{style}'".encode())
                cur = conn.execute("select %s::date::text, %s::timestamp::text",
                                   ("05/04/03", "05/04/03 10:00"))
                answers.append(cur.fetchone())
        assert answers[0] == answers[1], style


def test_copy_to_prints_in_the_datestyle(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    outputs = []
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(b"set datestyle = 'SQL, DMY'")
            conn.execute(b"set intervalstyle = 'iso_8601'")
            data = b""
            with conn.cursor().copy(b"copy (select '2003-02-01'::date, '2003-02-01 10:00'::timestamp, "
                                    b"'1 day'::interval) to stdout") as copy:
                for chunk in copy:
                    data += bytes(chunk)
            outputs.append(data)
    assert outputs[0] == outputs[1]


def test_posix_time_zones_through_clients(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    sql = "select '2003-07-01 04:05:06+00'::timestamptz as a, current_setting('TimeZone') as z"
    for zone in ("EST5EDT", "UTC+3", "<+03>-3", "CET-1CEST,M3.5.0,M10.5.0/3"):
        setup = [f"set timezone = '{zone}'"]
        assert _text_rows(strata_shared.dsn, sql, setup) == _text_rows(pg_oracle.dsn, sql, setup)
        assert_agree(pg_oracle.dsn, strata_shared.dsn, sql, setup=setup, clients=("binary", "asyncpg"))


def test_copy_from_reads_in_the_field_order(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    outputs = []
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        with psycopg.connect(dsn) as conn:
            conn.execute(b"set datestyle = 'German'")
            conn.execute(b"create table ds_copy (d date, ts timestamp)")
            with conn.cursor().copy(b"copy ds_copy from stdin") as copy:
                copy.write(b"01.02.2003\t05.04.2003 10:00\n")
            outputs.append(conn.execute(b"select d::text, ts::text from ds_copy").fetchall())
            conn.rollback()
    assert outputs[0] == outputs[1] == [("01.02.2003", "05.04.2003 10:00:00")]
