"""A tiny in-process executor for translations: enough to run them the way the session does."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import apsw
import pytest

from compute import pgtypes
from compute.sql import (
    Catalog,
    SessionContext,
    Translation,
    bootstrap_statements,
    prepare_connection,
    translate,
)
from compute.sql.api import Kind, SqlError
from compute.sql.errors import map_sqlite_error


@dataclass
class Result:
    translation: Translation
    rows: list[tuple[Any, ...]]
    count: int

    @property
    def types(self) -> list[int]:
        return [c.type_oid for c in self.translation.columns]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.translation.columns]

    def text(self) -> list[tuple[str | None, ...]]:
        """Rows as PostgreSQL text output."""
        oids = self.types
        return [
            tuple(None if v is None else pgtypes.encode_text(oid, v).decode() for v, oid in zip(row, oids, strict=True))
            for row in self.rows
        ]


class Db:
    """An in-memory database with the catalog bootstrapped and UDFs registered."""

    def __init__(self) -> None:
        self.conn = apsw.Connection(":memory:")
        self.ctx = SessionContext(backend_pid=4242)
        prepare_connection(self.conn, self.ctx)
        for statement in bootstrap_statements():
            self.conn.execute(statement)

    @property
    def catalog(self) -> Catalog:
        return Catalog.load(self.conn)

    def run_all(self, sql: str, params: Sequence[Any] = ()) -> list[Result]:
        out = []
        catalog = self.catalog
        for tr in translate(sql, catalog):
            out.append(self.execute(tr, params, catalog))
        return out

    def execute(self, tr: Translation, params: Sequence[Any] = (), catalog: Catalog | None = None) -> Result:
        self.ctx.start_statement(in_transaction=False)
        rows: list[tuple[Any, ...]] = []
        count = 0
        try:
            for i, step in enumerate(tr.steps):
                last = i == len(tr.steps) - 1
                bindings = tuple(params) if last and tr.param_oids else ()
                cursor = self.conn.execute(step, bindings)
                fetched = cursor.fetchall()
                if last:
                    rows = fetched
                    count = len(fetched) if tr.kind == Kind.QUERY else self.conn.changes()
        except apsw.Error as exc:
            raise map_sqlite_error(exc, catalog) from None
        return Result(tr, rows, count)

    def run(self, sql: str, params: Sequence[Any] = ()) -> Result:
        results = self.run_all(sql, params)
        assert len(results) == 1
        return results[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[str | None, ...]]:
        return self.run(sql, params).text()

    def error(self, sql: str, params: Sequence[Any] = ()) -> SqlError:
        with pytest.raises(SqlError) as info:
            self.run_all(sql, params)
        return info.value


@pytest.fixture
def db() -> Iterator[Db]:
    database = Db()
    try:
        yield database
    finally:
        database.conn.close()
