"""pg_dump / pg_restore round trips between Strata and PostgreSQL 15, both ways, plain and custom
format, with the Debian pg_dump, pg_restore and psql 15 binaries.

A database with tables of several types (numeric, text, dates and times, bytea, uuid, json/jsonb,
arrays, an enum type; defaults, NOT NULL, primary, unique, foreign keys, checks),
sequences (owned by a serial column, free-standing and advanced), indexes (unique, multi-column,
DESC), a view, comments and rows holding NULLs, quotes, tabs, newlines, backslashes and non-ASCII
text is created on one server, dumped, restored into a fresh database on the other with errors
fatal (psql ON_ERROR_STOP / pg_restore --exit-on-error), and the same catalog queries and row
queries must answer the same on source and copy.

Outside what is compared: view definitions are compared after normalizing layout (parentheses,
``AS`` before aliases, whitespace), since Strata's pg_get_viewdef is not PostgreSQL's deparser;
owners and privileges (Strata has one role: ``OWNER TO`` the session user is accepted as a no-op);
extensions, functions, triggers, schemas other than public.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import PG_BIN, PostgresOracle, StrataProcess

SCHEMA = r"""
CREATE TABLE customers (
    id integer PRIMARY KEY,
    email varchar(120) NOT NULL UNIQUE,
    name text NOT NULL DEFAULT 'anon',
    score numeric(10,2) DEFAULT 0,
    active boolean NOT NULL DEFAULT true,
    born date,
    created timestamp DEFAULT '2020-01-01 00:00:00',
    ratio double precision,
    small smallint CHECK (small >= 0),
    big bigint,
    note text
);
CREATE SEQUENCE order_seq START 100 INCREMENT 5;
CREATE SEQUENCE spare_seq;
CREATE TABLE orders (
    id serial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    code char(4),
    qty integer NOT NULL CHECK (qty > 0),
    ref integer DEFAULT nextval('order_seq'),
    payload bytea,
    UNIQUE (customer_id, code)
);
CREATE INDEX orders_qty_idx ON orders (qty);
CREATE INDEX orders_cust_qty_idx ON orders (customer_id, qty DESC);
CREATE UNIQUE INDEX customers_name_big_idx ON customers (name, big);
CREATE VIEW big_orders AS SELECT o.id, o.qty, c.email FROM orders o JOIN customers c ON c.id = o.customer_id
    WHERE o.qty > 10;
COMMENT ON TABLE customers IS 'people who buy';
COMMENT ON COLUMN customers.email IS 'contact address';
INSERT INTO customers VALUES
 (1, 'a@x.org', 'Ann', 12.50, true, '1990-05-01', '2021-02-03 04:05:06', 1.5, 3, 9000000000, NULL),
 (2, 'b@x.org', 'O''Brien', NULL, false, NULL, NULL, NULL, NULL, NULL, E'tab\there\nnewline \\ back'),
 (3, 'c@x.org', 'Zoë 漢字', -3.25, true, '2000-02-29', '1999-12-31 23:59:59', -0.25, 0, -1, 'quote " double');
INSERT INTO orders (customer_id, code, qty, payload) VALUES (1, 'AB', 5, '\x00ff'), (1, 'CD', 20, NULL),
    (3, NULL, 11, '\x');
SELECT nextval('order_seq');
SELECT nextval('order_seq');
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE extras (
    k bigint PRIMARY KEY,
    u uuid,
    j jsonb,
    js json,
    tz timestamptz,
    iv interval,
    tags text[],
    nums integer[],
    m mood DEFAULT 'ok',
    t time,
    r real,
    d date NOT NULL DEFAULT '2024-01-01'
);
INSERT INTO extras VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.5, null], "b": "x\ty"}',
    '{"z":1}', '2024-03-01 12:00:00+02', '1 day 02:03:04', '{a,"b c",NULL,"q\"q"}', '{1,NULL,3}', 'happy',
    '13:14:15', 1.25, '2020-02-02'),
  (2, NULL, NULL, NULL, NULL, NULL, '{}', NULL, NULL, NULL, NULL, DEFAULT);
