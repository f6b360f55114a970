"""CREATE/DROP FUNCTION, CREATE/DROP TRIGGER and DO, translated from the statement text.

Functions and triggers are rows of ``__strata_functions`` / ``__strata_triggers`` (replicated,
transactional, part of the catalog fingerprint: compute/sql/procedural/catalog.py). A row
trigger is also a SQLite trigger per event calling ``__strata_fire`` (procedural/runtime.py);
all of a table's SQLite triggers are re-created whenever one of its triggers changes, in the
order that makes SQLite fire them in PostgreSQL's order (by name). See docs/procedural.md.
"""

from __future__ import annotations

import json
from dataclasses import replace

from compute import pgtypes as T
from compute.sql.api import Kind, SqlError, Translation
from compute.sql.catalog.catalog import BUMP_SCHEMA_VERSION, FIRST_USER_OID, Catalog
from compute.sql.catalog.objects import (
    TEMP_SCHEMA_PREFIX,
    bare_name,
    quote_ident,
    quote_literal,
    relation_key,
)
from compute.sql.functions.registry import HANDLERS
from compute.sql.functions.user import function_candidates
from compute.sql.procedural.catalog import (
    FUNCTIONS,
    FUNCTIONS_DDL,
    TRIGGER_OID,
    TRIGGERS,
    TRIGGERS_DDL,
    Routines,
    UserFunction,
    UserTrigger,
)
from compute.sql.procedural.lexer import NUMBER, PARAM, QUOTED, STRING, WORD, Tok, lex, string_value
from compute.sql.procedural.parser import Block, Return, parse_plpgsql, statements
from compute.sql.translate.parse import parse
from compute.sql.translate.query import QueryCompiler
from compute.sql.translate.scope import State

_VOLATILITY = {"immutable": "i", "stable": "s", "volatile": "v"}
_EVENTS = ("INSERT", "UPDATE", "DELETE")


class _Toks:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = lex(text)
        self.i = 0

    def peek(self, k: int = 0) -> Tok | None:
        return self.toks[self.i + k] if self.i + k < len(self.toks) else None

    def at(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind in (WORD, "op") and tok.low in words

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.i += 1
            return True
        return False

    def error(self) -> SqlError:
        tok = self.peek()
        if tok is None:
            return SqlError("42601", "syntax error at end of input", position=len(self.text) + 1)
        return SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)

    def expect(self, word: str) -> None:
        if not self.accept(word):
            raise self.error()

    def accept_required(self, word: str) -> bool:
        self.expect(word)
        return True

    def name(self) -> str:
        tok = self.peek()
        if tok is None or tok.kind not in (WORD, QUOTED):
            raise self.error()
        self.i += 1
        value = tok.name()
        if self.accept("."):  # schema-qualified: functions exist in public only (tables: relation())
            if value not in ("public", "pg_catalog"):
                raise SqlError("0A000", f'functions outside schema "public" are not supported (schema "{value}")')
            return self.name()
        return value

    def function(self, catalog: Catalog, new: bool = False) -> str:
        """A function name, ``[schema.]name``: its key (``relation_key``). A new function goes to the
        named schema (3F000 when missing) or the creation schema of the search path; an existing
        one is looked up in the named schema or the first schema of the path that has one."""
        tok = self.peek()
        if tok is None or tok.kind not in (WORD, QUOTED):
            raise self.error()
        self.i += 1
        schema, name = None, tok.name()
        if self.accept("."):
            tok = self.peek()
            if tok is None or tok.kind not in (WORD, QUOTED):
                raise self.error()
            self.i += 1
            schema, name = (None if name == "pg_catalog" else name), tok.name()
        if new:
            return catalog.qualify_new(schema, name)
        found = function_candidates(catalog, schema, name)
        if found:
            return found[0].name
        return relation_key(schema, name) if schema is not None else name

    def relation(self, catalog: Catalog) -> tuple[str, str]:
        """A table name, ``[schema.]name``: its key (``relation_key``), resolved like a table
        reference (a qualified name's schema must exist: 3F000; else the search path), and the
        name as written (for "does not exist" messages)."""
        tok = self.peek()
        if tok is None or tok.kind not in (WORD, QUOTED):
            raise self.error()
        self.i += 1
        first = tok.name()
        if not self.accept("."):
            return catalog.qualify(None, first), first
        tok = self.peek()
        if tok is None or tok.kind not in (WORD, QUOTED):
            raise self.error()
        self.i += 1
        return catalog.qualify(first, tok.name()), f"{first}.{tok.name()}"

    def until(self, *stops: str) -> str:
        start = self.peek()
        depth = 0
        while True:
            tok = self.peek()
            if tok is None or depth == 0 and (tok.low in stops or tok.text in stops):
                break
            if tok.text == "(":
                depth += 1
            elif tok.text == ")":
                depth -= 1
            self.i += 1
        if start is None or start is tok:
            return ""
        return self.text[start.start:self.toks[self.i - 1].end]


# ---------------------------------------------------------------------------------- types


