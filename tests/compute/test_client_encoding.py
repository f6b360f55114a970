"""client_encoding LATIN1 / LATIN9 / WIN1252 / SQL_ASCII against PostgreSQL 15: text converted at
the wire both ways (query text, parameters, rows, column names, errors), 22P05 for a character
without an equivalent, aliases, unknown names, the startup packet, raw bytes."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import pq

from tests.support import PostgresOracle, StrataProcess

SCRIPTS: dict[str, list[tuple[str, tuple[Any, ...] | None]]] = {
    "LATIN1": [
        ("select 'é' as \"näme\", chr(233), length('é'), upper('ßü')", None),
        ("select %s::text, length(%s::text), %s::text = 'ü'", ("ü", "ü", "ü")),
        ("select chr(8364)", None),
        ("select 1 from \"tàble\"", None),
        ("insert into enc_t values (1, %s), (2, 'ñ')", ("Ä",)),
        ("select a, b, length(b) from enc_t order by a", None),
        ("show client_encoding", None),
    ],
    "WIN1252": [
        ("select '€', chr(8364), length('€'), '‚ƒ„…' as \"€\"", None),
        ("select chr(1234)", None),
        ("select %s::text || 'x'", ("Œ",)),
        ("show client_encoding", None),
    ],
    "LATIN9": [
        ("select '€', chr(8364), length('€')", None),
        ("select chr(164)", None),
        ("show client_encoding", None),
    ],
    "iso-8859-1": [("show client_encoding", None), ("select 'à'", None)],
    "windows-1252": [("show client_encoding", None)],
    "ISO_8859_15": [("show client_encoding", None)],
    "unicode": [("show client_encoding", None), ("select '€'", None)],
}


def _run(dsn: str, encoding: str, script: list[tuple[str, tuple[Any, ...] | None]]) -> list[Any]:
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table if exists enc_t")
        conn.execute("create table enc_t (a int, b text)")
        conn.execute(f"set client_encoding to '{encoding}'")
        out.append(conn.info.encoding)
        for sql, params in script:
            try:
                cur = conn.execute(sql, params)
                names = [d.name for d in cur.description] if cur.description else None
                out.append((cur.statusmessage, cur.fetchall() if cur.description else None, names))
            except psycopg.Error as exc:
                out.append(("error", exc.sqlstate, exc.diag.message_primary))
        conn.execute("reset client_encoding")
        out.append(conn.execute("select a, b from enc_t order by a").fetchall())  # stored as UTF-8
    return out


@pytest.mark.parametrize("encoding", sorted(SCRIPTS))
def test_client_encoding_script_agrees(pg_oracle: PostgresOracle, strata_shared: StrataProcess,
                                       encoding: str) -> None:
    script = SCRIPTS[encoding]
    pg = _run(pg_oracle.dsn, encoding, script)
    st = _run(strata_shared.dsn, encoding, script)
    assert st == pg


def test_set_errors_and_startup(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    out = []
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        got: list[Any] = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            for value in ("foo", "cp1252"):
                try:
                    conn.execute(f"set client_encoding to '{value}'")
                    got.append("ok")
                except psycopg.Error as exc:
                    got.append((exc.sqlstate, exc.diag.message_primary))
        with psycopg.connect(dsn, autocommit=True, client_encoding="latin1") as conn:
            got.append((conn.info.encoding, conn.execute("select 'ç', %s::text", ("ÿ",)).fetchone()))
        try:
            psycopg.connect(dsn, autocommit=True, client_encoding="foo").close()
            got.append("connected")
        except psycopg.OperationalError as exc:
            got.append("invalid value for parameter \"client_encoding\"" in str(exc))
        out.append(got)
    assert out[1] == out[0]
    assert out[0][-1] is True


def test_refused_encoding_known_to_postgres(strata_shared: StrataProcess) -> None:
    """An encoding PostgreSQL knows but Strata does not convert is 0A000, never garbled text."""
    with psycopg.connect(strata_shared.dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            conn.execute("set client_encoding to 'LATIN2'")
        assert conn.execute("select 'é'").fetchone() == ("é",)


def _raw(dsn: str, queries: list[bytes]) -> list[Any]:
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        pgconn = conn.pgconn
        for query in queries:
            res = pgconn.exec_(query)
            values = [res.get_value(0, i) for i in range(res.nfields)] if res.ntuples else None
            out.append((res.status, res.error_field(pq.DiagnosticField.SQLSTATE), res.error_message, values))
    return out


def test_raw_bytes(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    queries = [b"set client_encoding to 'WIN1252'", b"select '\x81'", b"select '\x80', length('\x80')",
               b"select '\x9c' as \"\x80\"", b"set client_encoding to 'LATIN1'", b"select '\xe9\xff', chr(255)",
               b"set client_encoding to 'SQL_ASCII'", b"select '\xc3\xa9', length('\xc3\xa9')",
               b"select chr(8364)"]
    assert _raw(strata_shared.dsn, queries) == _raw(pg_oracle.dsn, queries)


def _copy(dsn: str) -> list[Any]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table if exists enc_copy")
        conn.execute("create table enc_copy (a int, b text)")
        conn.execute("set client_encoding to 'LATIN1'")
        cur = conn.cursor()
        with cur.copy("copy enc_copy from stdin") as copy:
            copy.write(b"1\t\xe9t\xe9\n2\t\xff\n")  # LATIN1 bytes
        with cur.copy("copy enc_copy (b) to stdout") as copy:
            out = b"".join(bytes(chunk) for chunk in copy)
        conn.execute("insert into enc_copy values (3, chr(8364))")
        try:
            with cur.copy("copy enc_copy to stdout (format csv)") as copy:
                b"".join(bytes(chunk) for chunk in copy)
            failed = None
        except psycopg.Error as exc:
            failed = exc.sqlstate
        conn.execute("reset client_encoding")
        return [out, failed, conn.execute("select a, b from enc_copy order by a").fetchall()]


def test_copy_text_is_converted(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    assert _copy(strata_shared.dsn) == _copy(pg_oracle.dsn)


def _notifications(dsn: str) -> list[Any]:
    with psycopg.connect(dsn, autocommit=True) as listener, psycopg.connect(dsn, autocommit=True) as sender:
        listener.execute("set client_encoding to 'LATIN1'")
        listener.execute("listen enc_ch")
        sender.execute("notify enc_ch, 'héllo'")
        sender.execute("select pg_notify('enc_ch', 'ÿ')")
        return [(n.channel, n.payload) for n in listener.notifies(timeout=5, stop_after=2)]


def test_notification_payloads_are_converted(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    pg = _notifications(pg_oracle.dsn)
    assert pg == [("enc_ch", "héllo"), ("enc_ch", "ÿ")]
    assert _notifications(strata_shared.dsn) == pg