"""

# The same queries on source and copy; each answer is compared as psql prints it.
CATALOG_QUERIES = [
    "SELECT table_name, column_name, ordinal_position, column_default, is_nullable, data_type, "
    "character_maximum_length, numeric_precision, numeric_scale FROM information_schema.columns "
    "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    # NOT NULL checks are named after table oids, which differ between databases
    "SELECT table_name, constraint_name, constraint_type FROM information_schema.table_constraints "
    "WHERE constraint_schema = 'public' AND constraint_name NOT LIKE '%_not_null' "
    "ORDER BY table_name, constraint_name",
    "SELECT constraint_name, table_name, column_name, ordinal_position FROM information_schema.key_column_usage "
    "WHERE constraint_schema = 'public' ORDER BY constraint_name, ordinal_position",
    "SELECT constraint_name, unique_constraint_name, match_option, update_rule, delete_rule "
    "FROM information_schema.referential_constraints WHERE constraint_schema = 'public' ORDER BY 1",
    "SELECT constraint_name, check_clause FROM information_schema.check_constraints "
    "WHERE constraint_schema = 'public' AND constraint_name NOT LIKE '%_not_null' ORDER BY 1",
    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
    "SELECT sequencename, start_value, min_value, max_value, increment_by, cycle, last_value "
    "FROM pg_sequences WHERE schemaname = 'public' ORDER BY sequencename",
    "SELECT obj_description('customers'::regclass, 'pg_class'), col_description('customers'::regclass, 2)",
    "SELECT viewname FROM pg_views WHERE schemaname = 'public' ORDER BY 1",
]
ROW_QUERIES = [
    "SELECT * FROM customers ORDER BY id",
    "SELECT * FROM orders ORDER BY id",
    "SELECT * FROM big_orders ORDER BY id",
    "SELECT * FROM extras ORDER BY k",
    "SELECT enum_range(NULL::mood)",
    # the sequences continue where the source left them
    "SELECT nextval('order_seq'), nextval('orders_id_seq'), nextval('spare_seq')",
]
VIEW_QUERY = "SELECT definition FROM pg_views WHERE viewname = 'big_orders'"


def _run(*args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(args, input=stdin, capture_output=True, timeout=60)
    assert done.returncode == 0, (args, done.stderr.decode(errors="replace"))
    # ON_ERROR_STOP makes psql fail on the first error; pg_restore --exit-on-error likewise
    assert b"ERROR" not in done.stderr, done.stderr.decode(errors="replace")
    return done.stdout


def _conn(port: int, db: str) -> list[str]:
    return ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db]


def _psql(port: int, db: str, sql: str) -> str:
    out = _run(str(PG_BIN / "psql"), *_conn(port, db), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
               "-F", "\x1f", "-f", "-", stdin=sql.encode())
    return out.decode()


def _create_db(port: int, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    _psql(port, "postgres", f"CREATE DATABASE {name}")
    return name


def _normalize_view(text: str) -> str:
    text = re.sub(r"[()]", "", text)
    text = re.sub(r"\bAS\s+", "", text)
    text = text.replace("public.", "")
    return " ".join(text.split())


def _snapshot(port: int, db: str) -> dict[str, str]:
    answers = {q: _psql(port, db, q) for q in CATALOG_QUERIES + ROW_QUERIES}
    answers[VIEW_QUERY] = _normalize_view(_psql(port, db, VIEW_QUERY))
    return answers


def _dump_and_restore(src_port: int, src_db: str, dst_port: int, dst_db: str, fmt: str,
                      tmp: Path) -> None:
    dump = tmp / f"{src_db}.{fmt}"
    _run(str(PG_BIN / "pg_dump"), *_conn(src_port, src_db), f"-F{fmt}", "-f", str(dump))
    if fmt == "p":
        _run(str(PG_BIN / "psql"), *_conn(dst_port, dst_db), "-X", "-q", "-v", "ON_ERROR_STOP=1",
             "-f", str(dump))
    else:
        _run(str(PG_BIN / "pg_restore"), *_conn(dst_port, dst_db), "--exit-on-error", str(dump))


def _before_after(src_port: int, dst_port: int, fmt: str, tmp: Path) -> tuple[dict[str, str], dict[str, str]]:
    src_db = _create_db(src_port, "dump_src")
    _psql(src_port, src_db, SCHEMA)
    dst_db = _create_db(dst_port, "dump_dst")
    _dump_and_restore(src_port, src_db, dst_port, dst_db, fmt, tmp)
    return _snapshot(src_port, src_db), _snapshot(dst_port, dst_db)


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Iterator[Path]:
    tmp_path.chmod(0o777)
    yield tmp_path


@pytest.mark.parametrize("fmt", ["p", "c"])
def test_strata_to_postgres(strata_shared: StrataProcess, pg_oracle: PostgresOracle, fmt: str,
                            tmp_dir: Path) -> None:
    before, after = _before_after(strata_shared.port, pg_oracle.port, fmt, tmp_dir)
    assert "Zoë 漢字" in before[ROW_QUERIES[0]] and "\\x00ff" in before[ROW_QUERIES[1]]
    for query, answer in before.items():
        assert after[query] == answer, query


@pytest.mark.parametrize("fmt", ["p", "c"])
def test_postgres_to_strata(strata_shared: StrataProcess, pg_oracle: PostgresOracle, fmt: str,
                            tmp_dir: Path) -> None:
    before, after = _before_after(pg_oracle.port, strata_shared.port, fmt, tmp_dir)
    assert "Zoë 漢字" in before[ROW_QUERIES[0]] and "\\x00ff" in before[ROW_QUERIES[1]]
    for query, answer in before.items():
        assert after[query] == answer, query


def test_dump_of_strata_matches_postgres_catalog_answers(strata_shared: StrataProcess,
                                                         pg_oracle: PostgresOracle) -> None:
    """The schema built from the same SQL answers the catalog queries pg_dump relies on alike."""
    strata_db = _create_db(strata_shared.port, "same_src")
    pg_db = _create_db(pg_oracle.port, "same_src")
    _psql(strata_shared.port, strata_db, SCHEMA)
    _psql(pg_oracle.port, pg_db, SCHEMA)
    strata, pg = _snapshot(strata_shared.port, strata_db), _snapshot(pg_oracle.port, pg_db)
    for query, answer in pg.items():
        assert strata[query] == answer, query