def type_oid(type_text: str, catalog: Catalog, notices: list[str] | None = None) -> int:
    """A type name's OID, resolved like a cast (aliases, typmods, arrays, enums); 42704 if unknown.
    ``table.column%TYPE`` is the column's type, with PostgreSQL's notice."""
    low = type_text.strip().lower()
    if low.endswith("%type"):
        return _column_type(type_text.strip()[:-5].strip(), catalog, notices)
    if low == "trigger":
        return TRIGGER_OID
    if low == "void":
        return T.VOID
    try:
        _, cols = QueryCompiler(State(catalog)).statement_query(parse(f"SELECT CAST(NULL AS {type_text})"))
    except SqlError as err:
        if catalog.user_table(type_text.strip().strip('"')) is not None:
            raise SqlError("0A000", f"the row type of table {type_text.strip()} is not supported as a function "
                                    "argument or result (use RETURNS TABLE)") from None
        if err.sqlstate == "42601":
            raise SqlError("42704", f'type "{type_text.strip()}" does not exist') from None
        raise
    return cols[0].ty.oid


def _column_type(ref: str, catalog: Catalog, notices: list[str] | None) -> int:
    parts = [p.strip().strip('"') if p.strip().startswith('"') else p.strip().lower() for p in ref.split(".")]
    rel = catalog.user_table(parts[-2]) if len(parts) >= 2 else None
    column = next((c for c in rel.columns if c.name == parts[-1]), None) if rel is not None else None
    if column is None:
        raise SqlError("42704", f'type "{ref}%TYPE" does not exist' if len(parts) < 2 or rel is not None
                       else f'relation "{parts[-2]}" does not exist')
    if notices is not None:
        notices.append(f"type reference {ref}%TYPE converted to {catalog.format_type(column.type_oid)}")
    return column.type_oid


def signature(name: str, types: tuple[int, ...], catalog: Catalog) -> str:
    return f"{name}({', '.join(catalog.format_type(t) for t in types)})"


# ---------------------------------------------------------------------------------- CREATE FUNCTION


def create_function(text: str, catalog: Catalog) -> tuple[Translation, Catalog]:
    ts = _Toks(text)
    ts.expect("create")
    replace_ok = ts.accept("or") and ts.accept_required("replace")
    ts.expect("function")
    name = ts.function(catalog, new=True)
    if name in HANDLERS:
        raise SqlError("0A000", f"a user function named like the built-in function {name}() is not supported")
    notices: list[str] = []
    outs: list[tuple[str, int]] = []
    modes: list[str] = []
    names, types, defaults = _arguments(ts, catalog, notices=notices, outs=outs, modes=modes)
    ret_type, options, body = _function_options(ts, catalog, has_out=bool(outs))
    out_columns = tuple((str(n), int(t)) for n, t in json.loads(options.get("table", "[]")))
    if len(out_columns) == 1:  # RETURNS TABLE (a int) returns SETOF int, as in PostgreSQL
        ret_type = out_columns[0][1]
    if outs:
        ret_type, out_columns = _out_result(outs, ret_type, options, catalog)
    language = options.get("language", "")
    if language not in ("sql", "plpgsql"):
        if not language:
            raise SqlError("42P13", "no language specified")
        if language in ("c", "internal"):
            raise SqlError("0A000", f'functions in language "{language}" are not supported (only sql and plpgsql)')
        raise SqlError("42704", f'language "{language}" does not exist',
                       hint="Use CREATE EXTENSION to load the language into the database.")
    if ret_type == TRIGGER_OID and (language != "plpgsql" or types):
        raise SqlError("42P13", "trigger functions cannot have declared arguments"
                       if types else "SQL functions cannot return type trigger")
    if language == "plpgsql":  # syntax errors at CREATE, as PostgreSQL's validator reports them
        _check_returns(parse_plpgsql(body), bool(options.get("set")), bool(out_columns))
    existing = next((f for f in catalog.routines.named(name) if f.arg_types == types), None)
    if existing is not None and not replace_ok:
        raise SqlError("42723", f'function "{name}" already exists with same argument types')
    if ret_type == T.VOID and options.get("set"):
        raise SqlError("0A000", "functions returning SETOF void are not supported")
    if existing is not None and (existing.ret_type, existing.ret_set, existing.out_columns) != \
            (ret_type, bool(options.get("set")), out_columns):
        raise SqlError("42P13", "cannot change return type of existing function",
                       hint=f"Use DROP FUNCTION {signature(name, types, catalog)} first.")
    oid = existing.oid if existing is not None else _next_oid(catalog)
    fn = UserFunction(oid, name, names, types, defaults, ret_type, bool(options.get("set")), out_columns, language, body,
                      options.get("volatility", "v"), options.get("strict") == "1", text.strip(),
                      "".join(modes) if outs else "")
    steps = (FUNCTIONS_DDL, _insert_function_sql(fn), *BUMP_SCHEMA_VERSION)
    new_catalog = replace(catalog, routines=catalog.routines.with_function(fn))
    return Translation(Kind.COMMAND, "CREATE FUNCTION", steps, is_write=True, is_ddl=True,
                       notices=tuple(notices)), new_catalog


def _out_result(outs: list[tuple[str, int]], ret_type: int, options: dict[str, str], catalog: Catalog
                ) -> tuple[int, tuple[tuple[str, int], ...]]:
    """OUT parameters make the result their type (one) or record (several), as in PostgreSQL."""
    if "table" in options:
        raise SqlError("42P13", "OUT and INOUT arguments aren't allowed in TABLE functions")
    derived = outs[0][1] if len(outs) == 1 else T.RECORD
    if ret_type not in (-1, derived):
        raise SqlError("42P13", f"function result type must be {catalog.format_type(derived)} because of OUT "
                                "parameters")
    return derived, tuple(outs)


