"""Statement dispatch: one PostgreSQL statement -> one Translation (and a derived Catalog)."""

from __future__ import annotations

import logging
import re
from typing import TypedDict

from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import TokenType

from compute import pgtypes as T
from compute.sql import enums
from compute.sql import types as ty
from compute.sql.api import ColumnDesc, CopySpec, Kind, SqlError, Translation
from compute.sql.catalog import Catalog, Table, quote_ident
from compute.sql.ddl import UNNAMED_CHECK, DdlCompiler, DdlResult
from compute.sql.dialect import StrataPostgres
from compute.sql.expressions import Params, State
from compute.sql.expressions import raw as raw_sql
from compute.sql.pg_catalog import rewrite_client_idioms
from compute.sql.query import OutColumn, QueryCompiler, generate
from compute.sql.split import Statement, strip_catalog_qualifiers
from compute.sql.types import Ty
from compute.sql.utility import Tokens, ident_value, is_quoted, set_constraints, translate_utility

_log = logging.getLogger("strata.compute.sql")

_QUERY_STARTS = {"select", "with", "values", "table", "("}
_DML_TAGS = {exp.Insert: "INSERT", exp.Update: "UPDATE", exp.Delete: "DELETE"}


def _columns(cols: list[OutColumn], catalog: Catalog | None = None) -> tuple[ColumnDesc, ...]:
    def elem(oid: int) -> int:
        enum = catalog.enum_of_array(oid) if catalog is not None else None
        return enum.oid if enum is not None else 0

    return tuple(ColumnDesc(c.name, c.ty.oid if c.ty.oid != T.UNKNOWN else T.TEXT, c.ty.typmod, c.table_oid,
                            c.attnum, elem(c.ty.oid)) for c in cols)


_OVERRIDING = re.compile(
    r'^(\s*insert\s+into\s+(?:"[^"]*"|[\w$.])+\s*(?:\([^()]*\)\s*)?)overriding\s+(system|user)\s+value\b',
    re.IGNORECASE)


def strip_overriding(text: str) -> tuple[str, str | None]:
    """INSERT ... OVERRIDING {SYSTEM|USER} VALUE, which sqlglot does not parse: the clause is cut
    out of the text and returned ("system"/"user") for the INSERT compiler."""
    m = _OVERRIDING.match(text)
    if m is None:
        return text, None
    return text[: m.end(1)] + text[m.end():], m.group(2).lower()


def parse(text: str) -> exp.Expression:
    try:
        tree = StrataPostgres().parse(text)
    except ParseError as err:
        detail = err.errors[0] if err.errors else {}
        highlight = (detail.get("highlight") or "").strip()
        start = detail.get("start_context") or ""
        position = len(start) + 1 if start else None
        near = highlight or "end of input"
        if highlight:
            raise SqlError("42601", f'syntax error at or near "{near}"', position=position) from None
        raise SqlError("42601", "syntax error at end of input", position=position) from None
    except SqlError:
        raise
    except Exception as err:  # sqlglot raises assorted errors on malformed input
        raise SqlError("42601", f"syntax error: {err}") from None
    statements = [t for t in tree if t is not None]
    if len(statements) != 1:
        raise SqlError("42601", "syntax error")
    node = statements[0]
    assert isinstance(node, exp.Expression)
    _normalize_identifiers(node)
    return node


def _normalize_identifiers(node: exp.Expression) -> None:
    """PostgreSQL folds unquoted identifiers to lower case."""
    for ident in node.find_all(exp.Identifier):
        if not ident.args.get("quoted"):
            ident.set("this", ident.this.lower())


