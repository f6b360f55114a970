"""A plaintext client's socket lent to a local primary for a write transaction (decision
0017): the same answers as relaying, the proxy's session state kept, and failures that end
the client's connection instead of hanging it."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psycopg
import pytest

from strata.pgwire import handoff
from strata.pgwire.messages import ProtocolViolation
from tests.cluster.tpcb import INVARIANT_SQL
from tests.proxy.support import ProxyProc
from tests.support import StrataProcess

LENT = "proxy_lendings_total"
LENT_TXNS = "proxy_lent_transactions_total"
IDLE_S = 10 * handoff.LEND_LINGER_MS / 1000
"""Long enough a pause for a lending to go back (ten times the compute's linger)."""


class Setup:
    def __init__(self, compute: StrataProcess, lending: ProxyProc, relaying: ProxyProc) -> None:
        self.compute = compute
        self.lending = lending
        self.relaying = relaying


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, secret: Path) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("lent")
    run = root / "run"
    compute = StrataProcess(root / "data", extra_args=[
        "--unix-socket-dir", str(run), "--proxy-secret-file", str(secret)]).start()
    primary = f"127.0.0.1:{compute.port}"
    lending = ProxyProc(root, secret, "--primary", primary, "--auth", "trust",
                        "--compute-socket-dir", str(run), name="proxy-lending").start()
    relaying = ProxyProc(root, secret, "--primary", primary, "--auth", "trust",
                         "--compute-socket-dir", str(run), "--no-lend-sockets",
                         name="proxy-relaying").start()
    try:
        yield Setup(compute, lending, relaying)
    finally:
        lending.stop()
        relaying.stop()
        compute.stop()


def _lent(proxy: ProxyProc) -> float:
    """Lendings handed back so far."""
    return proxy.metric(LENT, outcome="handed_back")


def _lent_after_idle(proxy: ProxyProc) -> tuple[float, float]:
    """(lendings, transactions ended on them) once the client has paused long enough for a
    lending that outlived its transaction to go back."""
    time.sleep(IDLE_S)
    return _lent(proxy), proxy.metric(LENT_TXNS)


def _script(dsn: str, table: str, prepare_threshold: int | None = 2) -> list[object]:
    """Transactions whose every answer is recorded: simple and extended statements, an
    error inside a block, a SET and a COPY in the middle of one, a savepoint."""
    seen: list[object] = []
    with psycopg.connect(dsn, prepare_threshold=prepare_threshold) as conn:
        conn.execute(f"drop table if exists {table}")
        conn.execute(f"create table {table} (id int primary key, v text)")
        conn.commit()
        for i in range(6):  # named statements from the third run (prepare_threshold)
            with conn.transaction():
                cur = conn.execute(f"insert into {table} values (%s, %s) returning id, v", (i, f"v{i}"))
                seen.append(cur.fetchall())
                cur = conn.execute(f"update {table} set v = v || 'x' where id <= %s", (i,))
                seen.append(cur.rowcount)
                seen.append(conn.execute(f"select count(*), max(v) from {table}").fetchall())
        with conn.transaction():
            conn.execute(f"update {table} set v = 'y' where id = 0")
            conn.execute("set local statement_timeout = '5s'")
            seen.append(conn.execute("show statement_timeout").fetchall())
            with conn.cursor().copy(f"copy {table} (id, v) from stdin") as copy:
                copy.write_row((100, "copied"))
            seen.append(conn.execute(f"select v from {table} where id in (0, 100) order by id").fetchall())
        conn.execute("set application_name = 'lent-test'")
        conn.commit()
        with conn.transaction():
            conn.execute(f"update {table} set v = 'z' where id = 1")
            seen.append(conn.execute("show application_name").fetchall())
        try:
            with conn.transaction():
                conn.execute(f"update {table} set v = 'lost' where id = 2")
                conn.execute(f"insert into {table} values (1, 'dup')")
        except psycopg.errors.UniqueViolation as exc:
            seen.append(("23505", type(exc).__name__))
        with conn.transaction():
            conn.execute(f"update {table} set v = 'sp' where id = 3")
            try:
                with conn.transaction():
                    conn.execute(f"update {table} set v = 'gone' where id = 4")
                    conn.execute("select 1/0")
            except psycopg.errors.DivisionByZero:
                seen.append("22012")
        conn.commit()
        seen.append(conn.execute(f"select id, v from {table} order by id").fetchall())
        seen.append(conn.execute("show application_name").fetchall())
    return seen


