"""Routing classification of statement texts (no processes)."""

from __future__ import annotations

import pytest

from strata.classify import Classifier, Kind, split_statements


@pytest.mark.parametrize("sql", [
    "SELECT 1", "select * from t where id = $1", "WITH x AS (SELECT 1) SELECT * FROM x",
    "VALUES (1), (2)", "EXPLAIN SELECT 1", "select now(), count(*) from t",
    "/* comment */ SELECT 2", "SELECT pg_sleep(0.1)", "SELECT lower(name), coalesce(a, 1) FROM t",
    "SELECT jsonb_build_object('a', 1), format_type(23, -1)",
])
def test_reads(sql: str) -> None:
    assert [s.kind for s in Classifier().classify(sql)] == [Kind.READ]


@pytest.mark.parametrize("sql", [
    "INSERT INTO t VALUES (1)", "UPDATE t SET a = 1", "DELETE FROM t", "CREATE TABLE x (a int)",
    "SELECT nextval('s')", "SELECT setval('s', 3)", "SELECT random()", "SELECT set_config('a', 'b', false)",
    "SELECT txid_current()", "SELECT pg_notify('c', 'x')", "SELECT * FROM t FOR UPDATE",
    "SELECT * FROM t FOR SHARE", "WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x",
    "SELECT 1 INTO newtable", "COPY t FROM STDIN", "NOTIFY chan", "EXPLAIN ANALYZE DELETE FROM t",
    "SELECT * FROM (", "this is not sql", "SELECT pg_advisory_xact_lock(1)",
    # answers differently (or fails) on a standby, or unknown: the primary's answer
    "SELECT pg_current_wal_lsn()", "SELECT pg_is_in_recovery()", "SELECT my_unknown_function(1)",
    "SHOW transaction_read_only", "SHOW TimeZone", "SELECT pg_switch_wal()",
])
def test_writes_and_unparseable_go_to_the_primary(sql: str) -> None:
    assert Kind.WRITE in [s.kind for s in Classifier().classify(sql)]


@pytest.mark.parametrize("sql", [
    "LISTEN chan", "PREPARE p AS SELECT 1", "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
    "CREATE TEMP TABLE x (a int)", "create temporary table x (a int)", "SELECT pg_advisory_lock(1)",
])
def test_session_state_pins(sql: str) -> None:
    assert [s.kind for s in Classifier().classify(sql)] == [Kind.PIN]


def test_transaction_control_and_settings() -> None:
    c = Classifier()
    begin = c.classify("BEGIN READ ONLY")[0]
    assert begin.kind is Kind.BEGIN and begin.read_only
    assert c.classify("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")[0].read_only
    assert not c.classify("BEGIN")[0].read_only
    assert c.classify("SET TRANSACTION READ ONLY")[0].kind is Kind.SET_TXN_RO
    s = c.classify("SET SESSION TimeZone TO 'UTC'")[0]
    assert (s.kind, s.setting, s.value) == (Kind.SET, "timezone", "utc")
    assert c.classify("SET LOCAL work_mem = '4MB'")[0].kind is Kind.WRITE
    r = c.classify("RESET TimeZone")[0]
    assert (r.kind, r.setting, r.value) == (Kind.SET, "timezone", "")
    assert c.classify("RESET ALL")[0].kind is Kind.DISCARD
    route = c.classify("SET strata.route = primary")[0]
    assert (route.kind, route.value) == (Kind.ROUTE, "primary")
    assert c.classify("SHOW strata.pools")[0].kind is Kind.SHOW_PROXY
    assert c.classify("COMMIT")[0].kind is Kind.END
    assert (c.classify("DEALLOCATE ALL")[0].kind, c.classify("DEALLOCATE ALL")[0].value) == (Kind.DEALLOCATE, "")
    assert c.classify("deallocate prepare _pg3_1")[0].value == "_pg3_1"


def test_split_respects_quotes_and_comments() -> None:
    sql = "SELECT ';' ; SELECT $$a;b$$; -- x;\nSELECT \"a;\" FROM t; /* ; */"
    assert len(split_statements(sql)) == 3
    assert [s.kind for s in Classifier().classify("SELECT 1; INSERT INTO t VALUES (1)")] == [Kind.READ, Kind.WRITE]


def test_cache_is_bounded() -> None:
    c = Classifier(max_entries=10)
    for i in range(100):
        c.classify(f"SET work_mem = '{i}MB'")
    assert len(c._cache) == 10


