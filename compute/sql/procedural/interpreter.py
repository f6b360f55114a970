"""The PL/pgSQL interpreter: walks the parser's tree; every expression and SQL statement runs
through the SQL translator (engine.py) with the variables it names bound as parameters.

Variables hold storage values with their PostgreSQL type, as SQLite holds column values, so a
value read from a table goes into a variable and back without conversion. A block with an
EXCEPTION clause runs inside a savepoint (PostgreSQL's subtransaction).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

import apsw

from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.errors import map_sqlite_error
from compute.sql.procedural import parser as P
from compute.sql.procedural.engine import SqlEngine
from compute.sql.procedural.lexer import PARAM, QUOTED, WORD, Tok, lex
from compute.sql.procedural.values import CONDITIONS, Rec, Var, condition_matches, value_text

_TABLE_BEFORE = frozenset({"from", "join", "into", "update", "table", "truncate", "only"})
_SKIP_AFTER = frozenset({".", "::"})
_ASSIGN_CONTEXT = frozenset({"set", ","})


class _Exit(Exception):
    def __init__(self, label: str | None, is_continue: bool) -> None:
        super().__init__(label)
        self.label = label
        self.is_continue = is_continue


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        super().__init__("return")
        self.value = value


MAX_SET_ROWS = 1_000_000  # rows one call of a set-returning function may return (held in memory)


@dataclass
class Returned:
    """What a function body returned: a scalar (value, oid), a record, or nothing."""

    value: Any = None
    oid: int = T.UNKNOWN
    record: Rec | None = None
    is_null_record: bool = False


Item = Var | Rec


class Interpreter:
    def __init__(self, engine: SqlEngine, positional: list[Item] | None = None,
                 ret_type: str | None = None) -> None:
        self.engine = engine
        self.frames: list[dict[str, Item]] = [{}]
        self.positional = positional or []  # $1..$n
        self.ret_type = ret_type  # cast text of the function's result (None: trigger or DO)
        self.errors: list[SqlError] = []  # the handled errors (SQLSTATE / SQLERRM / GET STACKED)
        # a set-returning function: its result columns (name, type) and the rows RETURN NEXT /
        # RETURN QUERY added (storage values); ``table``: RETURNS TABLE (the columns are variables)
        self.set_rows: list[list[Any]] | None = None
        self.set_columns: list[tuple[str, int]] = []
        self.set_table = False

    # -------------------------------------------------------------- variables
    def declare(self, name: str, item: Item) -> None:
        self.frames[-1][name] = item

    def lookup(self, name: str) -> Item | None:
        for frame in reversed(self.frames):
            if name in frame:
                return frame[name]
        return None

    def var(self, name: str) -> Var:
        found = self.lookup(name)
        if not isinstance(found, Var):
            raise SqlError("42601", f'"{name}" is not a known variable')
        return found

    # -------------------------------------------------------------- SQL with variables
    def bind(self, sql: str) -> tuple[str, tuple[int, ...], tuple[Any, ...]]:
        """Variables named in ``sql`` -> $n parameters, with their types and values."""
        toks = lex(sql)
        out: list[str] = []
        oids: list[int] = []
        values: list[Any] = []
        pos = 0
        skip_until = -1
        in_update = bool(toks) and toks[0].low == "update"
        depth = 0
        i = 0
        while i < len(toks):
            tok = toks[i]
            if tok.text == "(":
                depth += 1
            elif tok.text == ")":
                depth -= 1
            found = self._reference(toks, i, skip_until, in_update, depth)
            if found is None:
                if tok.low == "into" and i + 2 < len(toks) and toks[i + 2].text == "(" or \
                        tok.low == "conflict" and i + 1 < len(toks) and toks[i + 1].text == "(":
                    skip_until = self._close_paren(toks, i + (2 if tok.low == "into" else 1))
                i += 1
                continue
            used, oid, value = found
            out.append(sql[pos:tok.start])
            oids.append(oid)
            values.append(value)
            out.append(f"${len(oids)}")
            pos = toks[i + used - 1].end
            i += used
        out.append(sql[pos:])
        return "".join(out), tuple(oids), tuple(values)

    @staticmethod
    def _close_paren(toks: list[Tok], i: int) -> int:
        depth = 0
        for j in range(i, len(toks)):
            if toks[j].text == "(":
                depth += 1
            elif toks[j].text == ")":
                depth -= 1
                if depth == 0:
                    return j
        return len(toks)

    def _reference(self, toks: list[Tok], i: int, skip_until: int, in_update: bool,
                   depth: int) -> tuple[int, int, Any] | None:
        """(tokens used, type, value) when toks[i] starts a variable reference."""
        tok = toks[i]
        if tok.kind == PARAM:
            n = int(tok.text[1:])
            if 1 <= n <= len(self.positional):
                arg = self.positional[n - 1]
                if isinstance(arg, Var):
                    return 1, arg.oid, arg.value
            raise SqlError("42P02", f"there is no parameter {tok.text}")
        if tok.kind not in (WORD, QUOTED) or i <= skip_until:
            return None
        prev = toks[i - 1] if i else None
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if prev is not None and (prev.text in _SKIP_AFTER or prev.low == "as"):
            return None
        if nxt is not None and nxt.text == "(":
            return None
        name = tok.name()
        item = self.lookup(name)
        if item is None:
            return None
        if prev is not None and prev.low in _TABLE_BEFORE and self.engine.catalog().user_table(name) is not None:
            return None
        if in_update and depth == 0 and prev is not None and prev.low in _ASSIGN_CONTEXT \
                and nxt is not None and nxt.text == "=":
            return None
        if isinstance(item, Rec):
            if nxt is None or nxt.text != "." or i + 2 >= len(toks):
                raise SqlError("0A000", f'a whole record ("{name}") cannot be used in a SQL statement here')
            field = toks[i + 2].name()
            if item.fields is None:
                raise SqlError("55000", f'record "{name}" is not assigned yet',
                               detail="The tuple structure of a not-yet-assigned record is indeterminate.")
            if field not in item.fields:
                raise SqlError("42703", f'record "{name}" has no field "{field}"')
            oid, value = item.fields[field]
            return 3, oid, value
        if name == "tg_argv" and nxt is not None and nxt.text == "[" and i + 3 < len(toks) \
                and toks[i + 3].text == "]" and toks[i + 2].text.isdigit():
            args = json.loads(item.value) if item.value else []
            k = int(toks[i + 2].text)
            return 4, T.TEXT, (args[k] if 0 <= k < len(args) else None)
        return 1, item.oid, item.value

    def run_sql(self, sql: str):  # type: ignore[no-untyped-def]
        text, oids, values = self.bind(sql)
        return self.engine.run(text, oids, values)

    def eval(self, expr: str, cast: str | None = None) -> tuple[Any, int]:
        """The value of ``expr``; with ``cast`` assigned to that type (a too long string for a
        length-limited character type is 22001, as an assignment, not truncated as by CAST)."""
        text, oids, values = self.bind(expr)
        limited = _LENGTH_LIMITED.fullmatch(cast.strip().lower()) if cast else None
        if limited is not None and cast is not None:
            value, _ = self.engine.value(f"SELECT CAST(({text}) AS text)", oids, values)
            if isinstance(value, str) and len(value.rstrip(" ")) > int(limited.group(2)):
                raise SqlError("22001", f"value too long for type {self.engine.type_name_of(cast)}")
        select = f"SELECT CAST(({text}) AS {cast})" if cast else f"SELECT {text}"
        return self.engine.value(select, oids, values)

    def cond(self, expr: str) -> bool:
        value, _ = self.eval(expr, "boolean")
        return value == 1

    # -------------------------------------------------------------- statements
    def run_block(self, block: P.Block) -> None:
        self.frames.append({})
        try:
            for decl in block.decls:
                self._declare(decl)
            if block.handlers is None:
                self.run_list(block.body)
                return
            self._guarded(block)
        finally:
            self.frames.pop()

    def _declare(self, decl: P.Decl) -> None:
        if decl.type_text == "alias":
            target = decl.default_expr or ""
            if target.startswith("$") and target[1:].isdigit() and int(target[1:]) <= len(self.positional):
                self.declare(decl.name, self.positional[int(target[1:]) - 1])
                return
            found = self.lookup(target.lower())
            if found is None:
                raise SqlError("42704", f'variable "{target}" does not exist')
            self.declare(decl.name, found)
            return
        if decl.type_text == "record":
            self.declare(decl.name, Rec())
            return
        low = decl.type_text.lower()
        if low.endswith("%rowtype"):
            self.declare(decl.name, self._rowtype(decl))
            return
        if low.endswith("%type"):
            decl = replace(decl, type_text=self._type_of(decl.type_text[:-5].strip()))
        oid = self.engine.type_oid(decl.type_text)
        value = None
        if decl.default_expr is not None:
            value, _ = self.eval(decl.default_expr, decl.type_text)
        if decl.not_null and value is None:
            raise SqlError("22004", f'null value cannot be assigned to variable "{decl.name}" declared NOT NULL')
        self.declare(decl.name, Var(oid, value, decl.type_text, decl.constant, decl.not_null))

    def _rowtype(self, decl: P.Decl) -> Rec:
        """``name table%ROWTYPE``: a row of the table's columns, all NULL."""
        if decl.default_expr is not None:
            raise SqlError("0A000", "a default value for a %ROWTYPE variable is not supported")
        table = _name(decl.type_text[:-8].strip())
        catalog = self.engine.catalog()
        rel = catalog.user_table(table)
        if rel is None:
            raise SqlError("42P01", f'relation "{table}" does not exist')
        rec = Rec({c.name: (c.type_oid, None) for c in rel.columns})
        rec.types = {c.name: catalog.format_type(c.type_oid, c.typmod) for c in rel.columns}
        return rec

    def _type_of(self, ref: str) -> str:
        """The type of ``table.column`` or of a variable, for ``%TYPE``."""
        parts = [_name(p) for p in ref.split(".")]
        if len(parts) == 1:
            item = self.lookup(parts[0])
            if isinstance(item, Var):
                return item.type_text or self.engine.type_name(item.oid)
            if item is None:
                raise SqlError("42601", 'syntax error at or near "%"')
            raise SqlError("0A000", f'%TYPE of a record variable ("{ref}") is not supported')
        if len(parts) == 2:
            item = self.lookup(parts[0])
            if isinstance(item, Rec) and item.fields is not None and parts[1] in item.fields:
                return item.types.get(parts[1]) or self.engine.type_name(item.fields[parts[1]][0])
        catalog = self.engine.catalog()
        rel = catalog.user_table(parts[-2])
        column = next((c for c in rel.columns if c.name == parts[-1]), None) if rel is not None else None
        if column is None:  # PostgreSQL then parses it as a type name, and fails at the '%'
            raise SqlError("42601", 'syntax error at or near "%"')
        return catalog.format_type(column.type_oid, column.typmod)

    def foreach(self, stmt: P.ForEach) -> None:
        """FOREACH x IN ARRAY expr: the elements in storage order (unnest's), assigned to x."""
        if stmt.slice:
            raise SqlError("0A000", "FOREACH ... SLICE is not supported")
        if isinstance(self.lookup(stmt.target), Rec):
            raise SqlError("0A000", "FOREACH into a record variable is not supported")
        array, oid = self.eval(stmt.array)
        if array is None:
            raise SqlError("22004", "FOREACH expression must not be null")
        if not self.engine.catalog().format_type(oid).endswith("]"):
            raise SqlError("42804", f"FOREACH expression must yield an array, not type {self.engine.type_name(oid)}")
        ran = self.engine.run("SELECT unnest($1)", (oid,), (array,))
        for row in ran.rows:
            self.store_value(stmt.target, row[0], ran.oids[0])
            if not self._iterate(stmt.label, stmt.body):
                break

    def do_assert(self, stmt: P.Assert) -> None:
        """ASSERT (plpgsql.check_asserts is on by default): false or NULL raises P0004."""
        if self.cond(stmt.cond):
            return
        message = "assertion failed"
        if stmt.message is not None:
            value, oid = self.eval(stmt.message)
            message = value_text(oid, value) if value is not None else message
        raise SqlError("P0004", message)

    def _guarded(self, block: P.Block) -> None:
        savepoint = self.engine.savepoint()
        writes = self.engine.writes
        try:
            self.run_list(block.body)
        except (SqlError, apsw.Error) as exc:
            if isinstance(exc, apsw.InterruptError):
                raise
            err = exc if isinstance(exc, SqlError) else map_sqlite_error(exc, None)
            if savepoint is not None:
                self.engine.rollback_to(savepoint)
            elif self.engine.writes != writes:  # nothing to roll back to, and something to undo
                raise SqlError("0A000", "an EXCEPTION block that wrote before its error cannot be undone "
                                        "inside a trigger or a function called by INSERT/UPDATE/DELETE",
                               detail=f"The error was: {err.message}") from None
            assert block.handlers is not None
            for conditions, body in block.handlers:
                if any(condition_matches(c, err.sqlstate) for c in conditions):
                    self.errors.append(err)
                    self.frames.append({"sqlstate": Var(T.TEXT, err.sqlstate),
                                        "sqlerrm": Var(T.TEXT, err.message)})
                    try:
                        self.run_list(body)
                    finally:
                        self.frames.pop()
                        self.errors.pop()
                    return
            raise err from None
        except BaseException:
            if savepoint is not None:
                self.engine.rollback_to(savepoint)
            raise
        if savepoint is not None:
            self.engine.release(savepoint)

    def run_list(self, stmts: list[P.Stmt]) -> None:
        for stmt in stmts:
            self.run_stmt(stmt)

    def run_stmt(self, stmt: P.Stmt) -> None:  # noqa: C901 - one branch per statement type
        if isinstance(stmt, P.Assign):
            self.assign(stmt.target, stmt.expr)
        elif isinstance(stmt, P.Sql):
            self.sql(stmt)
        elif isinstance(stmt, P.If):
            for cond, body in stmt.branches:
                if self.cond(cond):
                    self.run_list(body)
                    return
            if stmt.otherwise is not None:
                self.run_list(stmt.otherwise)
        elif isinstance(stmt, P.Case):
            self.case(stmt)
        elif isinstance(stmt, P.Block):
            self.run_block(stmt)
        elif isinstance(stmt, P.Loop):
            self.loop(stmt)
        elif isinstance(stmt, P.ForRange):
            self.for_range(stmt)
        elif isinstance(stmt, P.ForQuery):
            self.for_query(stmt)
        elif isinstance(stmt, P.ForEach):
            self.foreach(stmt)
        elif isinstance(stmt, P.Assert):
            self.do_assert(stmt)
        elif isinstance(stmt, P.Exit):
            if stmt.cond is None or self.cond(stmt.cond):
                raise _Exit(stmt.label, stmt.is_continue)
        elif isinstance(stmt, P.Return):
            self.do_return(stmt)
        elif isinstance(stmt, P.Raise):
            self.do_raise(stmt)
        elif isinstance(stmt, P.Execute):
            self.execute(stmt)
        elif isinstance(stmt, P.GetDiagnostics):
            self.diagnostics(stmt)
        elif isinstance(stmt, P.Null):
            pass
        else:
            raise SqlError("0A000", f"PL/pgSQL statement {type(stmt).__name__} is not supported")

    def assign(self, target: str, expr: str) -> None:
        if "." in target:
            name, field = target.split(".", 1)
            rec = self.lookup(name)
            if not isinstance(rec, Rec):
                raise SqlError("42601", f'"{name}" is not a known variable')
            if rec.fields is None:
                raise SqlError("55000", f'record "{name}" is not assigned yet')
            if field not in rec.fields:
                raise SqlError("42703", f'record "{name}" has no field "{field}"')
            cast = rec.types.get(field)
            value, oid = self.eval(expr, cast)
            rec.fields[field] = (rec.fields[field][0] if cast else oid, value)
            return
        item = self.lookup(target)
        if item is None:
            raise SqlError("42601", f'"{target}" is not a known variable')
        if isinstance(item, Rec):
            self._assign_record(item, expr)
            return
        if item.constant:
            raise SqlError("22005", f'variable "{target}" is declared CONSTANT')
        value, _ = self.eval(expr, item.type_text or self.engine.type_name(item.oid))
        self._store(target, item, value)

    def _assign_record(self, rec: Rec, expr: str) -> None:
        source = self.lookup(expr.strip().lower())
        if isinstance(source, Rec):
            rec.fields = None if source.fields is None else dict(source.fields)
            return
        if expr.strip().lower() == "null":
            rec.fields = None
            return
        raise SqlError("0A000", "assigning an expression to a record variable is not supported")

    @staticmethod
    def _store(name: str, var: Var, value: Any) -> None:
        if var.not_null and value is None:
            raise SqlError("22004", f'null value cannot be assigned to variable "{name}" declared NOT NULL')
        var.value = value

    def set_found(self, found: bool) -> None:
        var = self.lookup("found")
        if isinstance(var, Var):
            var.value = 1 if found else 0

    def sql(self, stmt: P.Sql) -> None:
        ran = self.run_sql(stmt.sql)
        self.set_row_count(ran.changes)
        if stmt.perform:
            self.set_found(bool(ran.rows))
            return
        self.set_found(ran.changes > 0)
        if stmt.into:
            self.into(stmt.into, ran.rows, ran.oids, ran.names, stmt.strict)

    def set_row_count(self, n: int) -> None:
        self.frames[0]["__row_count"] = Var(T.INT8, n)

    def into(self, targets: list[str], rows: list[tuple[Any, ...]], oids: list[int], names: list[str],
             strict: bool) -> None:
        if strict and not rows:
            raise SqlError("P0002", "query returned no rows")
        if strict and len(rows) > 1:
            raise SqlError("P0003", "query returned more than one row",
                           hint="Make sure the query returns a single row, or use LIMIT 1.")
        row = rows[0] if rows else tuple(None for _ in oids)
        first = self.lookup(targets[0].split(".")[0])
        if len(targets) == 1 and isinstance(first, Rec) and "." not in targets[0]:
            if not rows and first.types and first.fields is not None:  # a %ROWTYPE row: all NULL
                first.fields = {n: (o, None) for n, (o, _) in first.fields.items()}
                return
            first.fields = None if not rows else {n: (o, v) for n, o, v in zip(names, oids, row, strict=True)}
            return
        for k, target in enumerate(targets):
            value, oid = (row[k], oids[k]) if k < len(row) else (None, T.UNKNOWN)
            self.store_value(target, value, oid)

    def store_value(self, target: str, value: Any, oid: int) -> None:
        """Assign a typed storage value (a query's column) to a variable, casting as needed."""
        if "." in target:
            name, field = target.split(".", 1)
            rec = self.lookup(name)
            if not isinstance(rec, Rec) or rec.fields is None or field not in rec.fields:
                raise SqlError("42703", f'record "{name}" has no field "{field}"')
            want = rec.fields[field][0]
            rec.fields[field] = (want, self.coerce(value, oid, want, rec.types.get(field)))
            return
        item = self.lookup(target)
        if not isinstance(item, Var):
            raise SqlError("42601", f'"{target}" is not a scalar variable')
        self._store(target, item, self.coerce(value, oid, item.oid, item.type_text))

    def coerce(self, value: Any, from_oid: int, to_oid: int, to_text: str | None) -> Any:
        if value is None or (from_oid == to_oid and not to_text):
            return value
        if from_oid == to_oid and to_text and "(" not in to_text:
            return value
        cast = to_text or self.engine.type_name(to_oid)
        return self.engine.value(f"SELECT CAST($1 AS {cast})", (from_oid,), (value,))[0]

    def case(self, stmt: P.Case) -> None:
        for cond, body in stmt.branches:
            test = f"({stmt.subject}) IN ({cond})" if stmt.subject is not None else cond
            if self.cond(test):
                self.run_list(body)
                return
        if stmt.otherwise is None:
            raise SqlError("20000", "case not found", hint="CASE statement is missing ELSE part.")
        self.run_list(stmt.otherwise)

    def _iterate(self, label: str | None, body: list[P.Stmt]) -> bool:
        """One loop iteration; False when the loop must stop (EXIT)."""
        self.engine.check_interrupt()
        try:
            self.run_list(body)
        except _Exit as ex:
            if ex.label is not None and ex.label != label:
                raise
            return ex.is_continue
        return True

    def loop(self, stmt: P.Loop) -> None:
        while stmt.while_cond is None or self.cond(stmt.while_cond):
            if not self._iterate(stmt.label, stmt.body):
                return

    def for_range(self, stmt: P.ForRange) -> None:
        low, _ = self.eval(stmt.low, "integer")
        high, _ = self.eval(stmt.high, "integer")
        step = 1
        if stmt.step is not None:
            step, _ = self.eval(stmt.step, "integer")
            if step is None or step <= 0:
                raise SqlError("22023", "BY value of FOR loop must be greater than zero")
        if low is None or high is None:
            raise SqlError("22004", "lower bound of FOR loop cannot be null" if low is None
                           else "upper bound of FOR loop cannot be null")
        counter = Var(T.INT4, low, "integer")
        self.frames.append({stmt.var: counter})
        try:
            i = low
            while (i >= high) if stmt.reverse else (i <= high):
                counter.value = i
                self.set_found(True)
                if not self._iterate(stmt.label, stmt.body):
                    break
                i = i - step if stmt.reverse else i + step
        finally:
            self.frames.pop()

    def for_query(self, stmt: P.ForQuery) -> None:
        if stmt.dynamic:
            ran = self._dynamic(stmt.query, stmt.using)
        else:
            ran = self.run_sql(stmt.query)
        target = self.lookup(stmt.targets[0])
        found = False
        for row in ran.rows:
            found = True
            if len(stmt.targets) == 1 and isinstance(target, Rec):
                target.fields = {n: (o, v) for n, o, v in zip(ran.names, ran.oids, row, strict=True)}
            else:
                for k, name in enumerate(stmt.targets):
                    self.store_value(name, row[k] if k < len(row) else None, ran.oids[k] if k < len(row) else 0)
            if not self._iterate(stmt.label, stmt.body):
                break
        self.set_found(found)

    def do_return(self, stmt: P.Return) -> None:
        if stmt.kind != "return":
            if self.set_rows is None:
                raise SqlError("42804", f"cannot use RETURN {stmt.kind.upper()} in a non-SETOF function")
            if stmt.kind == "next":
                self.return_next(stmt.expr)
            else:
                self.return_query(stmt.expr or "")
            return
        if stmt.expr is None:
            raise _Return(Returned())
        if self.set_rows is not None:
            raise SqlError("42804", "RETURN cannot have a parameter in function returning set",
                           hint="Use RETURN NEXT or RETURN QUERY.")
        source = self.lookup(stmt.expr.strip().lower())
        if isinstance(source, Rec):
            raise _Return(Returned(record=source, is_null_record=source.is_null))
        if self.ret_type is None and stmt.expr.strip().lower() == "null":
            raise _Return(Returned(is_null_record=True))
        value, oid = self.eval(stmt.expr, self.ret_type)
        raise _Return(Returned(value, oid))

    def _add_row(self, row: list[Any]) -> None:
        assert self.set_rows is not None
        if len(self.set_rows) >= MAX_SET_ROWS:
            raise SqlError("54000", f"a set-returning function returned more than {MAX_SET_ROWS} rows")
        self.set_rows.append(row)

    def return_next(self, expr: str | None) -> None:
        """RETURN NEXT: the OUT columns' current values (RETURNS TABLE) or the expression's value."""
        if self.set_table:
            if expr is not None:
                raise SqlError("42804", "RETURN NEXT cannot have a parameter in function with OUT parameters")
            self._add_row([self.var(name).value for name, _ in self.set_columns])
            return
        if expr is None:
            raise SqlError("42804", "RETURN NEXT must have a parameter")
        value, _ = self.eval(expr, self.ret_type)
        self._add_row([value])

    def return_query(self, sql: str) -> None:
        """RETURN QUERY: the query's rows, whose column types must be the result's (PostgreSQL
        converts them by position without casts: a different type is 42804)."""
        ran = self.run_sql(sql)
        if len(ran.oids) != len(self.set_columns):
            raise SqlError("42804", "structure of query does not match function result type",
                           detail=f"Number of returned columns ({len(ran.oids)}) does not match expected column "
                                  f"count ({len(self.set_columns)}).")
        for k, ((_, want), got) in enumerate(zip(self.set_columns, ran.oids, strict=True)):
            if want != got:
                raise SqlError("42804", "structure of query does not match function result type",
                               detail=f"Returned type {self.engine.type_name(got)} does not match expected type "
                                      f"{self.engine.type_name(want)} in column {k + 1}.")
        for row in ran.rows:
            self._add_row(list(row))
        self.set_found(bool(ran.rows))

    def do_raise(self, stmt: P.Raise) -> None:
        if stmt.reraise:
            if not self.errors:
                raise SqlError("0Z002", "RAISE without parameters cannot be used outside an exception handler")
            raise self.errors[-1]
        sqlstate = None
        message = None
        if stmt.fmt is not None:
            message = self.format(stmt.fmt, stmt.args)
        elif stmt.condition is not None:
            code = stmt.condition[9:] if stmt.condition.startswith("sqlstate:") else CONDITIONS.get(stmt.condition)
            if code is None:
                raise SqlError("42704", f'unrecognized exception condition "{stmt.condition}"')
            sqlstate = code
            message = stmt.condition if not stmt.condition.startswith("sqlstate:") else code
        detail = hint = None
        for name, expr in stmt.options:
            value, oid = self.eval(expr)
            text = value_text(oid, value) if value is not None else None
            if text is None:
                raise SqlError("22004", "RAISE statement option cannot be null")
            if name == "errcode":
                sqlstate = CONDITIONS.get(text, text)
                if len(sqlstate) != 5:
                    raise SqlError("42704", f'unrecognized exception condition "{text}"')
            elif name == "message":
                message = text
            elif name == "detail":
                detail = text
            elif name == "hint":
                hint = text
            else:
                raise SqlError("0A000", f"RAISE option {name.upper()} is not supported")
        if stmt.level == "exception":
            sqlstate = sqlstate or "P0001"
            raise SqlError(sqlstate, message or sqlstate, detail=detail, hint=hint)
        if stmt.level in ("notice", "info"):
            self.engine.notice(sqlstate or "00000", message or "")
        elif stmt.level == "warning":
            self.engine.notice(sqlstate or "01000", message or "")

    def format(self, fmt: str, args: list[str]) -> str:
        values = []
        for arg in args:
            source = self.lookup(arg.strip().lower())
            if isinstance(source, Rec):
                values.append(source.text())
                continue
            value, oid = self.eval(arg)
            values.append("<NULL>" if value is None else value_text(oid, value))
        out: list[str] = []
        k = 0
        i = 0
        while i < len(fmt):
            if fmt.startswith("%%", i):
                out.append("%")
                i += 2
                continue
            if fmt[i] == "%":
                if k >= len(values):
                    raise SqlError("42601", "too few parameters specified for RAISE")
                out.append(values[k])
                k += 1
            else:
                out.append(fmt[i])
            i += 1
        if k < len(values):
            raise SqlError("42601", "too many parameters specified for RAISE")
        return "".join(out)

    def _dynamic(self, expr: str, using: list[str]):  # type: ignore[no-untyped-def]
        value, oid = self.eval(expr, "text")
        if value is None:
            raise SqlError("22004", "query string argument of EXECUTE is null")
        oids: list[int] = []
        values: list[Any] = []
        for arg in using:
            v, o = self.eval(arg)
            oids.append(o if o != T.UNKNOWN else T.TEXT)
            values.append(v)
        return self.engine.run(str(value).strip().rstrip(";"), tuple(oids), tuple(values))

    def execute(self, stmt: P.Execute) -> None:
        ran = self._dynamic(stmt.expr, stmt.using)
        self.set_row_count(ran.changes)
        self.set_found(ran.changes > 0)
        if stmt.into:
            self.into(stmt.into, ran.rows, ran.oids, ran.names, stmt.strict)

    def diagnostics(self, stmt: P.GetDiagnostics) -> None:
        for var, item in stmt.items:
            if not stmt.stacked and item == "row_count":
                count = self.frames[0].get("__row_count")
                self.store_value(var, count.value if isinstance(count, Var) else 0, T.INT8)
            elif stmt.stacked and self.errors:
                err = self.errors[-1]
                texts = {"returned_sqlstate": err.sqlstate, "message_text": err.message,
                         "pg_exception_detail": err.detail or "", "pg_exception_hint": err.hint or ""}
                if item not in texts:
                    raise SqlError("0A000", f"GET STACKED DIAGNOSTICS {item.upper()} is not supported")
                self.store_value(var, texts[item], T.TEXT)
            elif stmt.stacked:
                raise SqlError("0Z002", "GET STACKED DIAGNOSTICS cannot be used outside an exception handler")
            else:
                raise SqlError("0A000", f"GET DIAGNOSTICS {item.upper()} is not supported")

    # -------------------------------------------------------------- entry
    def run_body(self, block: P.Block) -> Returned | None:
        """Run a function body or DO block; the RETURN value, None when it fell off the end."""
        self.frames[0].setdefault("found", Var(T.BOOL, 0, "boolean"))
        try:
            self.run_block(block)
        except _Return as ret:
            return ret.value  # type: ignore[no-any-return]
        except _Exit as ex:
            if ex.label is None:
                raise SqlError("42601", "CONTINUE cannot be used outside a loop" if ex.is_continue
                               else "EXIT cannot be used outside a loop, unless it has a label") from None
            raise SqlError("42601", f'there is no label "{ex.label}" attached to any block or loop '
                                    f"enclosing this statement") from None
        return None


_LENGTH_LIMITED = re.compile(r"(character varying|varchar|character|char|bpchar)\s*\(\s*(\d+)\s*\)")


def _name(text: str) -> str:
    """An identifier as PostgreSQL folds it: quoted kept, else lower case."""
    text = text.strip()
    return text[1:-1].replace('""', '"') if text.startswith('"') and text.endswith('"') else text.lower()