# Words that can start a PostgreSQL statement; anything else is a syntax error at the first word.
STATEMENT_WORDS = frozenset({
    "abort", "alter", "analyse", "analyze", "begin", "call", "checkpoint", "close", "cluster",
    "comment", "commit", "copy", "create", "deallocate", "declare", "delete", "discard", "do",
    "drop", "end", "execute", "explain", "fetch", "grant", "import", "insert", "listen", "load",
    "lock", "merge", "move", "notify", "prepare", "reassign", "refresh", "reindex", "release",
    "reset", "revoke", "rollback", "savepoint", "security", "select", "set", "show", "start",
    "table", "truncate", "unlisten", "update", "vacuum", "values", "with", "(",
})
# Statements that may be one word long; other words need more (PostgreSQL: "at end of input").
ONE_WORD_STATEMENTS = frozenset({"abort", "analyse", "analyze", "begin", "checkpoint", "cluster",
                                 "commit", "end", "rollback", "select", "vacuum"})
# A comma directly before these is PostgreSQL's syntax error at the following word.
_AFTER_LIST = frozenset({"from", "where", "group", "having", "order", "limit", "offset", "union",
                         "intersect", "except", ")"})


def syntax_gate(stmt: Statement) -> None:
    """Syntax errors PostgreSQL reports and the SQL parser would accept or misplace: an unknown
    first word, a statement cut short, a dangling comma."""
    tokens = stmt.tokens
    first = tokens[0]
    word = first.text.lower()
    if word not in STATEMENT_WORDS or first.token_type in (TokenType.STRING, TokenType.NUMBER):
        raise SqlError("42601", f'syntax error at or near "{stmt.text[first.start:first.end + 1]}"',
                       position=first.start + 1)
    if len(tokens) == 1 and word not in ONE_WORD_STATEMENTS:
        raise end_of_input(stmt)
    for tok, nxt in zip(tokens, (*tokens[1:], None), strict=True):
        if tok.token_type != TokenType.COMMA:
            continue
        if nxt is None:
            raise end_of_input(stmt)
        if nxt.text.lower() in _AFTER_LIST and nxt.token_type != TokenType.STRING:
            raise SqlError("42601", f'syntax error at or near "{nxt.text}"', position=nxt.start + 1)


def end_of_input(stmt: Statement) -> SqlError:
    return SqlError("42601", "syntax error at end of input", position=len(stmt.text) + 1)


def translate_statement(stmt: Statement, catalog: Catalog,
                        param_types: tuple[int, ...] = ()) -> tuple[Translation, Catalog]:
    """Translate one statement; returns the Translation and the catalog as it will be after it."""
    if not stmt.tokens:
        return Translation(Kind.EMPTY, ""), catalog
    first_tok = stmt.tokens[0]
    first = first_tok.text.lower()
    try:
        syntax_gate(stmt)
    except SqlError as err:
        raise _with_offset(err, stmt) from None
    if len(stmt.tokens) == 1 and first == "select":  # one row of no columns
        return Translation(Kind.QUERY, "SELECT", ("SELECT NULL",)), catalog
    if first == "set" and len(stmt.tokens) > 1 and stmt.tokens[1].text.lower() == "constraints":
        try:
            return set_constraints(stmt.tokens, stmt.text, catalog), catalog
        except SqlError as err:
            raise _with_offset(err, stmt) from None
    try:
        utility = translate_utility(first, stmt.tokens, stmt.text)
    except SqlError as err:
        raise _with_offset(err, stmt) from None
    if utility is not None:
        return utility, catalog
    token = ty.CURRENT_CATALOG.set(catalog)
    try:
        return _translate_sql(stmt, first, catalog, param_types)
    except SqlError as err:
        raise _with_offset(err, stmt) from None
    except Exception as exc:  # a translator bug must fail the statement, not the connection
        _log.exception("internal error translating %r", stmt.text[:200])
        raise SqlError("XX000", f"internal error: {type(exc).__name__}: {exc}") from exc
    finally:
        ty.CURRENT_CATALOG.reset(token)