def test_psycopg_transactions_answer_as_when_relayed(setup: Setup) -> None:
    before, before_txns = _lent_after_idle(setup.lending)
    relayed = _script(setup.relaying.dsn(sslmode="disable"), "lent_a")
    assert _lent(setup.relaying) == 0
    lent = _script(setup.lending.dsn(sslmode="disable"), "lent_b")
    assert lent == relayed
    after, after_txns = _lent_after_idle(setup.lending)
    assert after > before  # the sockets were lent, and handed back
    assert after_txns - before_txns >= 6


def test_unprepared_statements_are_lent_and_answer_as_when_relayed(setup: Setup) -> None:
    """psycopg below its prepare threshold (here: never) sends every statement as a Parse of
    the unnamed statement: such transactions are lent too, with the same answers."""
    _, before_txns = _lent_after_idle(setup.lending)
    relayed = _script(setup.relaying.dsn(sslmode="disable"), "lent_u_a", prepare_threshold=None)
    lent = _script(setup.lending.dsn(sslmode="disable"), "lent_u_b", prepare_threshold=None)
    assert lent == relayed
    assert _lent_after_idle(setup.lending)[1] - before_txns >= 8  # 6 insert/update/select blocks and more
    # lent from the first unprepared statement: a SET (the proxy records it) hands the
    # socket back, the next statement lends it again, and the COMMIT hands it back
    with psycopg.connect(setup.lending.dsn(sslmode="disable"), prepare_threshold=None) as conn:
        before = _lent_after_idle(setup.lending)[0]
        conn.execute("update lent_u_b set v = %s where id = %s", ("one", 1))
        assert _lent(setup.lending) == before  # lent, not handed back yet
        conn.execute("set application_name = 'unprepared'")
        assert _lent(setup.lending) == before + 1
        conn.execute("update lent_u_b set v = %s where id = %s", ("two", 2))  # lent again
        assert conn.execute("select v from lent_u_b where id = %s", (2,)).fetchone() == ("two",)
        assert conn.execute("show application_name").fetchone() == ("unprepared",)
        assert _lent(setup.lending) == before + 1  # the compute took those Parses itself
        conn.commit()
        assert _lent_after_idle(setup.lending)[0] == before + 2
    # the unnamed statement the compute parsed while lent is the proxy's again after it: a
    # Bind of it without a Parse (libpq's PQsendQueryPrepared of ""), on another server
    # connection, runs that statement (the proxy parses it there first)
    with psycopg.connect(setup.lending.dsn(sslmode="disable"), prepare_threshold=None) as conn:
        conn.execute("update lent_u_b set v = 'again' where id = 5")  # lent from here
        server_pid = conn.execute("select pg_backend_pid()").fetchone()
        assert conn.execute("select v from lent_u_b where id = %s", (5,)).fetchone() == ("again",)
        pg = conn.pgconn
        conn.commit()
        with psycopg.connect(setup.compute.dsn, autocommit=True) as direct:
            assert direct.execute("select pg_terminate_backend(%s)", server_pid).fetchone() == (True,)
        time.sleep(0.5)  # the proxy sees that server connection end
        pg.send_query_prepared(b"", [b"5"])
        results = []
        while (res := pg.get_result()) is not None:
            results.append(res)
        assert [r.get_value(0, 0) for r in results] == [b"again"]