def _check_returns(block: Block, returns_set: bool, table: bool) -> None:
    """PostgreSQL's compile-time checks of RETURN / RETURN NEXT / RETURN QUERY against the result."""
    for stmt in statements(block):
        if not isinstance(stmt, Return):
            continue
        if stmt.kind != "return" and not returns_set:
            raise SqlError("42804", f"cannot use RETURN {stmt.kind.upper()} in a non-SETOF function")
        if stmt.kind == "return" and returns_set and stmt.expr is not None:
            raise SqlError("42804", "RETURN cannot have a parameter in function returning set",
                           hint="Use RETURN NEXT or RETURN QUERY.")
        if stmt.kind == "return" and table and stmt.expr is not None:
            raise SqlError("42804", "RETURN cannot have a parameter in function with OUT parameters")
        if stmt.kind == "next" and table and stmt.expr is not None:
            raise SqlError("42804", "RETURN NEXT cannot have a parameter in function with OUT parameters")
        if stmt.kind == "next" and not table and stmt.expr is None:
            raise SqlError("42601", "RETURN NEXT must have a parameter")


def _next_oid(catalog: Catalog) -> int:
    used = [f.oid for f in catalog.routines.functions] + [t.oid for t in catalog.routines.triggers]
    return max([FIRST_USER_OID * 64, *used]) + 1  # apart from relation OIDs (they start at 16384)


def _arguments(ts: _Toks, catalog: Catalog, table: bool = False, notices: list[str] | None = None,
               outs: list[tuple[str, int]] | None = None, modes: list[str] | None = None,
               ) -> tuple[tuple[str, ...], tuple[int, ...], tuple[str | None, ...]]:
    """The IN (and INOUT) parameters, or with ``table`` the column list of RETURNS TABLE (...);
    OUT and INOUT parameters are added to ``outs`` and every parameter's mode to ``modes``."""
    ts.expect("(")
    names: list[str] = []
    types: list[int] = []
    defaults: list[str | None] = []
    while not ts.accept(")"):
        if table:
            names.append(ts.name())
            types.append(type_oid(ts.until(",", ")").strip(), catalog))
            defaults.append(None)
            ts.accept(",")
            continue
        if ts.at("variadic"):
            raise SqlError("0A000", "VARIADIC parameters are not supported")
        mode = "o" if ts.accept("out") else ("b" if ts.accept("inout") else "i")
        if mode == "i":
            ts.accept("in")
        spec = ts.until(",", ")", "default", "=").strip()
        parts = spec.split(None, 1)
        arg_name = ""
        if len(parts) == 2 and _is_name(parts[0]) and not _is_type_start(spec):
            arg_name, spec = parts[0].lower().strip('"'), parts[1]
        oid = type_oid(spec, catalog, notices)
        if modes is not None:
            modes.append(mode)
        if mode != "i" and outs is not None:
            outs.append((arg_name or f"column{len(outs) + 1}", oid))
        if mode == "o":
            if ts.at("default", "="):
                raise SqlError("42P13", "only input parameters can have default values")
            ts.accept(",")
            continue
        names.append(arg_name)
        types.append(oid)
        default = None
        if ts.accept("default", "="):
            default = ts.until(",", ")").strip()
        elif any(d is not None for d in defaults):
            raise SqlError("42P13", "input parameters after one with a default value must also have defaults")
        defaults.append(default)
        ts.accept(",")
    return tuple(names), tuple(types), tuple(defaults)


_MULTIWORD_TYPES = ("double precision", "character varying", "timestamp with", "timestamp without",
                    "time with", "time without", "bit varying")


def _is_type_start(spec: str) -> bool:
    low = " ".join(spec.lower().split())
    return any(low.startswith(t) for t in _MULTIWORD_TYPES)


def _is_name(word: str) -> bool:
    return word[:1].isalpha() or word[:1] in ('_', '"')


def _function_options(ts: _Toks, catalog: Catalog, has_out: bool = False) -> tuple[int, dict[str, str], str]:
    ret_type = -1
    options: dict[str, str] = {}
    body: str | None = None
    while ts.peek() is not None and not ts.at(";"):
        if ts.accept("returns"):
            if ts.accept("table"):
                options["set"] = "1"
                out = _arguments(ts, catalog, table=True)
                options["table"] = json.dumps([[n, t] for n, t in zip(out[0], out[1], strict=True)])
                ret_type = T.RECORD
                continue
            if ts.accept("setof"):
                options["set"] = "1"
            if ts.accept("null"):
                ts.expect("on")
                ts.expect("null")
                ts.expect("input")
                options["strict"] = "1"
                continue
            ret_type = type_oid(ts.until("language", "as", "immutable", "stable", "volatile", "strict",
                                         "called", "security", "parallel", "cost", "leakproof", "return",
                                         "begin", "not", "returns", "set", "rows", "window", "external"), catalog)
            if ret_type == T.RECORD and not has_out:
                raise SqlError("0A000", "functions returning record are not supported (use RETURNS TABLE)")
        elif ts.accept("language"):
            tok = ts.peek()
            ts.i += 1
            options["language"] = string_value(tok) if tok is not None and tok.kind == STRING else \
                (tok.name() if tok is not None else "")
        elif ts.at(*_VOLATILITY):
            options["volatility"] = _VOLATILITY[ts.peek().low]  # type: ignore[union-attr]
            ts.i += 1
        elif ts.accept("strict"):
            options["strict"] = "1"
        elif ts.accept("called"):
            ts.expect("on")
            ts.expect("null")
            ts.expect("input")
        elif ts.accept("security", "external"):
            ts.accept("security")
            ts.accept("definer", "invoker")
        elif ts.accept("not", "leakproof", "parallel", "cost", "rows"):
            ts.accept("leakproof", "safe", "unsafe", "restricted")
            if ts.peek() is not None and ts.peek().kind == NUMBER:  # type: ignore[union-attr]
                ts.i += 1
        elif ts.accept("as"):
            tok = ts.peek()
            if tok is None or tok.kind != STRING:
                raise ts.error()
            ts.i += 1
            body = string_value(tok)
            if ts.accept(","):
                raise SqlError("0A000", "AS 'obj_file', 'link_symbol' (C functions) is not supported")
        elif ts.at("return", "begin"):
            options.setdefault("language", "sql")
            body = _standard_body(ts)
        elif ts.at("set", "window", "transform"):
            raise SqlError("0A000", f"CREATE FUNCTION ... {ts.peek().text.upper()} is not supported")  # type: ignore[union-attr]
        else:
            raise ts.error()
    if ret_type == -1 and not has_out:
        raise SqlError("42P13", "function result type must be specified")
    if body is None:
        raise SqlError("42P13", "no function body specified")
    return ret_type, options, body