def _at_end_of_input(err: SqlError, stmt: Statement) -> SqlError:
    """The parser names the last token when the statement stops short; PostgreSQL says "at end
    of input" at the character after the statement."""
    m = re.fullmatch(r'syntax error at or near "(.*)"', err.message, re.S)
    if err.sqlstate == "42601" and m and stmt.text.rstrip().lower().endswith(m.group(1).lower()):
        last = stmt.tokens[-1]
        if last.token_type not in (TokenType.R_PAREN, TokenType.IDENTIFIER, TokenType.VAR,
                                   TokenType.NUMBER, TokenType.STRING, TokenType.STAR):
            return end_of_input(stmt)
        if last.token_type in (TokenType.NUMBER, TokenType.VAR) and len(stmt.tokens) > 1 and \
                stmt.tokens[-2].token_type in (TokenType.L_PAREN, TokenType.COMMA):
            return end_of_input(stmt)  # "select (1": the parser names the 1
    return err


_NAMED = re.compile(r'(?:relation|column) (?:"([^"]+)"|(\w+\.\w+)) does not exist')


def _with_offset(err: SqlError, stmt: Statement) -> SqlError:
    if err.position is None and err.sqlstate in ("42P01", "42703"):
        err.position = _name_position(err.message, stmt)
    if err.position is not None:
        err.position += stmt.offset
    return err


def _name_position(message: str, stmt: Statement) -> int | None:
    """Where PostgreSQL points for an unknown relation or column: its first mention."""
    m = _NAMED.match(message)
    if m is None:
        return None
    parts = m.group(1).split(".") if m.group(1) else m.group(2).split(".")
    tokens = stmt.tokens
    for i, tok in enumerate(tokens):
        if tok.text == parts[0] or tok.text.lower() == parts[0] and tok.token_type != TokenType.STRING:
            if len(parts) == 1 or (i + 2 < len(tokens) and tokens[i + 1].text == "."
                                   and tokens[i + 2].text.lower() == parts[-1].lower()):
                return tok.start + 1
    return None


_NO_COLUMNS = re.compile(r"\s*create\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?"
                         r"(?:\w+|\"[^\"]*\")(?:\.(?:\w+|\"[^\"]*\"))?\s*\(\s*\)", re.I)
_UNLOGGED = re.compile(r"^(\s*create\s+)unlogged\s+(?=table\b)", re.I)


def _name_unnamed_checks(text: str) -> str:
    """ALTER TABLE ... ADD CHECK (...) -> ADD CONSTRAINT <placeholder> CHECK, on the token stream
    (keywords only: the same words inside a string literal or a quoted name stay as they are)."""
    tokens = StrataPostgres().tokenize(text)
    cuts: list[int] = []
    for prev, tok in zip(tokens, tokens[1:], strict=False):
        if (prev.text.lower() == "add" and tok.text.lower() == "check"
                and not is_quoted(prev, text) and not is_quoted(tok, text)
                and prev.token_type != TokenType.STRING and tok.token_type != TokenType.STRING):
            cuts.append(tok.start)
    for at in reversed(cuts):
        text = f"{text[:at]}CONSTRAINT {UNNAMED_CHECK} {text[at:]}"
    return text


