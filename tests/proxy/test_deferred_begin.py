"""A plain BEGIN answered by the proxy and sent to the compute with the client's next message
(proxy/client.py ``_hold_begin``, compute/pgwire/deferredbegin.py): what the client sees is
byte for byte what it saw before (and what PostgreSQL 15 sends), now()/xact_start are the
BEGIN's, a BEGIN that fails at the compute fails the statement behind it, the timer sends a
BEGIN the client does not follow up, and only the proxy may send the message. Real processes,
real sockets and clients."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from strata.pgwire.frontend import (
    SYNC,
    TERMINATE,
    deferred_begin,
    frame,
    parse,
    query,
    startup_message,
)
from tests.proxy.conftest import StartProxy
from tests.support import PostgresOracle, StrataProcess

Message = tuple[bytes, bytes]


class Raw:
    """A bare protocol-3 client: the exact messages a server sends."""

    def __init__(self, port: int, **params: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.sock.sendall(startup_message({"user": "postgres", "database": "postgres", **params}))
        self.startup = self.until_ready()

    def _read(self) -> Message:
        while len(self.buf) < 5 or len(self.buf) < 1 + struct.unpack_from("!i", self.buf, 1)[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buf += chunk
        end = 1 + struct.unpack_from("!i", self.buf, 1)[0]
        kind, body, self.buf = self.buf[:1], self.buf[5:end], self.buf[end:]
        return kind, body

    def until_ready(self) -> list[Message]:
        out = []
        while True:
            kind, body = self._read()
            out.append((kind, body))
            if kind == b"Z":
                return out

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def ask(self, data: bytes) -> list[Message]:
        self.send(data)
        return self.until_ready()

    def value(self, sql: str) -> str:
        """The first column of the first row of ``sql`` (text)."""
        for kind, body in self.ask(query(sql)):
            if kind == b"D":
                n = struct.unpack_from("!i", body, 2)[0]
                return body[6:6 + n].decode()
            if kind == b"E":
                raise AssertionError(_fields(body))
        raise AssertionError("no row")

    def close(self) -> None:
        try:
            self.sock.sendall(TERMINATE)
        finally:
            self.sock.close()


def _fields(body: bytes) -> dict[str, str]:
    out = {}
    for part in body.split(b"\x00"):
        if part:
            out[chr(part[0])] = part[1:].decode()
    return out


def _bind_describe_execute(statement: str, result_formats: bytes = b"\x00\x00") -> bytes:
    bind = b"\x00" + statement.encode() + b"\x00" + b"\x00\x00\x00\x00" + result_formats
    return frame(b"B", bind) + frame(b"D", b"P\x00") + frame(b"E", b"\x00\x00\x00\x00\x00") + SYNC


def _visible(messages: list[Message]) -> list[Message]:
    return [(k, b) for k, b in messages if not (k == b"S" and b.startswith(b"strata."))]


def _begin_answers(port: int) -> list[list[Message]]:
    """What a client hears for each plain BEGIN form (simple and prepared), in order."""
    raw = Raw(port)
    got = []
    try:
        for text in ("BEGIN", "begin work;", "START TRANSACTION", " Begin Transaction "):
            got.append(raw.ask(query(text)))
            got.append(raw.ask(query("SELECT 1")))
            got.append(raw.ask(query("ROLLBACK")))
        got.append(raw.ask(parse("b1", "BEGIN", []) + SYNC))
        for formats in (b"\x00\x00", b"\x00\x01\x00\x00", b"\x00\x01\x00\x01"):
            got.append(raw.ask(_bind_describe_execute("b1", formats)))
            got.append(raw.ask(query("COMMIT")))
        got.append(raw.ask(frame(b"B", b"\x00b1\x00\x00\x00\x00\x00\x00\x00")
                           + frame(b"E", b"\x00\x00\x00\x00\x00") + SYNC))
        got.append(raw.ask(query("COMMIT")))
    finally:
        raw.close()
    return got


def test_begin_answers_are_postgresql_bytes(start_proxy: StartProxy, pg_oracle: PostgresOracle) -> None:
    proxy = start_proxy()
    before = proxy.metric("proxy_deferred_begins_total")
    through_proxy = _begin_answers(proxy.port)
    assert proxy.metric("proxy_deferred_begins_total") - before >= 7  # answered by the proxy
    assert [_visible(a) for a in through_proxy] == _begin_answers(pg_oracle.port)


def test_now_and_xact_start_are_the_begins(start_proxy: StartProxy, pg_oracle: PostgresOracle) -> None:
    """BEGIN; (the client waits 0.3 s); now() is the BEGIN's time, as on PostgreSQL: the
    simple and the prepared form, and pg_stat_activity.xact_start with it."""
    proxy = start_proxy()

    def run(port: int) -> list[object]:
        out: list[object] = []
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as c:
            for prepare in (False, True, True):
                c.execute("BEGIN", prepare=prepare)
                time.sleep(0.3)
                out.append(c.execute("SELECT now() < statement_timestamp() - interval '250 ms', "
                                     "now() = transaction_timestamp()").fetchone())
                out.append(c.execute("SELECT xact_start = now(), query_start >= now() + interval '250 ms' "
                                     "FROM pg_stat_activity WHERE pid = pg_backend_pid()").fetchone())
                c.execute("COMMIT")
        return out

    assert run(proxy.port) == run(pg_oracle.port) == [(True, True), (True, True)] * 3


def test_timer_sends_a_begin_nothing_follows(start_proxy: StartProxy, standalone: StrataProcess) -> None:
    """A client that thinks after BEGIN: within a few ms the compute has the block (idle in
    transaction, query BEGIN, xact_start the BEGIN's time); a Terminate after a BEGIN the
    compute never heard of leaves nothing behind."""
    proxy = start_proxy()
    raw = Raw(proxy.port, application_name="timer_path")
    direct = Raw(standalone.port)
    try:
        t0 = time.time()
        assert [k for k, _ in raw.ask(query("begin"))] == [b"C", b"Z"]
        t1 = time.time()
        time.sleep(0.2)
        row = direct.value("SELECT state || '|' || query || '|' || extract(epoch FROM xact_start)::text "
                           "FROM pg_stat_activity WHERE application_name = 'timer_path'")
        state, text, start = row.split("|")
        assert (state, text) == ("idle in transaction", "begin")
        assert t0 - 0.05 <= float(start) <= t1 + 0.05
        assert proxy.metric("proxy_deferred_begins_total", sent="timer") >= 1
        assert raw.value("SELECT now() = transaction_timestamp()") == "t"
        raw.ask(query("ROLLBACK"))
        # Terminate right after BEGIN: the server connection is dropped, no block is left
        quick = Raw(proxy.port, application_name="quick_exit")
        assert quick.ask(query("BEGIN"))[-1] == (b"Z", b"T")
        quick.close()
        time.sleep(0.3)
        assert direct.value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'quick_exit' "
                            "AND state <> 'idle'") == "0"
    finally:
        raw.close()
        direct.close()


def test_deferred_begin_refused_from_a_client(standalone: StrataProcess) -> None:
    """Only the proxy may send it: anyone else gets what an unknown message type gets, FATAL
    08P01, and the connection ends."""
    raw = Raw(standalone.port)
    raw.send(deferred_begin(0, "BEGIN") + query("SELECT 1"))
    kind, body = raw._read()
    assert kind == b"E"
    fields = _fields(body)
    assert (fields["S"], fields["C"]) == ("FATAL", "08P01")
    with pytest.raises(ConnectionError):
        raw._read()
    raw.sock.close()


def test_deferred_begin_dates_the_block_back(standalone: StrataProcess, secret: Path) -> None:
    """On the proxy's own connection: the block starts at the BEGIN's arrival (the wait it
    carries), nothing is answered for it, and the statement behind it runs in the block."""
    raw = Raw(standalone.port, **{"strata.proxy_secret": secret.read_text().strip()})
    try:
        raw.send(deferred_begin(1_500_000, "BEGIN"))
        answers = _visible(raw.ask(query("SELECT now() <= statement_timestamp() - interval '1400 ms'")))
        assert answers[-1] == (b"Z", b"T") and answers[1][0] == b"D" and answers[1][1].endswith(b"t")
        assert _visible(raw.ask(query("COMMIT")))[-1] == (b"Z", b"I")
        # with a statement behind it in the same write, the callback lane's path
        raw.send(deferred_begin(2_000, "BEGIN") + query("SELECT 1"))
        assert _visible(raw.until_ready())[-1] == (b"Z", b"T")
        assert raw.value("SELECT now() < statement_timestamp()") == "t"
        raw.ask(query("ROLLBACK"))
    finally:
        raw.close()


@pytest.fixture
def failing_compute(tmp_path: Path, secret: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StrataProcess]:
    """A compute whose deferred BEGINs fail (its test seam, compute/pgwire/deferredbegin.py)."""
    monkeypatch.setenv("STRATA_TEST_DEFERRED_BEGIN_ERROR", "53400 the BEGIN was refused (test)")
    proc = StrataProcess(tmp_path / "failing", extra_args=["--proxy-secret-file", str(secret)]).start()
    monkeypatch.delenv("STRATA_TEST_DEFERRED_BEGIN_ERROR")
    try:
        yield proc
    finally:
        proc.stop()


def test_a_failed_begin_fails_the_statement_behind_it(start_proxy: StartProxy,
                                                      failing_compute: StrataProcess) -> None:
    proxy = start_proxy(compute=failing_compute)
    dsn = proxy.dsn()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE TABLE fb (x int)")
        for pause, prepare in ((0.0, False), (0.1, False), (0.0, True), (0.0, True)):
            c.execute("BEGIN", prepare=prepare)  # answered by the proxy
            time.sleep(pause)  # 0.1: the timer sends it alone
            with pytest.raises(psycopg.Error) as failed:
                c.execute("INSERT INTO fb VALUES (1)", prepare=prepare)
            assert failed.value.sqlstate == "53400" and "refused (test)" in str(failed.value)
            assert c.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
            with pytest.raises(psycopg.Error) as aborted:
                c.execute("SELECT 1")
            assert aborted.value.sqlstate == "25P02"
            c.execute("ROLLBACK")
        assert c.execute("SELECT count(*) FROM fb").fetchone() == (0,)
        # a BEGIN the compute itself runs (not answered by the proxy) is unaffected
        c.execute("BEGIN; INSERT INTO fb VALUES (2)")
        c.execute("COMMIT")
        assert c.execute("SELECT count(*) FROM fb").fetchone() == (1,)


def test_idle_in_transaction_timeout_counts_from_the_begin(standalone: StrataProcess, secret: Path) -> None:
    """A deferred BEGIN sent alone (the proxy's timer) after waiting 400 ms: the compute's
    idle_in_transaction_session_timeout of 600 ms ends the session ~200 ms later, not 600."""
    raw = Raw(standalone.port, **{"strata.proxy_secret": secret.read_text().strip()})
    raw.ask(query("SET idle_in_transaction_session_timeout = 600"))
    t0 = time.monotonic()
    raw.send(deferred_begin(400_000, "BEGIN"))
    kind, body = raw._read()
    waited = time.monotonic() - t0
    assert kind == b"E" and _fields(body)["C"] == "25P03"
    assert 0.1 <= waited < 0.45, waited
    raw.sock.close()


def test_a_primary_reports_its_readable_lsn_with_commits_only(standalone: StrataProcess,
                                                              secret: Path) -> None:
    """strata.replay_lsn from a primary: with the first answer and with this connection's
    commits, not with every answer after others commit (nobody routes by a primary's)."""
    raw = Raw(standalone.port, **{"strata.proxy_secret": secret.read_text().strip()})
    other = Raw(standalone.port)
    try:

        def reports(messages: list[Message]) -> list[bytes]:
            return [b.split(b"\x00")[0] for k, b in messages if k == b"S" and b.startswith(b"strata.")]

        assert b"strata.replay_lsn" in reports(raw.ask(query("CREATE TABLE IF NOT EXISTS lsn_r (x int)")))
        other.ask(query("INSERT INTO lsn_r VALUES (1)"))  # the node's durable LSN moves on
        assert reports(raw.ask(query("SELECT 1"))) == []
        assert reports(raw.ask(query("INSERT INTO lsn_r VALUES (2)"))) == [b"strata.commit_lsn",
                                                                            b"strata.replay_lsn"]
    finally:
        raw.close()
        other.close()


def test_copy_pipelines_and_cancel_after_a_held_begin(start_proxy: StartProxy) -> None:
    """What follows a held BEGIN goes out behind it: COPY FROM STDIN, a pipelined batch, a
    statement a cancel stops; the transaction commits or rolls back as a whole."""
    proxy = start_proxy()
    with psycopg.connect(proxy.dsn(), autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS hb; CREATE TABLE hb (x int)")
        c.execute("BEGIN")
        with c.cursor().copy("COPY hb FROM STDIN") as copy:
            for i in range(5):
                copy.write_row((i,))
        c.execute("ROLLBACK")
        assert c.execute("SELECT count(*) FROM hb").fetchone() == (0,)
        c.execute("BEGIN")
        with c.cursor().copy("COPY hb FROM STDIN") as copy:
            copy.write_row((7,))
        c.execute("COMMIT")
        with c.pipeline():
            c.execute("BEGIN")
            c.execute("INSERT INTO hb VALUES (%s)", (8,))
            c.execute("COMMIT")
        assert c.execute("SELECT array_agg(x ORDER BY x) FROM hb").fetchone() == ([7, 8],)
        c.execute("BEGIN")
        timer = threading.Timer(0.3, c.cancel)
        timer.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            c.execute("SELECT pg_sleep(5)")
        timer.join()
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        c.execute("ROLLBACK")
        assert c.execute("SELECT 1").fetchone() == (1,)
