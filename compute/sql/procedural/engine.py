"""Running SQL from inside a UDF: PL/pgSQL statements, SQL function bodies, trigger work.

Every statement goes through the same translator as a client's, against the catalog of the
connection the UDF runs on, and executes on that same apsw connection (SQLite allows nested
statements inside a function call), so it sees and joins the caller's transaction.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import apsw

from compute.sql.api import Kind, SqlError, Translation
from compute.sql.catalog.catalog import Catalog
from compute.sql.errors import map_sqlite_error
from compute.sql.functions.session import SessionContext
from compute.sql.privileges import checker_of
from compute.sql.translate.dispatch import translate_statement
from compute.sql.translate.split import split_statements

TRANSLATION_CACHE_ENTRIES = 512  # per connection: translated PL/pgSQL statements
MAX_CALL_DEPTH = 64  # nested function calls / trigger firings (PostgreSQL: stack depth, 54001)


@dataclass
class Ran:
    rows: list[tuple[Any, ...]]
    oids: list[int]  # result column types
    names: list[str]
    changes: int  # rows the statement changed (DML) or returned (query)
    kind: Kind


class SqlEngine:
    """One per apsw connection; the UDFs in runtime.py share it."""

    def __init__(self, conn: Any, ctx: SessionContext) -> None:
        self.conn = conn
        self.ctx = ctx
        self._catalog: Catalog | None = None
        self._version: tuple[int, object] = (-1, None)
        self._cache: OrderedDict[tuple[str, str, tuple[int, ...]], Translation] = OrderedDict()
        self._types: dict[str, int] = {}
        self.depth = 0
        self.savepoints = 0
        self.writes = 0  # write statements completed (an EXCEPTION block without a savepoint checks it)
        self.suppress = 0  # >0 while applying a BEFORE trigger's NEW: user triggers do not fire
        # AFTER ROW trigger events, queued per statement nesting depth until the statement ends
        self.queueing: dict[int, object] = {}  # depth -> the client statement (ctx.statement_start) queueing
        self.queue: dict[int, list[tuple[Any, ...]]] = {}
        self.after_statement: dict[int, list[tuple[int, str]]] = {}  # depth -> AFTER STATEMENT triggers to fire
        self.no_rows: dict[int, object] = {}  # depth -> the client statement (TRUNCATE) whose deletes fire no row trigger
        self.statement_end: Any = None  # runtime.Runtime.statement_end (set by the runtime)

    def catalog(self) -> Catalog:
        """The connection's catalog, re-read when the schema cookie moved or a new transaction
        began (a rolled-back DDL may have left the same cookie value over different content)."""
        version = (int(self.conn.execute("PRAGMA schema_version").fetchall()[0][0]), self.ctx.txn_start)
        if self._catalog is None or version != self._version:
            self._catalog = Catalog.load(self.conn)
            self._version = version
            self._types.clear()
        return self._catalog

    def translate(self, sql: str, oids: tuple[int, ...]) -> Translation:
        catalog = self.catalog()
        key = (sql, catalog.fingerprint, oids)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        statements = split_statements(sql)
        if len(statements) != 1:
            raise SqlError("42601", "a PL/pgSQL statement must be one SQL statement" if statements
                           else "syntax error at end of input")
        tr, _ = translate_statement(statements[0], catalog, oids)
        self._cache[key] = tr
        if len(self._cache) > TRANSLATION_CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return tr

    def run(self, sql: str, oids: tuple[int, ...] = (), values: tuple[Any, ...] = ()) -> Ran:
        tr = self.translate(sql, oids)
        if tr.kind not in (Kind.QUERY, Kind.COMMAND):
            raise SqlError("0A000", f"{tr.tag or 'this statement'} is not supported inside a function or DO block")
        cursor = self.conn.cursor()
        rows: list[tuple[Any, ...]] = []
        queues = tr.after_rows and self.statement_end is not None
        if queues:
            self.queueing[self.depth] = self.ctx.statement_start
            self.queue.pop(self.depth, None)
        checker = checker_of(self.ctx)  # compute/sql/privileges.py: functions run as the session's role
        try:
            last = len(tr.steps) - 1
            for i, step in enumerate(tr.steps):
                if checker is not None:
                    checker.step(self.conn, step, tr.tag == "TRUNCATE TABLE")
                if i == last:
                    cursor.execute(step, values[:len(tr.param_oids)] if tr.param_oids else ())
                    rows = cursor.fetchall() if tr.kind is Kind.QUERY else []
                    if tr.kind is not Kind.QUERY:
                        for _ in cursor:
                            pass
                else:
                    cursor.execute(step)
                    for _ in cursor:
                        pass
            changes = len(rows) if tr.kind is Kind.QUERY else self.conn.changes()
            if tr.is_write:
                self.writes += 1
            if queues:
                self.statement_end()
        except SqlError:
            raise
        except apsw.Error as exc:
            raise map_sqlite_error(exc, self._catalog) from exc
        finally:
            if queues:
                self.queueing.pop(self.depth, None)
                self.queue.pop(self.depth, None)
        if tr.is_ddl:
            self._catalog = None
        return Ran(rows, [c.type_oid for c in tr.columns], [c.name for c in tr.columns], changes, tr.kind)

    def value(self, sql: str, oids: tuple[int, ...], values: tuple[Any, ...]) -> tuple[Any, int]:
        """A one-value query (an expression): its storage value and type."""
        ran = self.run(sql, oids, values)
        if len(ran.rows) > 1:
            raise SqlError("21000", "query returned more than one row")
        if len(ran.oids) != 1:
            raise SqlError("42601", f"query returned {len(ran.oids)} columns")
        return (ran.rows[0][0] if ran.rows else None), ran.oids[0]

    def type_oid(self, type_text: str) -> int:
        """A declared type's OID (through the translator: arrays, enums, typmods, aliases)."""
        found = self._types.get(type_text)
        if found is None:
            found = self.run(f"SELECT CAST(NULL AS {type_text})").oids[0]
            self._types[type_text] = found
        return found

    def type_name(self, oid: int) -> str:
        return self.catalog().format_type(oid)

    def type_name_of(self, type_text: str) -> str:
        """A declared type as PostgreSQL prints it, typmod included (``character varying(3)``)."""
        tr = self.translate(f"SELECT CAST(NULL AS {type_text})", ())
        return self.catalog().format_type(tr.columns[0].type_oid, tr.columns[0].typmod)

    def savepoint(self) -> str | None:
        """A savepoint for an EXCEPTION block; None inside a writing statement (a trigger, or a
        function an INSERT/UPDATE/DELETE calls), where SQLite cannot open one."""
        self.savepoints += 1
        name = f"__strata_plpgsql_{self.savepoints}"
        try:
            self.conn.execute(f"SAVEPOINT {name}")
        except apsw.BusyError:
            return None
        return name

    def rollback_to(self, name: str) -> None:
        self._catalog = None  # it may have undone DDL
        self.conn.execute(f"ROLLBACK TO {name}")
        self.conn.execute(f"RELEASE {name}")

    def release(self, name: str) -> None:
        self.conn.execute(f"RELEASE {name}")

    def check_interrupt(self) -> None:
        """Loops without SQL never reach SQLite's progress handler: poll the statement's guard."""
        guard = self.ctx.guard
        if guard is not None and guard():
            raise apsw.InterruptError("interrupted")

    def notice(self, sqlstate: str, text: str) -> None:
        """RAISE NOTICE/WARNING: sent with the statement's result (compute/backend.py warnings)."""
        backend = self.ctx.backend
        if backend is not None:
            backend.warnings.append((sqlstate, text))

    def queues_now(self) -> bool:
        """Whether the statement running at this depth queues its AFTER ROW events (a statement
        that failed before its end leaves a stale mark: it belongs to an older client statement)."""
        mark = self.queueing.get(self.depth, self)
        return mark is self.ctx.statement_start

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_CALL_DEPTH:
            self.depth -= 1
            raise SqlError("54001", "stack depth limit exceeded",
                           hint="Functions and triggers call each other too deeply.")

    def leave(self) -> None:
        self.depth -= 1