def _translate_sql(stmt: Statement, first: str, catalog: Catalog,
                   param_types: tuple[int, ...]) -> tuple[Translation, Catalog]:
    state = State(catalog)
    state.params = Params(fixed={i + 1: oid for i, oid in enumerate(param_types) if oid})
    if first == "copy":
        return _copy(stmt, state), catalog
    if first == "explain":
        raise SqlError("0A000", "EXPLAIN is not supported")
    if first in ("create", "alter", "drop") and _is_noop_ddl(stmt):
        return _noop_ddl(stmt), catalog
    if first in ("create", "alter", "drop") and len(stmt.tokens) > 1 and stmt.tokens[1].text.lower() == "type":
        return _type_ddl(stmt, first, state)
    if first == "comment":
        commented = DdlCompiler(state).comment(stmt.tokens, stmt.text)
        return Translation(Kind.COMMAND, commented.tag, tuple(commented.steps), is_write=True, is_ddl=True), catalog
    if first == "create" and _NO_COLUMNS.match(stmt.text):
        raise SqlError("0A000", "tables without columns are not supported")
    text = rewrite_client_idioms(strip_catalog_qualifiers(stmt))
    if first == "create":  # an unlogged table is a table whose writes are logged anyway
        text = _UNLOGGED.sub(r"\1", text, count=1)
    if first == "alter":  # sqlglot parses ADD CHECK only with a name
        text = _name_unnamed_checks(text)
    if first == "table":
        text = "SELECT * FROM " + text[len("table"):]
    overriding = None
    if first == "insert":
        text, overriding = strip_overriding(text)
    try:
        node = parse(text)
    except SqlError as err:
        raise _at_end_of_input(err, stmt) from None
    if isinstance(node, exp.Alter):
        _fix_rename_without_column(node)
    if overriding is not None and isinstance(node, exp.Insert):
        node.set("overriding", overriding)
    if isinstance(node, (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)):
        qc = QueryCompiler(state)
        sql, cols = qc.statement_query(node)
        return Translation(
            Kind.QUERY, "SELECT", (sql,), is_write=state.is_write, columns=_columns(cols, catalog),
            param_oids=state.params.oids(), **_state_fields(state),
        ), catalog
    for cls, tag in _DML_TAGS.items():
        if isinstance(node, cls):
            qc = QueryCompiler(state)
            if node.args.get("with_") or node.args.get("with"):
                raise SqlError("0A000", f"WITH ... {tag} is not supported")
            sql, cols = getattr(qc, tag.lower())(node)
            kind = Kind.QUERY if cols else Kind.COMMAND
            return Translation(kind, tag, (sql,), is_write=True, columns=_columns(cols, catalog),
                               param_oids=state.params.oids()), catalog
    ddl = DdlCompiler(state)
    result: DdlResult
    altered_table: str | None = None
    if isinstance(node, exp.Create):
        create_kind = str(node.args.get("kind") or "").upper()
        if create_kind == "TABLE":
            result = ddl.create_table(node)
        elif create_kind == "INDEX":
            result = ddl.create_index(node)
        elif create_kind == "SEQUENCE":
            result = ddl.create_sequence(node)
        elif create_kind == "VIEW":
            result = ddl.create_view(node)
        elif create_kind == "DATABASE":
            name = node.this.name
            return Translation(Kind.CREATE_DATABASE, "CREATE DATABASE", name=name), catalog
        elif create_kind == "SCHEMA":
            schema = node.this.db or node.this.name
            if schema == "public" and node.args.get("exists"):
                return Translation(Kind.COMMAND, "CREATE SCHEMA",
                                   notices=(f'schema "{schema}" already exists, skipping',)), catalog
            raise SqlError("0A000", "CREATE SCHEMA is not supported (only the public schema exists)")
        else:
            raise SqlError("0A000", f"CREATE {create_kind or 'statement'} is not supported")
    elif isinstance(node, exp.Drop):
        drop_kind = str(node.args.get("kind") or "").upper()
        if drop_kind == "DATABASE":
            names = [t.name for t in node.args.get("tables") or node.expressions]
            return Translation(Kind.DROP_DATABASE, "DROP DATABASE", name=names[0] if names else "",
                               if_exists=bool(node.args.get("exists"))), catalog
        result = ddl.drop(node)
    elif isinstance(node, exp.Alter):
        if (node.args.get("kind") or "").upper() != "TABLE":
            raise SqlError("0A000", f"ALTER {node.args.get('kind')} is not supported")
        result = ddl.alter_table(node)
        altered_table = node.this.name  # pending deferred checks forbid it
    elif isinstance(node, exp.TruncateTable):
        result = ddl.truncate(node)
    elif isinstance(node, exp.Command) and node.name.lower() == "alter" and \
            str(node.expression).lower().split()[:1] == ["sequence"]:
        result = ddl.alter_sequence(text)
    elif isinstance(node, exp.Command):
        raise SqlError("0A000", f"{node.name.upper()} {str(node.expression)[:40]} is not supported".strip())
    else:
        raise SqlError("0A000", f"{type(node).__name__} statements are not supported")
    is_ddl = result.catalog is not None and bool(result.steps)
    translation = Translation(
        Kind.COMMAND,
        result.tag,
        tuple(s for s in result.steps if s),
        is_write=bool(result.steps) or state.is_write,
        is_ddl=is_ddl,
        param_oids=state.params.oids(),
        notices=tuple(result.notices),
        count_last_step=result.count_last_step,
        altered_table=altered_table,
        **_state_fields(state),
    )
    return translation, (result.catalog or catalog)


