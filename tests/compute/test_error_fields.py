"""ErrorResponse carries the schema/table/column/constraint fields PostgreSQL sends for integrity
errors (psycopg's ``diag``), compared with PostgreSQL 15 for the same statements."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

SCHEMA = [
    "drop table if exists ef_child, ef_parent",
    "create table ef_parent (id int primary key, code text unique, v int not null check (v > 0))",
    "create table ef_child (id int, p int references ef_parent on delete restrict, "
    "constraint ef_child_pair unique (id, p))",
    "insert into ef_parent values (1, 'a', 1)",
    "insert into ef_child values (1, 1)",
]

STATEMENTS = [
    "insert into ef_parent values (1, 'b', 1)",  # primary key
    "insert into ef_parent values (2, 'a', 1)",  # unique column
    "insert into ef_child values (1, 1)",  # multi-column unique
    "insert into ef_parent values (3, 'c', null)",  # not null
    "update ef_parent set v = -1",  # check
    "insert into ef_child values (2, 99)",  # foreign key, referencing side
    "delete from ef_parent",  # foreign key, referenced side
    "select 'x'::int",  # no fields
]


def _diag(dsn: str) -> list[tuple[Any, ...]]:
    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sql in SCHEMA:
            conn.execute(sql)
        for sql in STATEMENTS:
            with pytest.raises(psycopg.Error) as err:
                conn.execute(sql)
            d = err.value.diag
            out.append((sql, d.sqlstate, d.schema_name, d.table_name, d.column_name, d.constraint_name))
        conn.execute("drop table ef_child, ef_parent")
    return out


def test_error_fields_match_postgres(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    assert _diag(strata_shared.dsn) == _diag(pg_oracle.dsn)
