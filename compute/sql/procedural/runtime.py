"""The SQLite UDFs behind user functions, DO blocks and triggers, registered on every connection.

* ``__strata_do(body)``: a DO block (PL/pgSQL), run on the statement's connection.
* ``__strata_call(oid, args...)``: a user function that is not inlined (PL/pgSQL, or SQL with
  more than one ``SELECT expr``); arguments and the result are storage values.
* ``__strata_fire(table, trigger, event, rowid, n_new, new..., old...)``: one row trigger,
  called by the SQLite trigger functions_ddl.py creates. A BEFORE trigger returns 0 to skip the
  row (RETURN NULL: the SQLite trigger does RAISE(IGNORE)); a NEW it changed is kept here and
  written by ``__strata_apply`` (an AFTER trigger that fires before the user's AFTER triggers)
  with an UPDATE by rowid, during which no user trigger fires; NOT NULL, CHECK and foreign keys
  are checked again by that UPDATE, so the stored row is checked as stored.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.catalog.objects import bare_name, quote_ident, split_key
from compute.sql.functions.session import SessionContext
from compute.sql.procedural import describe
from compute.sql.procedural.catalog import TRIGGER_OID, UserFunction, UserTrigger
from compute.sql.procedural.engine import SqlEngine
from compute.sql.procedural.interpreter import Interpreter, Returned
from compute.sql.procedural.parser import Block, parse_plpgsql
from compute.sql.procedural.values import Rec, Var
from compute.sql.translate.split import split_statements

PARSED_BODIES = 256  # per connection: parsed PL/pgSQL bodies (LRU)
MAX_QUEUED_EVENTS = 1_000_000  # AFTER ROW events one statement may queue (each holds a row)
PENDING_NEW_LIMIT = 100_000  # changed NEW rows waiting for their apply (only failed statements leave any)


class Runtime:
    def __init__(self, conn: Any, ctx: SessionContext) -> None:
        self.engine = SqlEngine(conn, ctx)
        self.engine.statement_end = self.statement_end
        self._parsed: OrderedDict[str, Block] = OrderedDict()
        self.pending: dict[tuple[str, str, tuple[Any, ...]], tuple[Any, ...]] = {}

    def parsed(self, body: str) -> Block:
        found = self._parsed.get(body)
        if found is None:
            found = parse_plpgsql(body)
            self._parsed[body] = found
            if len(self._parsed) > PARSED_BODIES:
                self._parsed.popitem(last=False)
        else:
            self._parsed.move_to_end(body)
        return found

    # -------------------------------------------------------------- DO
    def do(self, body: str) -> None:
        self.engine.enter()
        try:
            Interpreter(self.engine).run_body(self.parsed(body))
        finally:
            self.engine.leave()

    # -------------------------------------------------------------- functions
    def call(self, oid: int, *args: Any) -> Any:
        fn = self.engine.catalog().routines.by_oid(oid)
        if fn is None:
            raise SqlError("42883", f"function with OID {oid} does not exist",
                           hint="The function was dropped after this statement was prepared.")
        if fn.strict and any(a is None for a in args):
            return None
        self.engine.enter()
        try:
            value = self._call_sql(fn, args) if fn.language == "sql" else self._call_plpgsql(fn, args)
        finally:
            self.engine.leave()
        return "" if fn.ret_type == T.VOID else value  # void prints as an empty string

    def _arguments(self, fn: UserFunction, args: tuple[Any, ...], interp: Interpreter) -> None:
        for k, value in enumerate(args):
            oid = fn.arg_types[k] if k < len(fn.arg_types) else T.TEXT
            var = Var(oid, value, self.engine.type_name(oid))
            interp.positional.append(var)
            if k < len(fn.arg_names) and fn.arg_names[k]:
                interp.declare(fn.arg_names[k], var)

    def _call_sql(self, fn: UserFunction, args: tuple[Any, ...]) -> Any:
        interp = Interpreter(self.engine)
        self._arguments(fn, args, interp)
        result: Any = None
        statements = split_statements(fn.body)
        for k, stmt in enumerate(statements):
            ran = interp.run_sql(stmt.text)
            if k == len(statements) - 1 and len(fn.out_columns) > 1 and not fn.ret_set:  # OUT parameters: a row
                row = ran.rows[0] if ran.rows else tuple(None for _ in fn.out_columns)
                return [interp.coerce(v, o, want, None) for v, o, (_, want) in
                        zip(row, ran.oids, fn.out_columns, strict=False)]
            if k == len(statements) - 1 and fn.ret_type != T.VOID:
                if ran.rows and ran.oids:
                    result = interp.coerce(ran.rows[0][0], ran.oids[0], fn.ret_type, None)
        return result

    def _declare_outs(self, fn: UserFunction, interp: Interpreter) -> None:
        """OUT parameters and RETURNS TABLE columns are variables (INOUT ones are the argument)."""
        inout = {n for n, m in zip((n for n, _ in fn.out_columns), (m for m in fn.modes if m in "obt"),
                                   strict=False) if m == "b"}
        for name, oid in fn.out_columns:
            if name not in inout:
                interp.declare(name, Var(oid, None, self.engine.type_name(oid)))

    def _call_plpgsql(self, fn: UserFunction, args: tuple[Any, ...]) -> Any:
        if fn.ret_type == TRIGGER_OID:
            raise SqlError("0A000", "trigger functions can only be called as triggers")
        ret_text = None if fn.ret_type == T.VOID else self.engine.type_name(fn.ret_type)
        interp = Interpreter(self.engine, ret_type=ret_text)
        self._arguments(fn, args, interp)
        if fn.out_columns:  # OUT parameters: RETURN (or the end) returns their values
            self._declare_outs(fn, interp)
            interp.run_body(self.parsed(fn.body))
            values = [interp.var(name).value for name, _ in fn.out_columns]
            return values[0] if len(values) == 1 else values
        returned = interp.run_body(self.parsed(fn.body))
        if returned is None:
            if fn.ret_type == T.VOID:
                return None
            raise SqlError("2F005", "control reached end of function without RETURN")
        if returned.record is not None or returned.is_null_record:
            if returned.is_null_record:
                return None
            raise SqlError("0A000", "functions returning records are not supported")
        return returned.value

    # -------------------------------------------------------------- set-returning functions
    def call_set(self, oid: int, *args: Any) -> str:
        """A user function called in FROM: its rows as a JSON array of arrays of storage values
        (functions/user.py reads column i with json_extract). A scalar function gives one row."""
        fn = self.engine.catalog().routines.by_oid(oid)
        if fn is None:
            raise SqlError("42883", f"function with OID {oid} does not exist",
                           hint="The function was dropped after this statement was prepared.")
        if not fn.ret_set:
            value = self.call(oid, *args)
            row = value if len(fn.out_columns) > 1 else [value]
            if value is None and len(fn.out_columns) > 1:  # STRICT with a NULL argument: a row of NULLs
                row = [None for _ in fn.out_columns]
            return json.dumps([[v if not isinstance(v, bytes) else _no_bytes() for v in row]])
        if fn.strict and any(a is None for a in args):
            return "[]"
        columns = list(fn.out_columns) or [(fn.name, fn.ret_type)]
        self.engine.enter()
        try:
            rows = self._set_sql(fn, args, columns) if fn.language == "sql" else self._set_plpgsql(fn, args, columns)
        finally:
            self.engine.leave()
        if any(isinstance(v, bytes) for row in rows for v in row):
            _no_bytes()
        return json.dumps(rows)

    def _set_sql(self, fn: UserFunction, args: tuple[Any, ...], columns: list[tuple[str, int]]) -> list[list[Any]]:
        """The last statement's rows, each value cast to its declared column type (assignment casts,
        as PostgreSQL 13+ applies to a SQL function's result)."""
        interp = Interpreter(self.engine)
        self._arguments(fn, args, interp)
        statements = split_statements(fn.body)
        ran = None
        for stmt in statements:
            ran = interp.run_sql(stmt.text)
        if ran is None or len(ran.oids) != len(columns):
            got = 0 if ran is None else len(ran.oids)
            raise SqlError("42P13", f"return type mismatch in function declared to return "
                                    f"{describe.Describe(self.engine).result(fn.oid)}",
                           detail="Final statement must return exactly one column." if len(columns) == 1 else
                           f"Final statement returns {'too many' if got > len(columns) else 'too few'} columns.")
        return [[interp.coerce(v, got_oid, want, None) for v, got_oid, (_, want) in
                 zip(row, ran.oids, columns, strict=True)] for row in ran.rows]

    def _set_plpgsql(self, fn: UserFunction, args: tuple[Any, ...], columns: list[tuple[str, int]]
                     ) -> list[list[Any]]:
        interp = Interpreter(self.engine, ret_type=None if fn.out_columns else self.engine.type_name(fn.ret_type))
        interp.set_rows = []
        interp.set_columns = columns
        interp.set_table = bool(fn.out_columns)
        self._arguments(fn, args, interp)
        self._declare_outs(fn, interp)
        interp.run_body(self.parsed(fn.body))
        return interp.set_rows

    # -------------------------------------------------------------- triggers
    def fire(self, table: str, oid: int, event: str, rowid: Any, n_new: int, *values: Any) -> int:
        """One row trigger: BEFORE ones run now, AFTER ones (rowid given) are queued when the
        running statement queues them (see engine.SqlEngine.queue) and run at its end."""
        engine = self.engine
        if engine.suppress or engine.no_rows.get(engine.depth, self) is engine.ctx.statement_start:
            return 1
        if rowid is not None and engine.queues_now():
            queue = engine.queue.setdefault(engine.depth, [])
            if len(queue) >= MAX_QUEUED_EVENTS:
                raise SqlError("54000", f"too many AFTER trigger events queued by one statement "
                                        f"(limit {MAX_QUEUED_EVENTS})")
            queue.append((table, oid, event, rowid, n_new, values))
            return 1
        return self._fire_now(table, oid, event, rowid, n_new, *values)

    def statement_begin(self, before: str = "[]", after: str = "[]", no_rows: int = 0) -> None:
        """A DML statement starts: queue its AFTER ROW events (a failed statement's are dropped),
        fire its BEFORE STATEMENT triggers (``before``: JSON [[trigger oid, event], ...]) and keep
        the AFTER STATEMENT ones for statement_end. ``no_rows``: TRUNCATE, whose deletes fire no
        row trigger."""
        engine = self.engine
        engine.queueing[engine.depth] = engine.ctx.statement_start
        engine.queue.pop(engine.depth, None)
        engine.after_statement[engine.depth] = [(int(o), str(e)) for o, e in json.loads(after)]
        if no_rows:
            engine.no_rows[engine.depth] = engine.ctx.statement_start
        else:
            engine.no_rows.pop(engine.depth, None)
        for oid, event in json.loads(before):
            self._fire_statement(int(oid), str(event))

    def statement_end(self) -> None:
        """Fire the AFTER ROW triggers the statement at this depth queued, in order, then its
        AFTER STATEMENT triggers."""
        engine = self.engine
        level = engine.depth
        engine.queueing.pop(level, None)
        engine.no_rows.pop(level, None)
        statement_triggers = engine.after_statement.pop(level, [])
        try:
            while engine.queue.get(level):
                event = engine.queue[level].pop(0)
                self._fire_now(*event[:5], *event[5])
        finally:
            engine.queue.pop(level, None)
        for oid, event_name in statement_triggers:
            self._fire_statement(oid, event_name)

    def _fire_statement(self, oid: int, event: str) -> None:
        """One FOR EACH STATEMENT trigger: NEW and OLD are NULL (their fields read as NULL), its result
        is ignored."""
        catalog = self.engine.catalog()
        trg = next((t for t in catalog.routines.triggers if t.oid == oid), None)
        if trg is None:
            return
        rel = catalog.user_table(trg.table)
        if rel is None:
            return
        fn = self._trigger_function(trg)
        nulls = tuple(None for _ in rel.columns)
        self.engine.enter()
        try:
            interp = Interpreter(self.engine)
            self._trigger_variables(interp, trg, event, self._record(rel.columns, nulls, null=True),
                                    self._record(rel.columns, nulls, null=True))
            if trg.when_sql is not None and not interp.cond(trg.when_sql):
                return
            returned = interp.run_body(self.parsed(fn.body))
        finally:
            self.engine.leave()
        if returned is None:
            raise SqlError("2F005", "control reached end of trigger procedure without RETURN")

    def _fire_now(self, table: str, oid: int, event: str, rowid: Any, n_new: int, *values: Any) -> int:
        """``table``: the name the SQLite trigger was made with (keys the changed-NEW hand-over);
        the trigger itself is found by OID and its table by the trigger (it follows a rename)."""
        catalog = self.engine.catalog()
        trg = next((t for t in catalog.routines.triggers if t.oid == oid), None)
        rel = catalog.user_table(trg.table) if trg is not None else None
        if trg is None or rel is None:
            return 1
        name = trg.name
        columns = rel.columns
        new_values = tuple(values[:n_new])
        old_values = tuple(values[n_new:])
        if (n_new and n_new != len(columns)) or (old_values and len(old_values) != len(columns)):
            raise SqlError("0A000", f'table "{table}" changed after trigger "{name}" was created: '
                                    "drop and create the trigger again")
        key = (table, event, new_values)
        if trg.timing == "BEFORE" and n_new:
            new_values = self.pending.get(key, new_values)
        elif trg.timing == "AFTER" and n_new and rowid is not None and self._has_before(trg, catalog):
            new_values = self._stored(trg.table, columns, rowid) or new_values
        new = self._record(columns, new_values if n_new else tuple(None for _ in columns), null=not n_new)
        old = self._record(columns, old_values or tuple(None for _ in columns), null=not old_values)
        fn = self._trigger_function(trg)
        self.engine.enter()
        try:
            interp = Interpreter(self.engine)
            self._trigger_variables(interp, trg, event, new, old)
            if trg.when_sql is not None and not interp.cond(trg.when_sql):
                return 1
            returned = interp.run_body(self.parsed(fn.body))
        finally:
            self.engine.leave()
        if returned is None:
            raise SqlError("2F005", "control reached end of trigger procedure without RETURN")
        if trg.timing != "BEFORE":
            return 1
        return self._before_result(key, returned, columns, event)

    def _has_before(self, trg: UserTrigger, catalog: Any) -> bool:
        return any(t.timing == "BEFORE" and set(t.events) & set(trg.events) for t in catalog.routines.triggers_on(trg.table))

    def _stored(self, table: str, columns: Any, rowid: Any) -> tuple[Any, ...] | None:
        names = ", ".join(quote_ident(c.name) for c in columns)
        rows = self.engine.conn.execute(f"SELECT {names} FROM {quote_ident(table)} WHERE rowid = ?", (rowid,)).fetchall()
        return tuple(rows[0]) if rows else None

    def _trigger_function(self, trg: UserTrigger) -> UserFunction:
        found = self.engine.catalog().routines.named(trg.function)
        fn = next((f for f in found if f.ret_type == TRIGGER_OID and not f.arg_types), None)
        if fn is None:
            raise SqlError("42883", f"function {trg.function}() does not exist")
        return fn

    def _record(self, columns: Any, values: tuple[Any, ...], null: bool = False) -> Rec:
        rec = Rec({c.name: (c.type_oid, v) for c, v in zip(columns, values, strict=True)}, null=null)
        rec.types = {c.name: self.engine.catalog().format_type(c.type_oid, c.typmod) for c in columns}
        return rec

    @staticmethod
    def _trigger_variables(interp: Interpreter, trg: UserTrigger, event: str, new: Rec, old: Rec) -> None:
        interp.declare("new", new)
        interp.declare("old", old)
        for name, value in (("tg_name", trg.name), ("tg_when", trg.timing), ("tg_level", trg.level),
                            ("tg_op", event), ("tg_table_name", bare_name(trg.table)),
                            ("tg_relname", bare_name(trg.table)), ("tg_table_schema", split_key(trg.table)[0])):
            interp.declare(name, Var(T.NAME if name.endswith("name") and name != "tg_op" else T.TEXT, value))
        interp.declare("tg_nargs", Var(T.INT4, len(trg.args)))
        interp.declare("tg_argv", Var(T.TEXT_ARRAY, json.dumps(list(trg.args))))

    def _before_result(self, key: tuple[str, str, tuple[Any, ...]], returned: Returned, columns: Any,
                       event: str) -> int:
        if returned.is_null_record or returned.record is None:
            if returned.record is None and not returned.is_null_record:
                raise SqlError("0A000", "a BEFORE ROW trigger must return NEW, OLD, another record or NULL")
            self.pending.pop(key, None)
            return 0
        if event == "DELETE":
            return 1
        fields = returned.record.fields or {}
        try:
            final = tuple(fields[c.name][1] for c in columns)
        except KeyError as exc:
            raise SqlError("42804", "returned row structure does not match the structure of the triggering table") \
                from exc
        if final == key[2]:
            self.pending.pop(key, None)
        else:
            if len(self.pending) >= PENDING_NEW_LIMIT:
                self.pending.clear()
            self.pending[key] = final
        return 1

    def apply(self, table: str, event: str, rowid: Any, *values: Any) -> int:
        """AFTER INSERT/UPDATE: write the NEW a BEFORE trigger changed (see the module doc)."""
        if self.engine.suppress:
            return 1
        final = self.pending.pop((table, event, tuple(values)), None)
        if final is None:
            return 1
        rel = self.engine.catalog().user_table(table)
        if rel is None:
            raise SqlError("0A000", f'table "{table}" was renamed after its triggers were created: '
                                    "drop and create its BEFORE triggers again")
        sets = ", ".join(f"{quote_ident(c.name)} = ?" for c in rel.columns)
        self.engine.suppress += 1
        try:
            self.engine.conn.execute(f"UPDATE {quote_ident(table)} SET {sets} WHERE rowid = ?", (*final, rowid))
        finally:
            self.engine.suppress -= 1
        return 1


def _no_bytes() -> Any:
    raise SqlError("0A000", "bytea results of functions called in FROM are not supported")


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The procedural UDFs on one connection (called by compute.sql.prepare_connection)."""
    runtime = Runtime(conn, ctx)

    def do(body: Any) -> None:
        runtime.do(str(body))

    def call(oid: Any, *args: Any) -> Any:
        value = runtime.call(int(oid), *args)
        if isinstance(value, list):  # arrays are stored as JSON text
            return json.dumps(value)
        return value

    conn.create_scalar_function("__strata_do", do, 1)
    conn.create_scalar_function("__strata_call", call, -1)
    conn.create_scalar_function("__strata_call_set", runtime.call_set, -1)
    conn.create_scalar_function("__strata_fire", runtime.fire, -1)
    conn.create_scalar_function("__strata_apply", runtime.apply, -1)
    conn.create_scalar_function("__strata_statement_begin", runtime.statement_begin, -1)
    conn.create_scalar_function("__strata_statement_end", runtime.statement_end, 0)
    describe.register(conn, runtime.engine)  # pg_get_functiondef, pg_get_triggerdef, ...
