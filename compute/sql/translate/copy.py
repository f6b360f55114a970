"""COPY ... FROM STDIN / TO STDOUT: parsed from the token stream (sqlglot has no COPY grammar)
into a Translation whose CopySpec tells the session the format, and for COPY FROM the INSERT
that stores each row."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.tokens import TokenType

from compute import pgtypes as T
from compute.sql.api import ColumnDesc, CopySpec, Kind, SqlError, Translation
from compute.sql.catalog.catalog import Column, Table, quote_ident
from compute.sql.translate.functions_ddl import check_copy_from
from compute.sql.translate.outputs import column_descs, state_fields
from compute.sql.translate.parse import parse
from compute.sql.translate.query import OutColumn, QueryCompiler, generate
from compute.sql.translate.schemas import resolve_names
from compute.sql.translate.scope import State
from compute.sql.translate.scope import raw as raw_sql
from compute.sql.translate.split import Statement, strip_catalog_qualifiers
from compute.sql.translate.tokens import Tokens, ident_value
from compute.sql.types import Ty, array_typmod

_COPY_BOOL_OPTS = {"header", "freeze", "oids"}


@dataclass
class _Source:
    """COPY's source or target: a query (COPY (SELECT ...) TO) or a table and its listed columns."""

    table_name: str | None = None
    columns: list[str] | None = None
    query_sql: str | None = None
    out_cols: list[OutColumn] | None = None


@dataclass
class _Format:
    fmt: str
    delimiter: str
    null: str
    header: bool
    quote: str
    escape: str

    def spec(self, table: str | None, columns: tuple[ColumnDesc, ...], insert_sql: str | None = None) -> CopySpec:
        if insert_sql is None:
            return CopySpec(table, columns, self.fmt, self.delimiter, self.null, self.header, self.quote,
                            self.escape)
        return CopySpec(table, columns, self.fmt, self.delimiter, self.null, self.header, self.quote,
                        self.escape, insert_sql)


def translate_copy(stmt: Statement, state: State) -> Translation:
    ts = Tokens(stmt.tokens, stmt.text)
    ts.expect("copy")
    qc = QueryCompiler(state)
    source = _source(ts, stmt, qc)
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
    form = _format(_copy_options(ts))
    if direction == "to" and source.query_sql is not None:
        spec = form.spec(None, column_descs(source.out_cols or [], state.catalog))
        return Translation(Kind.COPY_TO, "COPY", (source.query_sql,), columns=spec.columns, copy=spec,
                           is_write=state.is_write, **state_fields(state))
    return _copy_table(source, direction == "to", form, state, qc)


def _source(ts: Tokens, stmt: Statement, qc: QueryCompiler) -> _Source:
    if ts.peek() != "(":
        table_name = ident_value(ts.next(), ts.text)
        schema = None
        if ts.accept("."):
            schema, table_name = table_name, ts.next_name()
        table_name = qc.state.catalog.qualify(schema, table_name)  # its key (translate/schemas.py)
        columns: list[str] = []
        if ts.peek() == "(":
            ts.next()
            while True:
                columns.append(ts.next_name())
                if ts.accept(")"):
                    break
                ts.expect(",")
        return _Source(table_name=table_name, columns=columns)
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
    shift = start_tok.start + 1
    inner_stmt = Statement(inner_text, 0, tuple(
        type(t)(t.token_type, t.text, t.line, t.col, t.start - shift, t.end - shift, t.comments)
        for t in stmt.tokens if start_tok.start < t.start < end))
    node = parse(strip_catalog_qualifiers(inner_stmt))
    if not isinstance(node, (exp.Select, exp.SetOperation, exp.Values)):
        raise SqlError("0A000", "COPY (statement) TO supports only queries")
    resolve_names(node, qc.state.catalog)  # relation names -> keys, by the search path
    query_sql, out_cols = qc.statement_query(node)
    return _Source(query_sql=query_sql, out_cols=out_cols)


def _format(options: dict[str, object]) -> _Format:
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
    return _Format(fmt, delimiter, null, header, quote, escape)


def _copy_table(source: _Source, to: bool, form: _Format, state: State, qc: QueryCompiler) -> Translation:
    catalog = state.catalog
    table_name = source.table_name
    assert table_name is not None
    table = catalog.table(table_name)
    if table is None:
        raise SqlError("42P01", f'relation "{table_name}" does not exist')
    if source.columns:
        for name in source.columns:
            if table.column(name) is None:
                raise SqlError("42703", f'column "{name}" of relation "{table_name}" does not exist')
        chosen = [table.column(n) for n in source.columns]
    else:
        chosen = list(table.columns)

    def elem(oid: int) -> int:
        enum = catalog.enum_of_array(oid)
        return enum.oid if enum is not None else 0

    descs = tuple(ColumnDesc(c.name, c.type_oid, c.typmod, table.oid, c.attnum, elem(c.type_oid))
                  for c in chosen if c is not None)
    if to:
        parts = []
        for c in chosen:
            assert c is not None
            ref = quote_ident(c.name)
            parts.append(f"pg_tstz_out({ref})" if c.type_oid == T.TIMESTAMPTZ else ref)
        sql = f"SELECT {', '.join(parts)} FROM {quote_ident(table.storage_name)}"
        return Translation(Kind.COPY_TO, "COPY", (sql,), columns=descs, copy=form.spec(table.name, descs))
    if table.kind != "r" or catalog.user_table(table_name) is None:
        raise SqlError("42809", f'cannot copy to relation "{table_name}"')
    check_copy_from(table_name, catalog)  # statement triggers (translate/functions_ddl.py)
    insert_sql = _insert_sql(table, [c for c in chosen if c is not None], qc)
    return Translation(Kind.COPY_FROM, "COPY", (), is_write=True, columns=descs,
                       copy=form.spec(table.name, descs, insert_sql))


def _insert_sql(table: Table, chosen: list[Column], qc: QueryCompiler) -> str:
    """COPY FROM: one INSERT with ?N per listed column; others get their defaults."""
    values = []
    for i, col in enumerate(chosen):
        param = f"?{i + 1}"
        checked = qc.ex.enum_param(raw_sql(param), Ty(col.type_oid)) if col.type_oid >= 16384 else None
        if checked is not None:  # enum labels are checked as they arrive
            values.append(generate(checked))
        elif col.typmod >= 0 and (col.type_oid in (T.BPCHAR, T.VARCHAR, T.NUMERIC, T.BIT, T.VARBIT)
                                  or array_typmod(Ty(col.type_oid, col.typmod))):
            values.append(f"pg_typmod({param}, {col.type_oid}, {col.typmod})")
        else:
            values.append(param)
    others = [c for c in table.columns if c not in chosen]
    for col in others:
        values.append(f"({col.default_sql})" if col.default_sql else "NULL")
    names = [quote_ident(c.name) for c in chosen] + [quote_ident(c.name) for c in others]
    return f"INSERT INTO {quote_ident(table.name)} ({', '.join(names)}) VALUES ({', '.join(values)})"


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