def _type_ddl(stmt: Statement, first: str, state: State) -> tuple[Translation, Catalog]:
    """CREATE / ALTER / DROP TYPE (enum types; see compute/sql/enums.py)."""
    catalog = state.catalog
    notices: list[str] = []
    if first == "create":
        steps, catalog = enums.create_type(stmt.tokens, stmt.text, catalog)
    elif first == "alter":
        steps, catalog, notices = enums.alter_type(stmt.tokens, stmt.text, catalog)
    else:
        ddl = DdlCompiler(state)

        def drop_column(cat: Catalog, table: Table, column: str) -> tuple[Catalog, list[str]]:
            return ddl._drop_column(cat, table, exp.Drop(expressions=[exp.column(column)]))

        steps, catalog, notices = enums.drop_type(stmt.tokens, stmt.text, catalog, drop_column)
    tag = f"{first.upper()} TYPE"
    return Translation(Kind.COMMAND, tag, tuple(steps), is_write=bool(steps), is_ddl=bool(steps),
                       notices=tuple(notices)), catalog


def _fix_rename_without_column(node: exp.Alter) -> None:
    """``ALTER TABLE t RENAME a TO b`` (COLUMN is optional, Alembic omits it): sqlglot reads it as
    a table rename with a stray ``TO b`` option; make it the column rename it is."""
    options = node.args.get("options") or []
    actions = node.args.get("actions") or []
    if len(actions) == 1 and isinstance(actions[0], exp.AlterRename) and len(options) == 1 \
            and isinstance(options[0], exp.ToTableProperty):
        old, new = actions[0].this, options[0].this
        node.set("actions", [exp.RenameColumn(this=exp.Column(this=old.this), to=exp.Column(this=new.this))])
        node.set("options", None)


_NOOP_DDL = {
    ("create", "extension"): "CREATE EXTENSION",
    ("drop", "extension"): "DROP EXTENSION",
}


def _is_noop_ddl(stmt: Statement) -> bool:
    words = tuple(t.text.lower() for t in stmt.tokens[:2])
    if words in _NOOP_DDL:
        return True
    if words == ("alter", "table"):
        lowered = [t.text.lower() for t in stmt.tokens]
        return "owner" in lowered and "to" in lowered
    return False


def _noop_ddl(stmt: Statement) -> Translation:
    words = tuple(t.text.lower() for t in stmt.tokens[:2])
    if words == ("alter", "table"):
        return Translation(Kind.NOOP, "ALTER TABLE")
    tag = _NOOP_DDL[words]  # type: ignore[index]
    name = stmt.tokens[-1].text.lower().strip('"')
    if name not in ("plpgsql", "pgcrypto", "uuid-ossp", "pg_stat_statements", "citext", "exists"):
        if tag == "CREATE EXTENSION":
            raise SqlError("0A000", f'extension "{name}" is not available')
    return Translation(Kind.NOOP, tag)


# ---------------------------------------------------------------------- COPY

_COPY_BOOL_OPTS = {"header", "freeze", "oids"}


