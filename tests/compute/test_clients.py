"""End-to-end: real psycopg 3 and asyncpg clients against a real standalone compute process."""

from __future__ import annotations

import asyncio
import threading
import time

import asyncpg
import psycopg
import pytest
from psycopg import errors as pgerr

from tests.support import StrataProcess


def connect(strata: StrataProcess, **kw: object) -> psycopg.Connection:
    return psycopg.connect(strata.dsn, **kw)  # type: ignore[arg-type]


def test_startup_reports_parameters(strata_shared: StrataProcess) -> None:
    with connect(strata_shared) as conn:
        params = conn.info.parameter_status
        assert conn.info.server_version >= 150000
        assert params("client_encoding") == "UTF8"
        assert params("DateStyle") == "ISO, MDY"
        assert params("integer_datetimes") == "on"
        assert params("standard_conforming_strings") == "on"
        assert params("TimeZone") == "UTC"
        conn.execute("SET application_name = 'suite'")
        assert conn.info.parameter_status("application_name") == "suite"


def test_crud_with_parameters(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS crud")
        conn.execute("CREATE TABLE crud (id int PRIMARY KEY, name varchar(20) NOT NULL, "
                     "score bigint, at timestamp)")
        row = conn.execute("INSERT INTO crud VALUES (%s, %s, %s, CURRENT_TIMESTAMP) "
                           "RETURNING id, name", (1, "ann", 10)).fetchone()
        assert row == (1, "ann")
        cur = conn.execute("INSERT INTO crud (id, name, score) VALUES (2, 'bob', 20), "
                           "(3, 'cy', NULL)")
        assert cur.statusmessage == "INSERT 0 2"
        cur = conn.execute("UPDATE crud SET score = score + %s WHERE id <= %s", (5, 2))
        assert cur.rowcount == 2
        rows = conn.execute("SELECT id, name, score FROM crud ORDER BY id").fetchall()
        assert rows == [(1, "ann", 15), (2, "bob", 25), (3, "cy", None)]
        assert conn.execute("DELETE FROM crud WHERE id = 3").rowcount == 1
        assert conn.execute("SELECT count(*) FROM crud").fetchone() == (2,)
        with pytest.raises(pgerr.UniqueViolation):
            conn.execute("INSERT INTO crud (id, name) VALUES (1, 'dup')")
        with pytest.raises(pgerr.NotNullViolation):
            conn.execute("INSERT INTO crud (id) VALUES (9)")


def test_error_sqlstates(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as conn:
        with pytest.raises(pgerr.UndefinedTable):
            conn.execute("SELECT * FROM no_such_table")
        with pytest.raises(pgerr.SyntaxError):
            conn.execute("SELEC 1")
    with connect(strata_shared) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(pgerr.UndefinedTable):
            conn.execute("SELECT * FROM no_such_table")
        with pytest.raises(pgerr.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_transactions_and_savepoints(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as setup:
        setup.execute("DROP TABLE IF EXISTS tx")
        setup.execute("CREATE TABLE tx (id int PRIMARY KEY, v text)")
    with connect(strata_shared) as conn:
        conn.execute("INSERT INTO tx VALUES (1, 'a')")
        conn.rollback()
        conn.execute("INSERT INTO tx VALUES (2, 'b')")
        conn.commit()
        with conn.transaction():
            conn.execute("INSERT INTO tx VALUES (3, 'c')")
            try:
                with conn.transaction():  # SAVEPOINT ... ROLLBACK TO
                    conn.execute("INSERT INTO tx VALUES (4, 'd')")
                    conn.execute("INSERT INTO tx VALUES (3, 'again')")
            except pgerr.UniqueViolation:
                pass
            conn.execute("INSERT INTO tx VALUES (5, 'e')")
        conn.commit()
        ids = [r[0] for r in conn.execute("SELECT id FROM tx ORDER BY id")]
        assert ids == [2, 3, 5]


def test_savepoint_before_first_write(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS sp")
        conn.execute("CREATE TABLE sp (id int)")
        conn.execute("BEGIN")
        conn.execute("SAVEPOINT a")
        conn.execute("INSERT INTO sp VALUES (1)")
        conn.execute("ROLLBACK TO SAVEPOINT a")
        conn.execute("INSERT INTO sp VALUES (2)")
        conn.execute("COMMIT")
        assert conn.execute("SELECT id FROM sp").fetchall() == [(2,)]


def test_prepared_and_executemany(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS em")
        conn.execute("CREATE TABLE em (id int PRIMARY KEY, v bigint)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO em VALUES (%s, %s)", [(i, i * 10) for i in range(100)])
        for i in range(10):  # psycopg prepares server-side after 5 executions
            row = conn.execute("SELECT v FROM em WHERE id = %s", (i,), prepare=True).fetchone()
            assert row == (i * 10,)
        assert conn.execute("SELECT sum(v) FROM em").fetchone() == (49500,)


def test_copy_psycopg(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS cp")
        conn.execute("CREATE TABLE cp (id int, name text, note varchar(30))")
        with conn.cursor() as cur:
            with cur.copy("COPY cp (id, name, note) FROM STDIN") as copy:
                for i in range(1000):
                    copy.write_row((i, f"n\t{i}", None if i % 2 else "x,y"))
            assert conn.execute("SELECT count(*), count(note) FROM cp").fetchone() == (1000, 500)
            assert conn.execute("SELECT name FROM cp WHERE id = 7").fetchone() == ("n\t7",)
            with cur.copy("COPY cp TO STDOUT WITH (FORMAT csv)") as copy:
                data = b"".join(bytes(chunk) for chunk in copy)
            lines = data.decode().splitlines()
            assert len(lines) == 1000
            assert '0,n\t0,"x,y"' in lines
            with cur.copy("COPY cp (id, name) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(b'5000,"quoted ""x"""\n5001,\n')
            rows = conn.execute("SELECT id, name FROM cp WHERE id >= 5000 ORDER BY id").fetchall()
            assert rows == [(5000, 'quoted "x"'), (5001, None)]


def test_copy_bad_data_is_rejected_atomically(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS cpbad")
        conn.execute("CREATE TABLE cpbad (id int, v int)")
        with pytest.raises(pgerr.InvalidTextRepresentation), conn.cursor() as cur:
            with cur.copy("COPY cpbad FROM STDIN") as copy:
                copy.write(b"1\t2\n2\tnot-a-number\n")
        assert conn.execute("SELECT count(*) FROM cpbad").fetchone() == (0,)


def test_cancel_long_query(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as conn:
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        started = time.monotonic()
        with pytest.raises(pgerr.QueryCanceled) as info:
            conn.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) "
                         "SELECT count(*) FROM c")
        assert "user request" in str(info.value)
        assert time.monotonic() - started < 10
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_statement_timeout(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '300ms'")
        with pytest.raises(pgerr.QueryCanceled) as info:
            conn.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) "
                         "SELECT count(*) FROM c")
        assert "statement timeout" in str(info.value)
        conn.execute("SET statement_timeout = 0")
        assert conn.execute("SELECT 3").fetchone() == (3,)


def test_lock_timeout(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as setup:
        setup.execute("DROP TABLE IF EXISTS lt")
        setup.execute("CREATE TABLE lt (id int)")
    with connect(strata_shared) as holder, connect(strata_shared) as waiter:
        holder.execute("INSERT INTO lt VALUES (1)")  # holds the writer until commit
        waiter.execute("SET lock_timeout = '200ms'")
        started = time.monotonic()
        with pytest.raises(pgerr.LockNotAvailable):
            waiter.execute("INSERT INTO lt VALUES (2)")
        assert time.monotonic() - started < 5
        waiter.rollback()
        holder.commit()
        waiter.execute("INSERT INTO lt VALUES (3)")
        waiter.commit()
        assert holder.execute("SELECT id FROM lt ORDER BY id").fetchall() == [(1,), (3,)]


def test_idle_in_transaction_timeout(strata_shared: StrataProcess) -> None:
    conn = connect(strata_shared)
    conn.execute("SET idle_in_transaction_session_timeout = '200ms'")
    conn.execute("SELECT 1")
    time.sleep(0.6)
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT 1")
    assert info.value.sqlstate in ("25P03", None)  # FATAL 25P03, or the closed socket
    assert conn.closed or conn.broken
    conn.close()


def test_snapshot_isolation_repeatable_read(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as setup:
        setup.execute("DROP TABLE IF EXISTS snap")
        setup.execute("CREATE TABLE snap (id int PRIMARY KEY, v int)")
        setup.execute("INSERT INTO snap VALUES (1, 0)")
    with connect(strata_shared, autocommit=True) as reader, \
            connect(strata_shared, autocommit=True) as writer:
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        assert reader.execute("SELECT v FROM snap").fetchone() == (0,)
        for i in range(1, 20):
            writer.execute("UPDATE snap SET v = %s", (i,))
            assert reader.execute("SELECT v FROM snap").fetchone() == (0,)
        with pytest.raises(pgerr.SerializationFailure):
            reader.execute("UPDATE snap SET v = -1")
        reader.execute("ROLLBACK")
        assert reader.execute("SELECT v FROM snap").fetchone() == (19,)
        # READ COMMITTED sees each commit as it happens
        reader.execute("BEGIN")
        assert reader.execute("SELECT v FROM snap").fetchone() == (19,)
        writer.execute("UPDATE snap SET v = 100")
        assert reader.execute("SELECT v FROM snap").fetchone() == (100,)
        reader.execute("COMMIT")


def test_no_lost_updates_under_concurrency(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as setup:
        setup.execute("DROP TABLE IF EXISTS counter")
        setup.execute("CREATE TABLE counter (id int PRIMARY KEY, n int)")
        setup.execute("INSERT INTO counter VALUES (1, 0)")

    async def worker() -> None:
        conn = await asyncpg.connect(strata_shared.dsn)
        try:
            for _ in range(25):
                async with conn.transaction():
                    await conn.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
                    n = await conn.fetchval("SELECT n FROM counter WHERE id = 1")
                    assert n > 0
        finally:
            await conn.close()

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(8)))

    asyncio.run(main())
    with connect(strata_shared) as conn:
        assert conn.execute("SELECT n FROM counter").fetchone() == (200,)


def test_asyncpg_end_to_end(strata_shared: StrataProcess) -> None:
    async def main() -> None:
        conn = await asyncpg.connect(strata_shared.dsn)
        try:
            await conn.execute("DROP TABLE IF EXISTS apg")
            await conn.execute("CREATE TABLE apg (id int PRIMARY KEY, name text, big bigint, "
                               "ok boolean, price numeric(10,2))")
            await conn.executemany("INSERT INTO apg (id, name, big, ok) VALUES ($1, $2, $3, $4)",
                                   [(i, f"n{i}", i * 2**40, i % 2 == 0) for i in range(50)])
            row = await conn.fetchrow("SELECT id, name, big, ok FROM apg WHERE id = $1", 7)
            assert row is not None and tuple(row) == (7, "n7", 7 * 2**40, False)
            stmt = await conn.prepare("SELECT name FROM apg WHERE id = $1")
            assert await stmt.fetchval(3) == "n3"
            assert await stmt.fetchval(4) == "n4"
            count = await conn.copy_records_to_table(
                "apg", records=[(100 + i, f"c{i}", i, True) for i in range(300)],
                columns=["id", "name", "big", "ok"])
            assert count == "COPY 300"
            assert await conn.fetchval("SELECT count(*) FROM apg") == 350
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute("INSERT INTO apg (id) VALUES (1)")
            with pytest.raises(asyncpg.UndefinedTableError):
                await conn.fetch("SELECT * FROM nope")
            with pytest.raises(asyncpg.PostgresSyntaxError):
                await conn.fetch("SELEKT 1")
            async with conn.transaction():
                await conn.execute("DELETE FROM apg WHERE id >= 100")
            assert await conn.fetchval("SELECT count(*) FROM apg") == 50
            task = asyncio.ensure_future(conn.fetch(
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) "
                "SELECT count(*) FROM c", timeout=0.5))
            with pytest.raises(asyncio.TimeoutError):
                await task
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()

    asyncio.run(main())


def test_empty_query_and_multi_statement(strata_shared: StrataProcess) -> None:
    with connect(strata_shared, autocommit=True) as conn:
        cur = conn.execute("")
        assert cur.pgresult is not None
        assert cur.pgresult.status == psycopg.pq.ExecStatus.EMPTY_QUERY
        cur = conn.execute("SELECT 1; SELECT 2")
        assert cur.fetchall() == [(1,)]
        assert cur.nextset() and cur.fetchall() == [(2,)]