def _standard_body(ts: _Toks) -> str:
    """``RETURN expr`` or ``BEGIN ATOMIC stmt; ... END`` (SQL-standard bodies) as SQL text."""
    if ts.accept("return"):
        return "SELECT " + ts.until(";")
    ts.expect("begin")
    ts.expect("atomic")
    start = ts.peek()
    depth = 0
    while ts.peek() is not None and not (depth == 0 and ts.at("end")):
        tok = ts.peek()
        if tok is not None and tok.low == "case":
            depth += 1
        elif tok is not None and tok.low == "end":
            depth -= 1
        ts.i += 1
    end_tok = ts.peek()
    if end_tok is None:  # the statement splitter cut the body at its first ';'
        raise SqlError("0A000", "BEGIN ATOMIC function bodies with several statements are not supported: "
                                "use AS $$ ... $$")
    ts.expect("end")
    if start is None or end_tok is None or start is end_tok:
        return ""
    body = ts.text[start.start:end_tok.start].strip()
    return body.replace("\nreturn ", "\nselect ") if not body.lower().startswith("return") \
        else "SELECT " + body[6:].strip().rstrip(";")


def _out_json(fn: UserFunction) -> str:
    """RETURNS TABLE columns as [[name, type], ...]; with OUT parameters also their modes."""
    columns = [list(c) for c in fn.out_columns]
    return json.dumps({"modes": fn.arg_modes, "columns": columns} if fn.arg_modes else columns)


def _insert_function_sql(fn: UserFunction) -> str:
    values = [str(fn.oid), quote_literal(fn.name), quote_literal(json.dumps(list(fn.arg_names))),
              quote_literal(json.dumps(list(fn.arg_types))), quote_literal(json.dumps(list(fn.arg_defaults))),
              str(fn.ret_type), "1" if fn.ret_set else "0", quote_literal(_out_json(fn)),
              quote_literal(fn.language), quote_literal(fn.body),
              quote_literal(fn.volatility), "1" if fn.strict else "0", quote_literal(fn.definition)]
    return f"INSERT OR REPLACE INTO {FUNCTIONS} VALUES ({', '.join(values)})"


# ---------------------------------------------------------------------------------- DROP FUNCTION