FAST_PATH_TEXTS = [
    "SELECT abalance FROM pgbench_accounts WHERE aid = 123;", "select 1", "  SELECT 2 ;  ",
    "SELECT nextval('s')", "select * from t for update", "SELECT pg_advisory_lock(1)",
    "SELECT pg_advisory_xact_lock(1)", "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
    "VALUES (1), (2)", "TABLE t", "select 'a;b'", "SELECT 1; DELETE FROM t", "select $$x$$",
    "select 1 -- c", "select /* ' */ 1", "select E'\\'' ", "SELECT \"a'\", lower('s') FROM t",
    "SELECT \"a'\", nextval('s') FROM t", "select * from t where id = $1", "selectx", "(select 1)",
    "SELECT 1 INTO newtable", "select 'pg_advisory_lock(1)'", "SELECT my_unknown_function(1)",
    "UPDATE pgbench_accounts SET abalance = abalance + -3512 WHERE aid = 66283;", "insert into t values (1)",
    "DELETE FROM t WHERE a = 'x;y'", "update t set a = pg_advisory_lock(1)", "updated", "insert into t values (1); select 1",
    "UPDATE t SET a = pg_advisory_xact_lock(1)", "delete from t -- c",
]


@pytest.mark.parametrize("sql", FAST_PATH_TEXTS)
def test_fast_path_agrees_with_the_general_path(sql: str) -> None:
    from strata.classify import _fast_query, classify_one
    fast = _fast_query(sql)
    if fast is not None:
        assert fast == tuple(classify_one(s) for s in split_statements(sql))
    assert Classifier().classify(sql) == tuple(classify_one(s) for s in split_statements(sql))


def test_shape_cache_does_not_mix_quoted_names_with_literals() -> None:
    """A quote inside a quoted name is not the start of a literal: two texts that differ in
    a function call do not share a shape."""
    c = Classifier()
    assert [s.kind for s in c.classify("SELECT \"a'\", lower('s') FROM t")] == [Kind.READ]
    assert [s.kind for s in c.classify("SELECT \"a'\", nextval('s') FROM t")] == [Kind.WRITE]
    assert [s.kind for s in c.classify("SELECT 1 /* ' */, lower('x')")] == [Kind.READ]
    assert [s.kind for s in c.classify("SELECT 1 /* ' */, nextval('x')")] == [Kind.WRITE]


def test_inlined_literals_do_not_fill_the_text_cache() -> None:
    c = Classifier(max_entries=10)
    for i in range(50):
        assert [s.kind for s in c.classify(f"SELECT abalance FROM a WHERE aid = {i};")] == [Kind.READ]
    assert len(c._cache) == 0


def _split_reference(sql: str) -> list[str]:
    """The char-by-char splitter split_statements replaced (kept to compare against)."""
    import re

    from strata.classify import strip_leading
    out: list[str] = []
    start = i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c == "'" or c == '"':
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "$":
            m = re.match(r"\$[A-Za-z_]*\$", sql[i:])
            if m:
                tag = m.group(0)
                j = sql.find(tag, i + len(tag))
                i = n if j < 0 else j + len(tag)
            else:
                i += 1
        elif c == ";":
            piece = sql[start:i]
            if strip_leading(piece):
                out.append(piece)
            start = i = i + 1
        else:
            i += 1
    piece = sql[start:]
    if strip_leading(piece):
        out.append(piece)
    return out


def test_split_agrees_with_the_char_by_char_splitter() -> None:
    import random
    rng = random.Random(16)
    tokens = ["SELECT", " ", "1", ";", "'", "''", '"', '""', "--", "\n", "/*", "*/", "$$", "$a$", "$",
              "-", "/", "*", "x", "$1", "a;b", "UPDATE t SET v = v + 1", "\t"]
    for _ in range(5000):
        sql = "".join(rng.choice(tokens) for _ in range(rng.randint(0, 14)))
        assert split_statements(sql) == _split_reference(sql), sql


def test_literal_blanking_agrees_with_the_plain_pattern() -> None:
    """The shape's literal regex is written for speed (it starts with a character set); it
    must blank exactly what the plain alternation does, with and without comments/names."""
    import random
    import re

    from strata.classify import _LITERALS, _SHAPE_TOKENS, _shape_token
    plain = r"'(?:[^']|'')*'|(?<![\w$.])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.])"
    literals = re.compile(plain, re.I)
    tokens = re.compile(r"--[^\n]*|/\*.*?\*/|\"(?:[^\"]|\"\")*\"|" + plain, re.I | re.S)
    rng = random.Random(16)
    alphabet = ["a", "b", "0", "1", "42", " ", ".", "'", "''", "$", "_", "e", "E", "+", "-", "x", "\"", "/*",
                "*/", "--", "\n", "1.5e3", "aid = 48213"]
    for _ in range(20000):
        sql = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        assert _LITERALS.sub("0", sql) == literals.sub("0", sql), sql
        assert _SHAPE_TOKENS.sub(_shape_token, sql) == tokens.sub(_shape_token, sql), sql