def _copy(stmt: Statement, state: State) -> Translation:
    ts = Tokens(stmt.tokens, stmt.text)
    ts.expect("copy")
    qc = QueryCompiler(state)
    table_name: str | None = None
    query_sql: str | None = None
    out_cols: list[OutColumn] = []
    catalog = state.catalog
    columns: list[str] = []
    if ts.peek() == "(":
        depth = 0
        start_tok = ts.token()
        assert start_tok is not None
        while True:
            tok = ts.next()
            if tok.token_type == TokenType.L_PAREN:
                depth += 1
            elif tok.token_type == TokenType.R_PAREN:
                depth -= 1
                if depth == 0:
                    end = tok.start
                    break
        inner_text = stmt.text[start_tok.start + 1 : end]
        inner_stmt = Statement(inner_text, 0, tuple(
            t for t in stmt.tokens if start_tok.start < t.start < end
        ))
        inner_stmt = Statement(inner_text, 0, tuple(
            type(t)(t.token_type, t.text, t.line, t.col, t.start - start_tok.start - 1, t.end - start_tok.start - 1,
                    t.comments) for t in inner_stmt.tokens))
        node = parse(strip_catalog_qualifiers(inner_stmt))
        if not isinstance(node, (exp.Select, exp.SetOperation, exp.Values)):
            raise SqlError("0A000", "COPY (statement) TO supports only queries")
        query_sql, out_cols = qc.statement_query(node)
    else:
        table_tok = ts.next()
        table_name = ident_value(table_tok, ts.text)
        if ts.accept("."):
            if table_name not in ("public",):
                raise SqlError("3F000", f'schema "{table_name}" does not exist')
            table_name = ts.next_name()
        if ts.peek() == "(":
            ts.next()
            while True:
                columns.append(ts.next_name())
                if ts.accept(")"):
                    break
                ts.expect(",")
    direction = ts.peek()
    if direction not in ("from", "to"):
        ts.error()
    ts.next()
    target = ts.peek()
    if target not in ("stdin", "stdout"):
        raise SqlError("0A000", "COPY to or from a file or program is not supported; use STDIN/STDOUT")
    if (direction, target) not in (("from", "stdin"), ("to", "stdout")):
        ts.error()
    ts.next()
    options = _copy_options(ts)
    fmt = str(options.get("format", "text")).lower()
    if fmt not in ("text", "csv", "binary"):
        raise SqlError("22023", f'COPY format "{fmt}" not recognized')
    csv = fmt == "csv"
    delimiter = str(options.get("delimiter", "," if csv else "\t"))
    null = str(options.get("null", "" if csv else "\\N"))
    quote = str(options.get("quote", '"'))
    escape = str(options.get("escape", quote))
    header = bool(options.get("header", False))
    if len(delimiter) != 1:
        raise SqlError("22023", "COPY delimiter must be a single one-byte character")
    if direction == "to" and query_sql is not None:
        spec = CopySpec(None, _columns(out_cols, catalog), fmt, delimiter, null, header, quote, escape)
        return Translation(Kind.COPY_TO, "COPY", (query_sql,), columns=spec.columns, copy=spec,
                           is_write=state.is_write, **_state_fields(state))
    assert table_name is not None
    table = catalog.table(table_name)
    if table is None:
        raise SqlError("42P01", f'relation "{table_name}" does not exist')
    if columns:
        for name in columns:
            if table.column(name) is None:
                raise SqlError("42703", f'column "{name}" of relation "{table_name}" does not exist')
        chosen = [table.column(n) for n in columns]
    else:
        chosen = list(table.columns)
    def elem(oid: int) -> int:
        enum = catalog.enum_of_array(oid)
        return enum.oid if enum is not None else 0

    descs = tuple(ColumnDesc(c.name, c.type_oid, c.typmod, table.oid, c.attnum, elem(c.type_oid))
                  for c in chosen if c is not None)
    if direction == "to":
        parts = []
        for c in chosen:
            assert c is not None
            ref = quote_ident(c.name)
            parts.append(f"pg_tstz_out({ref})" if c.type_oid == T.TIMESTAMPTZ else ref)
        sql = f"SELECT {', '.join(parts)} FROM {quote_ident(table.storage_name)}"
        spec = CopySpec(table.name, descs, fmt, delimiter, null, header, quote, escape)
        return Translation(Kind.COPY_TO, "COPY", (sql,), columns=descs, copy=spec)
    if table.kind != "r" or catalog.user_table(table_name) is None:
        raise SqlError("42809", f'cannot copy to relation "{table_name}"')
    # COPY FROM: one INSERT with ?N per listed column; others get their defaults.
    state_ex = qc.ex
    values = []
    for i, col in enumerate(chosen):
        assert col is not None
        param = f"?{i + 1}"
        checked = state_ex.enum_param(raw_sql(param), Ty(col.type_oid)) if col.type_oid >= 16384 else None
        if checked is not None:  # enum labels are checked as they arrive
            values.append(generate(checked))
        elif col.typmod >= 0 and col.type_oid in (T.BPCHAR, T.VARCHAR, T.NUMERIC):
            values.append(f"pg_typmod({param}, {col.type_oid}, {col.typmod})")
        else:
            values.append(param)
    others = [c for c in table.columns if c not in chosen]
    for col in others:
        values.append(f"({col.default_sql})" if col.default_sql else "NULL")
    names = [quote_ident(c.name) for c in chosen if c is not None] + [quote_ident(c.name) for c in others]
    insert_sql = f"INSERT INTO {quote_ident(table.name)} ({', '.join(names)}) VALUES ({', '.join(values)})"
    spec = CopySpec(table.name, descs, fmt, delimiter, null, header, quote, escape, insert_sql)
    return Translation(Kind.COPY_FROM, "COPY", (), is_write=True, columns=descs, copy=spec)