def drop_function(text: str, catalog: Catalog) -> tuple[Translation, Catalog]:
    ts = _Toks(text)
    ts.expect("drop")
    ts.expect("function")
    if_exists = ts.accept("if") and ts.accept_required("exists")
    routines = catalog.routines
    steps: list[str] = []
    notices: list[str] = []
    targets: list[tuple[str, tuple[int, ...] | None]] = []
    while True:
        name = ts.function(catalog)
        types = None
        if ts.accept("("):
            found: list[int] = []
            while not ts.accept(")"):
                if ts.accept("out"):  # not part of the identity (PostgreSQL ignores OUT parameters here)
                    ts.until(",", ")")
                    ts.accept(",")
                    continue
                ts.accept("in", "inout")
                spec = ts.until(",", ")").strip()
                parts = spec.split(None, 1)
                if len(parts) == 2 and _is_name(parts[0]) and not _is_type_start(spec):
                    try:
                        found.append(type_oid(spec, catalog))
                    except SqlError:
                        found.append(type_oid(parts[1], catalog))
                else:
                    found.append(type_oid(spec, catalog))
                ts.accept(",")
            types = tuple(found)
        targets.append((name, types))
        if not ts.accept(","):
            break
    cascade = ts.accept("cascade")
    ts.accept("restrict")
    if ts.peek() is not None and not ts.at(";"):
        raise ts.error()
    for name, types in targets:
        fns = [f for f in routines.named(name) if types is None or f.arg_types == types]
        if not fns:
            shown = signature(name, types, catalog) if types is not None else name
            message = f"function {shown} does not exist"
            if if_exists:
                notices.append(message + ", skipping")
                continue
            raise SqlError("42883", message)
        if len(fns) > 1:
            raise SqlError("42725", f'function name "{name}" is not unique',
                           hint="Specify the argument list to select the function unambiguously.")
        fn = fns[0]
        users = [t for t in routines.triggers if t.function == fn.name and fn.ret_type == TRIGGER_OID
                 and catalog.user_table(t.table) is not None]
        if users and not cascade:
            raise SqlError("2BP01", f"cannot drop function {signature(name, fn.arg_types, catalog)} because other "
                                    "objects depend on it",
                           detail="\n".join(f"trigger {t.name} on table {t.table} depends on function "
                                            f"{signature(name, fn.arg_types, catalog)}" for t in users),
                           hint="Use DROP ... CASCADE to drop the dependent objects too.")
        for trg in users:
            notices.append(f"drop cascades to trigger {trg.name} on table {trg.table}")
            old = routines
            routines = routines.without_trigger(trg)
            steps.extend(_table_trigger_steps(trg.table, old, routines, catalog))
            steps.append(f"DELETE FROM {TRIGGERS} WHERE oid = {trg.oid}")
        routines = routines.without_function(fn)
        steps.append(f"DELETE FROM {FUNCTIONS} WHERE oid = {fn.oid}")
    if len(notices) > 1 and any(n.startswith("drop cascades") for n in notices):
        cascades = [n for n in notices if n.startswith("drop cascades")]
        notices = [n for n in notices if not n.startswith("drop cascades")]
        notices.append(cascades[0] if len(cascades) == 1 else
                       f"drop cascades to {len(cascades)} other objects")
    if steps:
        steps.extend(BUMP_SCHEMA_VERSION)
    new_catalog = replace(catalog, routines=routines) if steps else catalog
    return Translation(Kind.COMMAND, "DROP FUNCTION", tuple(steps), is_write=bool(steps), is_ddl=bool(steps),
                       notices=tuple(notices)), new_catalog


# ---------------------------------------------------------------------------------- DO


def do_block(text: str) -> Translation:
    ts = _Toks(text)
    ts.expect("do")
    body: str | None = None
    language = "plpgsql"
    while ts.peek() is not None and not ts.at(";"):
        if ts.accept("language"):
            tok = ts.peek()
            ts.i += 1
            language = (string_value(tok) if tok.kind == STRING else tok.name()) if tok is not None else ""
            continue
        tok = ts.peek()
        if tok is None or tok.kind != STRING:
            raise ts.error()
        ts.i += 1
        body = string_value(tok)
    if body is None:
        raise SqlError("42601", "no inline code specified")
    if language != "plpgsql":
        raise SqlError("0A000", f'DO blocks in language "{language}" are not supported (only plpgsql)')
    parse_plpgsql(body)
    return Translation(Kind.COMMAND, "DO", (f"SELECT __strata_do({quote_literal(body)})",),
                       is_write=True, is_ddl=True, write_command="DO")


# ---------------------------------------------------------------------------------- triggers


def create_trigger(text: str, catalog: Catalog) -> tuple[Translation, Catalog]:
    ts = _Toks(text)
    ts.expect("create")
    replace_ok = ts.accept("or") and ts.accept_required("replace")
    if ts.at("constraint"):
        raise SqlError("0A000", "CREATE CONSTRAINT TRIGGER is not supported")
    ts.expect("trigger")
    name = ts.name()
    if ts.at("instead"):
        raise SqlError("0A000", "INSTEAD OF triggers are not supported")
    if not ts.at("before", "after"):
        raise ts.error()
    timing = ts.peek().low.upper()  # type: ignore[union-attr]
    ts.i += 1
    events, columns = _trigger_events(ts)
    ts.expect("on")
    table, written = ts.relation(catalog)
    shown = bare_name(table)
    level = "STATEMENT"
    when_sql = None
    while not ts.at("execute"):
        if ts.peek() is None:
            raise ts.error()
        if ts.accept("for"):
            ts.accept("each")
            level = "ROW" if ts.accept("row") else ("STATEMENT" if ts.accept("statement") else "")
            if not level:
                raise ts.error()
        elif ts.accept("when"):
            ts.expect("(")
            when_sql = ts.until(")")
            ts.expect(")")
        elif ts.at("referencing", "from", "deferrable", "not", "initially"):
            raise SqlError("0A000", f"CREATE TRIGGER ... {ts.peek().text.upper()} is not supported")  # type: ignore[union-attr]
        else:
            raise ts.error()
    ts.expect("execute")
    if not ts.accept("function", "procedure"):
        raise ts.error()
    fn_name = ts.function(catalog)
    args = _trigger_args(ts)
    rel = catalog.user_table(table)
    if rel is None:
        raise SqlError("42P01", f'relation "{written}" does not exist')
    if rel.schema.startswith(TEMP_SCHEMA_PREFIX):
        raise SqlError("0A000", f'triggers on temporary tables are not supported ("{shown}")')
    if rel.kind != "r":
        raise SqlError("42809", f'"{shown}" is a view', detail="Views cannot have row-level BEFORE or AFTER triggers.")
    if level == "STATEMENT" and when_sql is not None and _mentions_row(when_sql):
        raise SqlError("42P17", "statement trigger's WHEN condition cannot reference column values")
    if "TRUNCATE" in events and level == "ROW":
        raise SqlError("0A000", "TRUNCATE FOR EACH ROW triggers are not supported")
    fns = [f for f in catalog.routines.named(fn_name) if not f.arg_types]
    if not fns:
        raise SqlError("42883", f"function {fn_name}() does not exist")
    if fns[0].ret_type != TRIGGER_OID:
        raise SqlError("42P17", f"function {fn_name} must return type trigger")
    existing = catalog.routines.trigger(name, table)
    if existing is not None and not replace_ok:
        raise SqlError("42710", f'trigger "{name}" for relation "{shown}" already exists')
    oid = existing.oid if existing is not None else _next_oid(catalog)
    trg = UserTrigger(oid, name, table, fn_name, timing, events, level, when_sql, args, columns, text.strip())
    routines = catalog.routines.with_trigger(trg)
    steps = [TRIGGERS_DDL, *_table_trigger_steps(table, catalog.routines, routines, catalog),
             _insert_trigger_sql(trg), *BUMP_SCHEMA_VERSION]
    new_catalog = replace(catalog, routines=routines)
    return Translation(Kind.COMMAND, "CREATE TRIGGER", tuple(steps), is_write=True, is_ddl=True), new_catalog


