"""EXPLAIN [ANALYZE] against PostgreSQL 15: the plan text differs (it is SQLite's), the shape does
not: one text column named QUERY PLAN, at least one row, tag EXPLAIN, the same errors, and ANALYZE
runs the statement (with Execution Time lines)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

STATEMENTS = [
    "explain select * from ex2_t where a = 1",
    "explain select * from ex2_t t1 join ex2_t t2 on t1.a = t2.b",
    "explain verbose select count(*) from ex2_t",
    "explain (costs off, verbose false) select 1",
    "explain update ex2_t set b = 2 where a = 1",
    "explain delete from ex2_t",
    "explain values (1), (2)",
    "explain select * from ex2_t where a = $1",
    "explain declare c cursor for select * from ex2_t",
]


def _shape(dsn: str, sql: str, params: tuple[Any, ...] | None = None) -> Any:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table if exists ex2_t")
        conn.execute("create table ex2_t (a int primary key, b int)")
        try:
            cur = conn.execute(sql, params)
        except psycopg.Error as exc:
            return ("error", exc.sqlstate)
        assert cur.description is not None
        rows = cur.fetchall()
        return (cur.statusmessage, [(d.name, d.type_code) for d in cur.description], len(rows) >= 1,
                all(isinstance(r[0], str) and r[0] for r in rows))


@pytest.mark.parametrize("sql", STATEMENTS)
def test_explain_shape_agrees(pg_oracle: PostgresOracle, strata_shared: StrataProcess, sql: str) -> None:
    params = (1,) if "$1" in sql else None
    sql = sql.replace("$1", "%s")
    pg = _shape(pg_oracle.dsn, sql, params)
    assert pg == ("EXPLAIN", [("QUERY PLAN", 25)], True, True)
    assert _shape(strata_shared.dsn, sql, params) == pg


def test_explain_analyze_runs_the_statement(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    out = []
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("drop table if exists ex3_t")
            conn.execute("create table ex3_t (a int)")
            plan = [r[0] for r in conn.execute("explain analyze insert into ex3_t values (1), (2)")]
            assert any(line.startswith("Execution Time: ") and line.endswith(" ms") for line in plan), plan
            count = conn.execute("select count(*) from ex3_t").fetchone()
            with conn.transaction():
                conn.execute("explain (analyze) delete from ex3_t")
                inside = conn.execute("select count(*) from ex3_t").fetchone()
                conn.execute("explain analyze select * from ex3_t")
            after = conn.execute("select count(*) from ex3_t").fetchone()
            conn.execute("explain insert into ex3_t values (3)")  # without ANALYZE: nothing runs
            out.append((count, inside, after, conn.execute("select count(*) from ex3_t").fetchone()))
    assert out[0] == out[1] == ((2,), (0,), (0,), (0,))


def test_explain_in_failed_transaction_and_read_only(pg_oracle: PostgresOracle,
                                                     strata_shared: StrataProcess) -> None:
    out = []
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        got: list[Any] = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("drop table if exists ex4_t")
            conn.execute("create table ex4_t (a int)")
            conn.execute("begin read only")
            got.append(conn.execute("explain insert into ex4_t values (1)").statusmessage)
            for sql in ("explain analyze insert into ex4_t values (1)", "explain select 1"):
                try:
                    conn.execute(sql)
                    got.append("ok")
                except psycopg.Error as exc:
                    got.append(exc.sqlstate)
            conn.execute("rollback")
        out.append(got)
    assert out[1] == out[0] == ["EXPLAIN", "25006", "25P02"]


def _formats(dsn: str) -> list[Any]:
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table if exists ex5_t")
        conn.execute("create table ex5_t (a int primary key, b int)")
        for sql in ("explain (format json) select * from ex5_t where a = 1",
                    "explain (analyze, format json) insert into ex5_t values (1, 2)",
                    "explain (format yaml) select * from ex5_t t1 join ex5_t t2 on t1.a = t2.b",
                    "explain (format text, costs off) select 1"):
            cur = conn.execute(sql)
            assert cur.description is not None
            rows = cur.fetchall()
            doc = rows[0][0]
            shape: Any = None
            if isinstance(doc, list):  # json: [{"Plan": {...}, ...}]
                shape = (sorted(k for k in doc[0] if k != "Triggers"), "Node Type" in doc[0]["Plan"])
            elif doc.startswith("- Plan: "):
                shape = "yaml"
            out.append((cur.statusmessage, [(d.name, d.type_code) for d in cur.description], len(rows),
                        shape if shape is not None else "text"))
        out.append(conn.execute("select count(*) from ex5_t").fetchone())
    return out


def test_explain_formats(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    """FORMAT JSON (a json column, one document) and YAML (one text row) as PostgreSQL answers them."""
    pg = _formats(pg_oracle.dsn)
    assert pg[1][3] == (["Execution Time", "Plan", "Planning Time"], True)
    assert _formats(strata_shared.dsn) == pg


def _xml_shape(element: ET.Element, depth: int = 0) -> list[Any]:
    """Tags of an EXPLAIN XML document down to the plan nodes (whose properties differ)."""
    shape: list[Any] = [element.tag]
    if element.tag.endswith("}Plan"):
        return shape + [sorted({child.tag for child in element} & {f"{NS}Node-Type", f"{NS}Actual-Rows",
                                                                     f"{NS}Actual-Loops"})]
    return shape + [_xml_shape(child, depth + 1) for child in element]


NS = "{http://www.postgresql.org/2009/explain}"


def _xml(dsn: str) -> list[Any]:
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table if exists ex6_t")
        conn.execute("create table ex6_t (a int primary key, b text)")
        for sql in ("explain (format xml) select * from ex6_t where a = 1",
                    "explain (analyze, format xml) insert into ex6_t values (1, '<&>')",
                    "explain (format xml, analyze) select b from ex6_t where b = '<&>'",
                    "explain (format xml) declare c cursor for select a from ex6_t"):
            cur = conn.execute(sql)
            assert cur.description is not None and cur.pgresult is not None
            rows = cur.fetchall()
            doc = rows[0][0]
            root = ET.fromstring(doc)  # well-formed, or this raises
            lines = doc.split("\n")
            indents = {len(line) - len(line.lstrip(" ")) for line in lines}
            out.append((cur.statusmessage, [(d.name, d.type_code) for d in cur.description],
                        cur.pgresult.fformat(0), len(rows), lines[0], lines[1], lines[-1],
                        all(i % 2 == 0 for i in indents), root.tag, _xml_shape(root)))
        out.append(conn.execute("select a, b from ex6_t").fetchall())
        for bad in ("explain (format xml) select * from ex6_nosuch", "explain (format xmlx) select 1"):
            try:
                conn.execute(bad)
                out.append("no error")
            except psycopg.Error as exc:
                out.append(exc.sqlstate)
    return out


def test_explain_format_xml(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    """FORMAT XML: one row, one xml (OID 142) column, a well-formed document in PostgreSQL's
    namespace with <Query>, <Plan>, <Plans> and the ANALYZE elements, two-space indentation."""
    pg = _xml(pg_oracle.dsn)
    assert pg[0][1] == [("QUERY PLAN", 142)]
    assert pg[0][4] == '<explain xmlns="http://www.postgresql.org/2009/explain">'
    assert pg[1][9][0] == f"{NS}explain"
    assert pg[-2:] == ["42P01", "22023"]
    assert _xml(strata_shared.dsn) == pg