def test_pgbench_keeps_its_balances(setup: Setup) -> None:
    """pgbench TPC-B, simple and prepared, through the lending proxy: every transaction
    commits once (the sums agree) and the sockets went to the compute and back."""
    dsn = setup.lending.dsn(sslmode="disable")
    env = {"PGSSLMODE": "disable", "PATH": "/usr/bin:/bin"}
    port = str(setup.lending.port)
    base = ["pgbench", "-h", "127.0.0.1", "-p", port, "-U", "postgres"]
    subprocess.run([*base, "-i", "-s", "1", "-q", "postgres"], check=True, capture_output=True,
                   env=env, timeout=300)
    before, before_txns = _lent_after_idle(setup.lending)
    for mode in ("simple", "prepared"):
        done = subprocess.run([*base, "-n", "-M", mode, "-c", "4", "-j", "2", "-t", "100", "postgres"],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "number of transactions actually processed: 400/400" in done.stdout
    after, after_txns = _lent_after_idle(setup.lending)
    # every transaction ran on a lent socket (the BEGIN of the first on each, the proxy
    # holds), and lendings outlived their transactions: far fewer lendings than transactions
    assert after_txns - before_txns == 800
    assert 1 <= after - before < 400
    with psycopg.connect(dsn) as conn:
        sums = conn.execute(INVARIANT_SQL).fetchone()
    assert sums is not None and sums[0] == sums[1] == sums[2] == sums[3]
    assert sums[4] == 800


def test_a_lending_outlives_its_transaction(setup: Setup) -> None:
    """A client that begins its next transaction within the compute's --lend-linger-ms keeps
    its lending: 30 transactions back to back take one or two lendings, not 30, and give
    the answers of a relayed client; after a pause the socket is the proxy's again."""
    def run(dsn: str) -> list[object]:
        seen: list[object] = []
        with psycopg.connect(dsn) as conn:
            conn.execute("create table if not exists lent_chain (id int primary key, n int)")
            conn.execute("delete from lent_chain")
            conn.execute("insert into lent_chain values (1, 0)")
            conn.commit()
            _lent_after_idle(setup.lending)  # the table's transaction's lending is back
            before = _lent_after_idle(setup.lending)
            for i in range(30):
                cur = conn.execute("update lent_chain set n = n + %s where id = 1 returning n", (i,))
                seen.append(cur.fetchall())
                if i % 10 == 9:
                    seen.append(conn.execute("select count(*), sum(n) from lent_chain").fetchall())
                conn.commit()
            after = _lent_after_idle(setup.lending)
            seen.append(conn.execute("select n from lent_chain").fetchall())
            conn.commit()
        seen.append((after[0] - before[0], after[1] - before[1]))
        return seen

    relayed = run(setup.relaying.dsn(sslmode="disable"))
    assert relayed[-1] == (0, 0)  # that proxy never lends (its metrics stay at zero)
    lent = run(setup.lending.dsn(sslmode="disable"))
    assert lent[:-1] == relayed[:-1]
    lendings, transactions = lent[-1]  # type: ignore[misc]
    assert transactions == 30
    assert 1 <= lendings <= 3, lendings  # one, or a few if the machine is slow (LEND_MAX_S)


@pytest.mark.parametrize("linger_ms", ["0", "300"])
def test_the_linger_flag_and_its_bound(tmp_path: Path, secret: Path, linger_ms: str) -> None:
    """``--lend-linger-ms 0``: the socket goes back at every transaction's end. A long linger:
    a client that never pauses still hands its lending back every LEND_MAX_S (so the proxy
    routes its next transaction again), and not more often."""
    run = tmp_path / "run"
    compute = StrataProcess(tmp_path / "data", extra_args=[
        "--unix-socket-dir", str(run), "--proxy-secret-file", str(secret),
        "--lend-linger-ms", linger_ms]).start()
    proxy = ProxyProc(tmp_path, secret, "--primary", f"127.0.0.1:{compute.port}", "--auth", "trust",
                      "--compute-socket-dir", str(run)).start()
    pause_s = int(linger_ms) / 1000 + IDLE_S
    try:
        # never a named Parse (psycopg's prepare_threshold): it would hand the socket back
        with psycopg.connect(proxy.dsn(sslmode="disable"), prepare_threshold=None) as conn:
            conn.execute("create table nl (a int)")
            conn.commit()
            time.sleep(pause_s)
            before = _lent(proxy), proxy.metric(LENT_TXNS)
            done = 0
            if linger_ms == "0":
                for i in range(5):
                    conn.execute("insert into nl values (%s)", (i,))
                    conn.commit()
                    assert _lent(proxy) == before[0] + i + 1  # back at once, no pause needed
                    done += 1
            else:
                started = time.monotonic()
                while time.monotonic() - started < 2.5 * handoff.LEND_MAX_S:
                    conn.execute("insert into nl values (%s)", (done,))
                    conn.commit()
                    done += 1
            time.sleep(pause_s)
            after = _lent(proxy), proxy.metric(LENT_TXNS)
        assert after[1] - before[1] == done
        if linger_ms != "0":
            assert 2 <= after[0] - before[0] <= 6, (after, before)  # ~every LEND_MAX_S (1.25 s: 3)
    finally:
        proxy.stop()
        compute.stop()


def test_a_transaction_after_lend_max_goes_back_to_the_proxy_unread(tmp_path: Path, secret: Path) -> None:
    """A client's next transaction that arrives on a lingering lending which may not go on
    (LEND_MAX_S has passed; the same rule holds for a node that stopped taking writes) is
    handed back unread, so the proxy routes it: it runs on a new lending."""
    run = tmp_path / "run"
    compute = StrataProcess(tmp_path / "data", extra_args=[
        "--unix-socket-dir", str(run), "--proxy-secret-file", str(secret),
        "--lend-linger-ms", "800"]).start()
    proxy = ProxyProc(tmp_path, secret, "--primary", f"127.0.0.1:{compute.port}", "--auth", "trust",
                      "--compute-socket-dir", str(run)).start()
    try:
        with psycopg.connect(proxy.dsn(sslmode="disable"), prepare_threshold=None) as conn:
            conn.execute("create table lm (a int)")
            conn.commit()
            time.sleep(0.8 + IDLE_S)
            before = _lent(proxy), proxy.metric(LENT_TXNS)
            conn.execute("insert into lm values (1)")  # lent: a lending starts
            conn.commit()
            time.sleep(handoff.LEND_MAX_S + 0.1)  # idle, still within the 800 ms linger
            assert _lent(proxy) == before[0]  # the lending still lingers
            conn.execute("insert into lm values (2)")  # comes after LEND_MAX_S: handed back
            conn.commit()
            # the first lending went back with one transaction, the second runs the new one
            assert (_lent(proxy), proxy.metric(LENT_TXNS)) == (before[0] + 1, before[1] + 1)
            assert conn.execute("select count(*) from lm").fetchone() == (2,)
    finally:
        proxy.stop()
        compute.stop()


def test_asyncpg_pipelines_in_a_transaction(setup: Setup) -> None:
    async def run(dsn: str) -> list[object]:
        conn = await asyncpg.connect(dsn, ssl=False)
        try:
            await conn.execute("drop table if exists lent_pipe; create table lent_pipe (a int, b text)")
            stmt = await conn.prepare("insert into lent_pipe values ($1, $2)")
            async with conn.transaction():
                await stmt.executemany([(i, str(i)) for i in range(50)])
                await conn.executemany("update lent_pipe set b = b || $2 where a = $1",
                                       [(i, "u") for i in range(0, 50, 7)])
                rows = await conn.fetch("select a, b from lent_pipe where a % 7 = 0 order by a")
            async with conn.transaction():
                await stmt.fetch(99, "late")
                total = await conn.fetchval("select count(*) from lent_pipe")
            return [[tuple(r) for r in rows], total]
        finally:
            await conn.close()

    relayed = asyncio.run(run(setup.relaying.dsn()))
    lent = asyncio.run(run(setup.lending.dsn()))
    assert lent == relayed
    assert lent[1] == 51


def test_a_client_that_goes_away_while_lent_frees_the_writer(setup: Setup) -> None:
    """The client drops its connection mid-transaction while the compute holds its socket:
    the transaction rolls back and the writer is free again at once."""
    dsn = setup.lending.dsn(sslmode="disable")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table if exists lent_gone")
        conn.execute("create table lent_gone (id int primary key, v int)")
        conn.execute("insert into lent_gone values (1, 0)")
    before = _lent_after_idle(setup.lending)[0]
    raw = psycopg.connect(dsn)
    raw.execute("update lent_gone set v = 1 where id = 1")  # BEGIN held, this one lent
    assert _lent(setup.lending) == before  # lent, not handed back yet
    sock = socket.socket(fileno=raw.pgconn.socket)
    sock.shutdown(socket.SHUT_RDWR)  # the client's end goes, without a Terminate
    sock.detach()
    start = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("set statement_timeout = '10s'")
        conn.execute("update lent_gone set v = 2 where id = 1")
        assert conn.execute("select v from lent_gone").fetchone() == (2,)
    assert time.monotonic() - start < 5
    with pytest.raises(psycopg.OperationalError):
        raw.execute("select 1")
    raw.close()


def test_cancel_reaches_a_lent_statement(setup: Setup) -> None:
    dsn = setup.lending.dsn(sslmode="disable")
    with psycopg.connect(dsn) as conn:
        conn.execute("create table if not exists lent_cancel (a int)")
        conn.commit()
        conn.execute("insert into lent_cancel values (1)")  # lent from here
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("select pg_sleep(5)")
        conn.rollback()
        assert conn.execute("select 42").fetchone() == (42,)
        conn.commit()


def test_the_compute_dying_while_lent_ends_the_client(tmp_path: Path, secret: Path) -> None:
    """SIGKILL of the compute holding a client's socket: the client's connection ends (it
    does not hang), and after the restart a new connection works; nothing uncommitted
    survives."""
    run = tmp_path / "run"
    compute = StrataProcess(tmp_path / "data", extra_args=[
        "--unix-socket-dir", str(run), "--proxy-secret-file", str(secret)]).start()
    proxy = ProxyProc(tmp_path, secret, "--primary", f"127.0.0.1:{compute.port}", "--auth", "trust",
                      "--compute-socket-dir", str(run)).start()
    try:
        dsn = proxy.dsn(sslmode="disable")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("create table k (a int)")
        client = psycopg.connect(dsn)
        client.execute("insert into k values (1)")  # lent
        compute.kill9()
        start = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            client.execute("insert into k values (2)")
        assert time.monotonic() - start < 10
        client.close()
        compute.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    assert conn.execute("select count(*) from k").fetchone() == (0,)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        proxy.stop()
        compute.stop()


def test_tls_clients_are_relayed(tmp_path: Path, secret: Path) -> None:
    from tests.proxy.support import self_signed_cert

    cert, key = self_signed_cert(tmp_path)
    run = tmp_path / "run"
    compute = StrataProcess(tmp_path / "data", extra_args=[
        "--unix-socket-dir", str(run), "--proxy-secret-file", str(secret)]).start()
    proxy = ProxyProc(tmp_path, secret, "--primary", f"127.0.0.1:{compute.port}", "--auth", "trust",
                      "--compute-socket-dir", str(run), "--tls-cert", str(cert),
                      "--tls-key", str(key)).start()
    try:
        with psycopg.connect(proxy.dsn(sslmode="require")) as conn:
            conn.execute("create table tl (a int)")
            conn.commit()
            for i in range(3):
                conn.execute("insert into tl values (%s)", (i,))
                conn.execute("update tl set a = a + 1")
                conn.commit()
            assert conn.execute("select sum(a) from tl").fetchone() == (9,)
        assert _lent(proxy) == 0
        with psycopg.connect(proxy.dsn(sslmode="disable")) as conn:
            conn.execute("insert into tl values (10)")
            conn.execute("update tl set a = a + 1")
            conn.commit()
        assert _lent_after_idle(proxy) == (1, 1)
    finally:
        proxy.stop()
        compute.stop()


def test_the_commit_board_is_shared_memory_that_only_grows(tmp_path: Path) -> None:
    """The compute's board and a proxy's mapping of it: a publish is seen at once, the value
    never goes back, a restarted compute keeps the file (the proxy's mapping stays good),
    and the proxy's watermark reads every board it maps."""
    from proxy.backend import CommitWatermark

    path = handoff.board_path(str(tmp_path / ".s.PGSQL.5432"))
    compute = handoff.CommitBoard(path, writer=True)
    proxy = handoff.CommitBoard(path, writer=False)
    watermark = CommitWatermark()
    watermark.boards["a"] = proxy
    assert proxy.read() == 0 and watermark.lsn == 0
    compute.publish(1234)
    assert proxy.read() == 1234 and watermark.lsn == 1234
    compute.publish(1000)  # never back
    assert proxy.read() == 1234
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    compute.close()
    restarted = handoff.CommitBoard(path, writer=True)  # the same file, not a new one
    restarted.publish(5000)
    assert proxy.read() == 5000 and watermark.lsn == 5000
    watermark.note(7000)
    assert watermark.lsn == 7000  # a relayed commit's report still counts
    with pytest.raises(OSError):
        handoff.CommitBoard(str(tmp_path / "missing"), writer=False)
    restarted.close()
    proxy.close()


def test_message_formats_refuse_what_is_malformed() -> None:
    body = handoff.handoff_body(7, {"s1": "p_1", "x": "p_2"})
    assert handoff.parse_handoff(body) == (7, {b"s1": b"p_1", b"x": b"p_2"})
    for bad in (body[:-1], body + b"\x00", body[:5], b""):
        with pytest.raises(ProtocolViolation):
            handoff.parse_handoff(bad)
    frame = handoff.handback_frame(b"T", 12345, 3, None, b"Q\x00\x00\x00\x05x")
    assert frame[:1] == handoff.HANDBACK
    assert handoff.parse_handback(frame[5:]) == (b"T", 12345, 3, None, b"Q\x00\x00\x00\x05x")
    with pytest.raises(ProtocolViolation):
        handoff.parse_handback(b"X" + frame[6:])
    parse = b"\x00select 1\x00\x00\x00"
    frame = handoff.handback_frame(b"I", 9, 0, parse, b"S\x00\x00\x00\x04")
    assert handoff.parse_handback(frame[5:]) == (b"I", 9, 0, parse, b"S\x00\x00\x00\x04")
    for bad_length in (-2, len(parse) + 6):  # before -1, or beyond the body
        with pytest.raises(ProtocolViolation):
            handoff.parse_handback(frame[5:18] + bad_length.to_bytes(4, "big", signed=True) + frame[22:])
    with pytest.raises(ProtocolViolation):  # a negative count of transactions
        handoff.parse_handback(frame[5:14] + (-1).to_bytes(4, "big", signed=True) + frame[18:])
    assert handoff.copy_query(b"  COPY t from stdin\x00")
    assert not handoff.copy_query(b"select 'copy'\x00")
    assert re.fullmatch(r".*\.handoff", handoff.side_path("/tmp/.s.PGSQL.1") or "")
    assert handoff.side_path("/" + "d" * 100 + "/.s.PGSQL.1") is None