def _mentions_row(sql: str) -> bool:
    return any(t.low in ("new", "old") for t in lex(sql) if t.kind == WORD)


def _trigger_events(ts: _Toks) -> tuple[tuple[str, ...], tuple[str, ...]]:
    events: list[str] = []
    columns: list[str] = []
    while True:
        if not ts.at("insert", "update", "delete", "truncate"):
            raise ts.error()
        event = ts.peek().low.upper()  # type: ignore[union-attr]
        ts.i += 1
        events.append(event)
        if event == "UPDATE" and ts.accept("of"):
            columns.append(ts.name())
            while ts.accept(","):
                columns.append(ts.name())
        if not ts.accept("or"):
            return tuple(events), tuple(columns)


def _trigger_args(ts: _Toks) -> tuple[str, ...]:
    ts.expect("(")
    args: list[str] = []
    while not ts.accept(")"):
        tok = ts.peek()
        if tok is None:
            raise ts.error()
        ts.i += 1
        if tok.kind == STRING:
            args.append(string_value(tok))
        elif tok.kind in (NUMBER, WORD, QUOTED, PARAM):
            args.append(tok.text if tok.kind != QUOTED else tok.name())
        ts.accept(",")
    return tuple(args)


def _insert_trigger_sql(trg: UserTrigger) -> str:
    values = [str(trg.oid), quote_literal(trg.name), quote_literal(trg.table), quote_literal(trg.function),
              quote_literal(trg.timing), quote_literal(json.dumps(list(trg.events))), quote_literal(trg.level),
              "NULL" if trg.when_sql is None else quote_literal(trg.when_sql),
              quote_literal(json.dumps(list(trg.args))), quote_literal(json.dumps(list(trg.columns))),
              quote_literal(trg.definition)]
    return f"INSERT OR REPLACE INTO {TRIGGERS} VALUES ({', '.join(values)})"


def drop_trigger(text: str, catalog: Catalog) -> tuple[Translation, Catalog]:
    ts = _Toks(text)
    ts.expect("drop")
    ts.expect("trigger")
    if_exists = ts.accept("if") and ts.accept_required("exists")
    name = ts.name()
    ts.expect("on")
    table, written = ts.relation(catalog)
    shown = bare_name(table)
    ts.accept("cascade", "restrict")
    if ts.peek() is not None and not ts.at(";"):
        raise ts.error()
    if catalog.user_table(table) is None:
        if if_exists:
            return Translation(Kind.COMMAND, "DROP TRIGGER",
                               notices=(f'relation "{written}" does not exist, skipping',)), catalog
        raise SqlError("42P01", f'relation "{written}" does not exist')
    trg = catalog.routines.trigger(name, table)
    if trg is None:
        message = f'trigger "{name}" for table "{shown}" does not exist'
        if if_exists:
            return Translation(Kind.COMMAND, "DROP TRIGGER", notices=(message + ", skipping",)), catalog
        raise SqlError("42704", message)
    routines = catalog.routines.without_trigger(trg)
    steps = [*_table_trigger_steps(table, catalog.routines, routines, catalog), f"DELETE FROM {TRIGGERS} WHERE oid = {trg.oid}",
             *BUMP_SCHEMA_VERSION]
    return Translation(Kind.COMMAND, "DROP TRIGGER", tuple(steps), is_write=True, is_ddl=True), \
        replace(catalog, routines=routines)


def _sqlite_name(trg: UserTrigger, event: str) -> str:
    return quote_ident(f"__strata_ut_{trg.oid}_{event.lower()}")


def _apply_name(table: str, event: str) -> str:
    return quote_ident(f"__strata_ut_{table}__apply_{event.lower()}")


