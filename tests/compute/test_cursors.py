"""Server-side cursors against PostgreSQL 15: DECLARE / FETCH / MOVE / CLOSE scripts in autocommit
sessions (so cursors stream from their own snapshot), WITH HOLD across COMMIT and ROLLBACK,
psycopg named cursors and asyncpg cursors streaming a large result."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

SETUP = ["drop table if exists cu_t", "create table cu_t (a int, b text)",
         "insert into cu_t select g, 'r' || g from generate_series(1, 6) g"]
SCRIPTS: dict[str, list[str]] = {
    "outside_block": ["declare c cursor for select * from cu_t", "fetch c", "close c"],
    "forward": ["begin", "declare c cursor for select a, b from cu_t order by a", "fetch 2 from c",
                "fetch next from c", "move 1 in c", "fetch all in c", "fetch c", "move all in c",
                "close c", "fetch c", "rollback"],
    "scroll": ["begin", "declare c scroll cursor for select a from cu_t order by a", "fetch all from c",
               "move backward 2 in c", "fetch c", "fetch relative 0 from c", "move absolute -1 in c",
               "fetch absolute 9 from c", "fetch backward all from c", "fetch first from c",
               "fetch last from c", "fetch absolute -3 from c", "fetch relative -1 from c",
               "fetch relative 2 from c", "fetch forward 10 from c", "fetch backward 2 from c",
               "move relative 0 in c", "fetch absolute 0 from c", "fetch -1 from c",
               "move backward all in c", "fetch 2 from c", "rollback"],
    "no_scroll": ["begin", "declare c no scroll cursor for select a from cu_t order by a", "fetch 2 from c",
                  "fetch absolute 4 from c", "fetch prior from c", "rollback",
                  "begin", "declare c no scroll cursor for select a from cu_t order by a", "fetch 2 from c",
                  "fetch absolute 1 from c", "rollback"],
    "errors": ["begin", "close all", "fetch x", "rollback", "begin", "declare c cursor for select 1",
               "declare c cursor for select 2", "rollback", "begin", "declare e cursor for select 1/0",
               "rollback", "begin", "declare e cursor for select * from cu_nosuch", "rollback",
               "begin", "close nosuch", "rollback"],
    "snapshot": ["begin", "declare c cursor for select a from cu_t where a > 4 order by a",
                 "insert into cu_t values (7, 'late')", "fetch all from c", "rollback",
                 "begin", "insert into cu_t values (8, 'early')",
                 "declare c cursor for select a from cu_t where a > 4 order by a", "fetch all from c",
                 "rollback"],
    "repeatable_read": ["begin isolation level repeatable read",
                        "declare c scroll cursor for select a from cu_t order by a", "fetch 3 from c",
                        "fetch prior from c", "commit"],
    "savepoints": ["begin", "savepoint s", "declare c cursor for select a from cu_t order by a",
                   "rollback to s", "fetch c", "rollback",
                   "begin", "declare c cursor for select a from cu_t order by a", "savepoint s", "fetch c",
                   "rollback to s", "fetch c", "savepoint t", "declare d cursor for select 1", "release t",
                   "fetch d", "rollback to s", "fetch d", "fetch c", "close c", "rollback to s", "fetch c",
                   "rollback",
                   "begin", "savepoint a", "declare c cursor for select 1", "release a", "savepoint b",
                   "rollback to b", "fetch c", "savepoint b", "declare e cursor for select 2",
                   "rollback to b", "fetch e", "rollback"],
    "pg_cursors": ["begin", "declare c cursor for select a from cu_t order by a",
                   "declare \"D\" no scroll cursor with hold for select 1",
                   "select name, statement, is_holdable, is_binary, is_scrollable, "
                   "creation_time <= now() + interval '1 minute' from pg_cursors order by name",
                   "commit", "select name, is_holdable from pg_cursors", "close all",
                   "select count(*) from pg_cursors"],
    "with_hold": ["declare h cursor with hold for select a from cu_t order by a", "fetch 2 from h",
                  "close h", "begin", "declare d cursor with hold for select a from cu_t order by a",
                  "fetch 1 from d", "commit", "fetch 1 from d", "fetch 2 from d", "close d",
                  "begin", "declare d cursor with hold for select a from cu_t", "rollback", "fetch d",
                  "begin", "declare k cursor for select a from cu_t", "commit", "fetch k"],
    # psycopg runs these as simple queries: a BINARY cursor's FETCH comes back in binary format
    "binary": ["begin", "declare c binary scroll cursor for select a, b, a::numeric / 3 as n from cu_t "
               "order by a", "fetch 2 from c", "move 2 in c", "fetch backward 1 from c",
               "fetch last from c", "fetch absolute 1 from c",
               "select name, is_binary, is_scrollable from pg_cursors", "close c", "fetch c", "rollback",
               "declare h binary cursor with hold for select a, b from cu_t order by a", "fetch 2 from h",
               "move all in h", "fetch h", "close h",
               "begin", "declare d binary no scroll cursor with hold for select a from cu_t order by a",
               "fetch 1 from d", "commit", "fetch 2 from d", "fetch prior from d", "close all"],
}


def _script(dsn: str, script: list[str]) -> list[Any]:
    """Command status, rows and column type OIDs, or ("error", SQLSTATE), per statement."""
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sql in SETUP:
            conn.execute(sql)
        for sql in script:
            try:
                cur = conn.execute(sql)
                rows = cur.fetchall() if cur.description else None
                oids = [d.type_code for d in cur.description] if cur.description else None
                out.append((cur.statusmessage, rows, oids))
            except psycopg.Error as exc:
                out.append(("error", exc.sqlstate))
    return out


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_cursor_script_agrees(pg_oracle: PostgresOracle, strata_shared: StrataProcess, name: str) -> None:
    script = SCRIPTS[name]
    pg = _script(pg_oracle.dsn, script)
    st = _script(strata_shared.dsn, script)
    diff = [(sql, a, b) for sql, a, b in zip(script, pg, st, strict=True) if a != b]
    assert not diff, "\n".join(f"{sql!r}: postgres {a!r}, strata {b!r}" for sql, a, b in diff)
    assert any(r[0] in ("DECLARE CURSOR", "error") for r in pg)  # the script did exercise cursors


def test_backward_on_plain_streaming_cursor_is_refused(strata_shared: StrataProcess) -> None:
    """A cursor declared without SCROLL keeps no rows it has read: going back is refused with
    0A000 (PostgreSQL allows it for some plans), never answered differently."""
    script = ["begin", "declare c cursor for select a from cu_t order by a", "fetch 3 from c",
              "fetch prior from c", "rollback"]
    st = _script(strata_shared.dsn, script)
    assert st[2][1] == [(1,), (2,), (3,)]
    assert st[3] == ("error", "0A000")


def test_psycopg_named_cursor_streams(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    """conn.cursor(name=...) declares a cursor and FETCHes itersize rows at a time."""
    rows = 100_000
    results: list[Any] = []
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        with psycopg.connect(dsn) as conn:
            conn.execute("drop table if exists cu_big")
            conn.execute("create table cu_big (a int primary key, b text)")
            conn.execute(f"insert into cu_big select g, 'row ' || g from generate_series(1, {rows}) g")
            conn.commit()
            with conn.cursor(name="big") as cur:
                cur.itersize = 5_000
                cur.execute("select a, b from cu_big where a > %s order by a", (10,))
                count, total, last = 0, 0, None
                for a, b in cur:
                    count += 1
                    total += a
                    last = b
                assert cur.description is not None
                results.append((count, total, last, [d.type_code for d in cur.description]))
            with conn.cursor(name="scrolled", scrollable=True) as cur:
                cur.execute("select a from cu_big order by a")
                cur.scroll(50_000)
                first = cur.fetchone()
                cur.scroll(-10)
                results.append((first, cur.fetchmany(2)))
            conn.rollback()
    assert results[2:] == results[:2]
    assert results[0][0] == rows - 10


def test_asyncpg_cursor_in_transaction(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    async def run(dsn: str) -> list[Any]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("drop table if exists cu_as; create table cu_as (a int)")
            await conn.execute("insert into cu_as select generate_series(1, 1000)")
            out: list[Any] = []
            async with conn.transaction():
                out.append([r["a"] async for r in conn.cursor("select a from cu_as order by a", prefetch=64)][-3:])
                cur = await conn.cursor("select a from cu_as where a > $1 order by a", 990)
                out.append([tuple(r) for r in await cur.fetch(4)])
                await cur.forward(2)
                out.append(tuple(await cur.fetchrow() or ()))
            return out
        finally:
            await conn.close()

    assert asyncio.run(run(strata_shared.dsn)) == asyncio.run(run(pg_oracle.dsn))


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_big_results_stream_with_bounded_memory(strata_shared: StrataProcess) -> None:
    """A DECLAREd cursor and an asyncpg cursor (a protocol portal executed with a row limit) over
    ~60 MB of rows: the server reads them batch by batch, its memory does not grow by the result
    (the table's pages are read once first, so the page cache is warm)."""
    assert strata_shared.proc is not None
    pid = strata_shared.proc.pid
    rows = 120_000
    with psycopg.connect(strata_shared.dsn, autocommit=True) as conn:
        conn.execute("drop table if exists cu_mem")
        conn.execute("create table cu_mem (a int, b text)")
        conn.execute(f"insert into cu_mem select g, repeat('x', 500) from generate_series(1, {rows}) g")
        conn.execute("select count(*), sum(length(b)) from cu_mem").fetchall()  # pages now cached
    with psycopg.connect(strata_shared.dsn) as conn, conn.cursor(name="mem") as cur:
        cur.itersize = 2_000
        cur.execute("select a, b from cu_mem")
        before = _rss_kb(pid)
        seen = 0
        peak = before
        for i, (_, b) in enumerate(cur):
            seen += len(b) > 0
            if i % 20_000 == 0:
                peak = max(peak, _rss_kb(pid))
        assert seen == rows
        assert peak - before < 30_000, f"server grew by {peak - before} kB while streaming"

    async def portal() -> tuple[int, int]:
        conn = await asyncpg.connect(strata_shared.dsn)
        try:
            start = _rss_kb(pid)
            top, count = start, 0
            async with conn.transaction():
                async for _ in conn.cursor("select a, b from cu_mem", prefetch=1_000):
                    count += 1
                    if count % 20_000 == 0:
                        top = max(top, _rss_kb(pid))
            return count, top - start
        finally:
            await conn.close()

    count, grown = asyncio.run(portal())
    assert count == rows
    assert grown < 30_000, f"server grew by {grown} kB while streaming a portal"


def test_statement_timeout_stops_declare_and_fetch(pg_oracle: PostgresOracle,
                                                  strata_shared: StrataProcess) -> None:
    """A cursor's reads obey statement_timeout (57014) like any statement, on both servers. (The
    first row is read at DECLARE here, so a query slow to give its first row times out there, where
    PostgreSQL times out at the first FETCH.)"""
    script = ["drop table if exists cu_slow", "create table cu_slow (a int)",
              "insert into cu_slow select generate_series(1, 20000)",
              "begin", "set local statement_timeout = '300ms'",
              "declare c cursor for select x.a from cu_slow x, cu_slow y", "fetch 2 from c",
              "move all in c", "rollback", "select 1"]
    assert _script(strata_shared.dsn, script) == _script(pg_oracle.dsn, script)


BINARY_QUERY = ("select 7::int4 as i4, -9000000000::int8 as i8, 'héllo'::text as t, "
                "-12.3450::numeric as n, true as b, "
                "timestamptz '2024-02-29 12:34:56.789+02' as ts, '\\x00ff10'::bytea as raw, "
                "-1.5e300::float8 as f8, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as u, "
                "array[1, null, 3]::int4[] as ai, array['x', 'y z']::text[] as at, "
                "null::int4 as nothing")


MORE_TYPES = ("select 3::int2, 1.25::float4, date '2024-01-02', time '12:00:01.5', "
              "interval '1 day 2 hours 3.5 seconds', '{\"a\": [1, 2]}'::jsonb, '{\"b\":1}'::json, "
              "'v'::varchar(3), 'c'::char(3), timestamp '2020-01-01 00:00:00', 0.00::numeric, "
              "'NaN'::numeric, 123456789.000001::numeric, array[1.5, null]::numeric[], "
              "array[[1, 2], [3, 4]], '192.168.0.1/24'::inet, int4range(1, 5), "
              "'infinity'::timestamptz, 'x'::name, 42::oid, array[true, false]")


def _raw_binary(dsn: str) -> list[Any]:
    """Formats, type OIDs and raw bytes libpq hands psycopg for FETCHes from a BINARY cursor: the
    simple protocol (binary whatever was asked) and the extended one (the formats of Bind)."""
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        pg = conn.pgconn
        conn.execute("set timezone = 'UTC'")
        pg.exec_(b"begin")
        pg.exec_(f"declare c binary scroll cursor for {BINARY_QUERY}".encode())
        for run in (lambda: pg.exec_(b"fetch 1 from c"),
                    lambda: pg.exec_params(b"fetch prior from c", [], result_format=0),
                    lambda: pg.exec_params(b"fetch next from c", [], result_format=1),
                    lambda: pg.exec_(b"move backward all in c")):
            res = run()
            out.append((res.status, res.command_status,
                        [(res.fformat(i), res.ftype(i)) for i in range(res.nfields)],
                        [[res.get_value(r, i) for i in range(res.nfields)] for r in range(res.ntuples)]))
        pg.exec_(f"declare m binary cursor for {MORE_TYPES}".encode())
        res = pg.exec_(b"fetch all from m")
        out.append([(res.fformat(i), res.ftype(i), res.get_value(0, i)) for i in range(res.nfields)])
        pg.exec_(b"rollback")
    return out


def test_binary_cursor_bytes_agree(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    """A simple-query FETCH from a BINARY cursor sends every column in binary (RowDescription
    format 1) with PostgreSQL's send bytes per type; FETCH through the extended protocol uses the
    Bind's result formats, text or binary."""
    pg = _raw_binary(pg_oracle.dsn)
    assert [f for f, _ in pg[0][2]] == [1] * 12 and [f for f, _ in pg[1][2]] == [0] * 12
    assert pg[0][3] == pg[2][3] and pg[0][3][0][0] == b"\x00\x00\x00\x07"
    st = _raw_binary(strata_shared.dsn)
    for want, got in zip(pg, st, strict=True):
        assert got == want


def test_asyncpg_reads_binary_cursor(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    async def run(dsn: str) -> list[Any]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("set timezone = 'UTC'")
            async with conn.transaction():
                await conn.execute(f"declare c binary scroll cursor for {BINARY_QUERY}")
                first = [tuple(r) for r in await conn.fetch("fetch all from c")]
                status = await conn.execute("move backward 1 in c")
                again = [tuple(r) for r in await conn.fetch("fetch prior from c")]
                await conn.execute("close c")
            return [first, status, again]
        finally:
            await conn.close()

    pg = asyncio.run(run(pg_oracle.dsn))
    assert pg[0] and pg[1] == "MOVE 1"
    assert asyncio.run(run(strata_shared.dsn)) == pg