def _copy_options(ts: Tokens) -> dict[str, object]:
    options: dict[str, object] = {}
    ts.accept("with")
    if ts.accept("("):
        while not ts.accept(")"):
            name = ts.next().text.lower()
            value: object = True
            nxt = ts.peek()
            if nxt not in (",", ")"):
                tok = ts.next()
                if name in ("force_quote", "force_not_null", "force_null") and tok.text == "(":
                    while not ts.accept(")"):
                        ts.next()
                    value = True
                else:
                    value = tok.text
            if name in _COPY_BOOL_OPTS and isinstance(value, str):
                value = value.lower() in ("true", "on", "1", "match")
            options[name] = value
            ts.accept(",")
        return options
    # pre-9.0 syntax: [BINARY] [DELIMITER [AS] 'x'] [NULL [AS] 'x'] [CSV [HEADER] [QUOTE [AS] 'q'] ...]
    while not ts.at_end():
        word = ts.next().text.lower()
        if word == "binary":
            options["format"] = "binary"
        elif word == "csv":
            options["format"] = "csv"
        elif word == "header":
            options["header"] = True
        elif word in ("delimiter", "null", "quote", "escape"):
            ts.accept("as")
            options[word] = ts.next().text
        elif word == "force":
            ts.accept("not")
            ts.accept("null")
            ts.accept("quote")
            while not ts.at_end() and ts.peek() not in ("csv", "header", "delimiter", "null", "quote", "escape"):
                ts.next()
        else:
            raise SqlError("42601", f'syntax error at or near "{word}"')
    return options


def generate_sql(node: exp.Expression) -> str:
    return generate(node)


__all__ = ["translate_statement", "Ty"]


class _StateFields(TypedDict):
    write_command: str | None
    off_loop: bool


def _state_fields(state: State) -> _StateFields:
    """What the session needs to know beyond the SQL: how PostgreSQL names a write in a 25006
    refusal, and whether the statement calls the node (then it never runs on the event loop)."""
    return {"write_command": state.write_command or None, "off_loop": bool(state.off_loop)}