def _table_trigger_steps(table: str, old: Routines, new: Routines, catalog: Catalog) -> list[str]:
    """Drop the table's SQLite triggers made for ``old`` and create those for ``new``."""
    steps: list[str] = []
    for trg in old.triggers_on(table):
        for event in trg.events:
            steps.append(f"DROP TRIGGER IF EXISTS {_sqlite_name(trg, event)}")
    for event in ("INSERT", "UPDATE"):
        steps.append(f"DROP TRIGGER IF EXISTS {_apply_name(table, event)}")
    rel = catalog.user_table(table)
    if rel is None:
        return steps
    cols = [quote_ident(c.name) for c in rel.columns]
    triggers = new.triggers_on(table)
    for trg in reversed(triggers):  # SQLite fires the newest first: create in reverse name order
        for event in trg.events:
            steps.append(_sqlite_trigger(table, trg, event, cols) if trg.level == "ROW"
                         else _marker_trigger(table, trg, event))
    for event in ("INSERT", "UPDATE"):
        if any(t.timing == "BEFORE" and t.level == "ROW" and event in t.events for t in triggers):
            new_cols = ", ".join(f"NEW.{c}" for c in cols)
            steps.append(f"CREATE TRIGGER {_apply_name(table, event)} AFTER {event} ON {quote_ident(table)} "
                         f"FOR EACH ROW BEGIN SELECT __strata_apply({quote_literal(table)}, "
                         f"{quote_literal(event)}, NEW.rowid, {new_cols}); END")
    return steps


def moved_trigger_steps(catalog: Catalog, moves: dict[str, str]) -> tuple[list[str], list[str], Catalog]:
    """A schema move of tables with triggers (translate/schema_move.py): the SQLite triggers name
    the table's key in their body, so they are dropped before the tables are renamed and made
    again for the new keys after. Returns (steps before the renames, steps after, the catalog whose
    triggers name the new keys; the caller moves its tables)."""
    old = catalog.routines
    moved = tuple(replace(t, table=moves.get(t.table, t.table)) for t in old.triggers)
    new = replace(old, triggers=moved)
    if moved == old.triggers:
        return [], [], catalog
    keys = sorted({t.table for t in old.triggers if t.table in moves})
    untouched = replace(old, triggers=tuple(t for t in old.triggers if t.table not in moves))
    before = [step for key in keys for step in _table_trigger_steps(key, old, untouched, catalog)]
    after = [f"UPDATE {TRIGGERS} SET table_name = {quote_literal(moves[key])} WHERE table_name = {quote_literal(key)}"
             for key in keys]
    return before, after, replace(catalog, routines=new)


def table_trigger_steps(table: str, catalog: Catalog) -> list[str]:
    """Make the SQLite triggers of ``table``'s user triggers (after moved_trigger_steps)."""
    return _table_trigger_steps(table, replace(catalog.routines, triggers=()), catalog.routines, catalog)


def _sqlite_trigger(table: str, trg: UserTrigger, event: str, cols: list[str]) -> str:
    new = [f"NEW.{c}" for c in cols] if event != "DELETE" else []
    old = [f"OLD.{c}" for c in cols] if event != "INSERT" else []
    rowid = "NULL" if trg.timing == "BEFORE" else ("OLD.rowid" if event == "DELETE" else "NEW.rowid")
    call = (f"__strata_fire({quote_literal(table)}, {trg.oid}, {quote_literal(event)}, {rowid}, "
            f"{len(new)}{''.join(', ' + v for v in new + old)})")
    of = ""
    if event == "UPDATE" and trg.columns:
        of = " OF " + ", ".join(quote_ident(c) for c in trg.columns)
    body = f"SELECT RAISE(IGNORE) WHERE {call} = 0;" if trg.timing == "BEFORE" else f"SELECT {call};"
    return (f"CREATE TRIGGER {_sqlite_name(trg, event)} {trg.timing} {event}{of} ON "
            f"{quote_ident(table)} FOR EACH ROW BEGIN {body} END")


def _marker_trigger(table: str, trg: UserTrigger, event: str) -> str:
    """A statement trigger fires from the statement's steps (dml_steps); its SQLite trigger never
    runs (WHEN 0) and only keeps the trigger row live while the table exists (LIVE_TRIGGERS)."""
    on = "DELETE" if event == "TRUNCATE" else event
    return (f"CREATE TRIGGER {_sqlite_name(trg, event)} AFTER {on} ON {quote_ident(table)} "
            "FOR EACH ROW WHEN 0 BEGIN SELECT 1; END")


def routine_statement(first: str, words: tuple[str, ...], text: str,
                      catalog: Catalog) -> tuple[Translation, Catalog] | None:
    """CREATE [OR REPLACE] FUNCTION|TRIGGER, DROP FUNCTION|TRIGGER, DO; None for anything else.
    ``words``: the statement's first four tokens, lower-cased."""
    if first == "do":
        return do_block(text), catalog
    rest = words[1:]
    if rest[:2] == ("or", "replace"):
        rest = rest[2:]
    if first == "create" and rest[:1] == ("function",):
        return create_function(text, catalog)
    if first == "create" and rest[:1] in (("trigger",), ("constraint",)):
        return create_trigger(text, catalog)
    if first == "create" and rest[:1] == ("procedure",):
        raise SqlError("0A000", "CREATE PROCEDURE is not supported (functions are)")
    if first == "drop" and rest[:1] == ("function",):
        return drop_function(text, catalog)
    if first == "drop" and rest[:1] == ("trigger",):
        return drop_trigger(text, catalog)
    if first == "alter" and rest[:1] in (("function",), ("trigger",)):
        return alter_routine(text, catalog), catalog
    return None


def alter_routine(text: str, catalog: Catalog) -> Translation:
    """ALTER FUNCTION ... OWNER TO (pg_dump writes it; one owner here: a no-op once the function is
    found); any other ALTER FUNCTION / ALTER TRIGGER is refused."""
    ts = _Toks(text)
    ts.expect("alter")
    noun = ts.peek().low if ts.peek() is not None else ""  # type: ignore[union-attr]
    words = [t.low for t in ts.toks]
    if noun == "function" and "owner" in words:
        ts.i += 1
        name = ts.function(catalog)
        if not catalog.routines.named(name):
            raise SqlError("42883", f"function {name} does not exist")
        return Translation(Kind.NOOP, "ALTER FUNCTION")
    raise SqlError("0A000", f"ALTER {noun.upper()} is not supported (only ALTER FUNCTION ... OWNER TO)")


def check_dml(node: object, tag: str, catalog: Catalog) -> None:
    """RETURNING would show the row before a BEFORE ROW trigger changed it (SQLite evaluates it
    before our AFTER trigger writes the change): refused on such tables."""
    if not catalog.routines.triggers or not getattr(node, "args", {}).get("returning"):
        return
    name = _dml_target(node)
    if any(t.timing == "BEFORE" and t.level == "ROW" and tag in t.events for t in catalog.routines.triggers_on(name)):
        raise SqlError("0A000", f"{tag} ... RETURNING on a table with BEFORE {tag} triggers is not supported")


STATEMENT_BEGIN = "SELECT __strata_statement_begin()"


def _dml_target(node: object) -> str:
    target = getattr(node, "this", None)
    while target is not None and not hasattr(target, "name") or type(target).__name__ == "Schema":
        target = getattr(target, "this", None)
    return str(getattr(target, "name", ""))


def _set_targets(assignments: object) -> set[str]:
    return {str(getattr(getattr(e, "this", None), "name", "")) for e in (assignments or [])}  # type: ignore[attr-defined]


def statement_events(node: object, tag: str) -> list[tuple[str, set[str] | None]]:
    """The events a DML statement fires statement triggers for, in PostgreSQL's BEFORE order,
    with the SET targets of an UPDATE (``UPDATE OF`` triggers fire when one is a target)."""
    args = getattr(node, "args", {})
    if tag == "UPDATE":
        return [("UPDATE", _set_targets(getattr(node, "expressions", [])))]
    conflict = args.get("conflict") if tag == "INSERT" else None
    if conflict is not None and "UPDATE" in str(conflict.args.get("action") or "").upper():
        return [("INSERT", None), ("UPDATE", _set_targets(conflict.expressions))]
    return [(tag, None)]


def _statement_triggers(table: str, events: list[tuple[str, set[str] | None]],
                        catalog: Catalog) -> tuple[list[list[object]], list[list[object]]]:
    """([oid, event] to fire BEFORE, [oid, event] to fire AFTER): by name within an event; the
    AFTER ones in reverse event order (PostgreSQL: ExecASUpdate before ExecASInsert)."""
    before: list[list[object]] = []
    after: list[list[object]] = []
    for event, targets in events:
        for trg in catalog.routines.triggers_on(table):
            if trg.level != "STATEMENT" or event not in trg.events:
                continue
            if event == "UPDATE" and trg.columns and targets is not None and not set(trg.columns) & targets:
                continue
            (before if trg.timing == "BEFORE" else after).append([trg.oid, event])
    order = [e for e, _ in reversed(events)]
    after.sort(key=lambda pair: order.index(str(pair[1])))
    return before, after


def _begin_step(before: list[list[object]], after: list[list[object]]) -> str:
    if not before and not after:
        return STATEMENT_BEGIN
    return (f"SELECT __strata_statement_begin({quote_literal(json.dumps(before))}, "
            f"{quote_literal(json.dumps(after))})")


def dml_steps(sql: str, catalog: Catalog, node: object = None, tag: str = "") -> tuple[str, ...]:
    """A DML statement's steps. With triggers in the database, a first step starts queueing AFTER
    ROW triggers (PostgreSQL fires them at the end of the statement; the session's
    ``Translation.after_rows`` fires the queue after the last step) and fires the target's BEFORE
    STATEMENT triggers; the AFTER STATEMENT ones fire after the queue."""
    if not catalog.routines.triggers:
        return (sql,)
    if node is None:
        return (STATEMENT_BEGIN, sql)
    before, after = _statement_triggers(_dml_target(node), statement_events(node, tag), catalog)
    return (_begin_step(before, after), sql)


def truncate_translation(tr: Translation, node: object, catalog: Catalog) -> Translation:
    """TRUNCATE on a database with triggers: no row trigger fires for its deletes (PostgreSQL's
    TRUNCATE fires none), TRUNCATE statement triggers fire before and after."""
    before: list[list[object]] = []
    after: list[list[object]] = []
    for target in getattr(node, "expressions", []):
        b, a = _statement_triggers(str(getattr(target, "name", "")), [("TRUNCATE", None)], catalog)
        before += b
        after += a
    begin = (f"SELECT __strata_statement_begin({quote_literal(json.dumps(before))}, "
             f"{quote_literal(json.dumps(after))}, 1)")
    return replace(tr, steps=(begin, *tr.steps), after_rows=True)


def check_copy_from(table: str, catalog: Catalog) -> None:
    """COPY FROM runs no statement steps, so a statement trigger would not fire: refused."""
    if any(t.level == "STATEMENT" and "INSERT" in t.events for t in catalog.routines.triggers_on(table)):
        raise SqlError("0A000", f'COPY FROM into a table with FOR EACH STATEMENT INSERT triggers ("{table}") '
                                "is not supported")
