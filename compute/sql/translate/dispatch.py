"""Statement dispatch: one PostgreSQL statement -> one Translation (and a derived Catalog)."""

from __future__ import annotations

import logging
import re

from sqlglot import exp
from sqlglot.tokens import TokenType

import compute.sql.types as ty
from compute.sql.api import Kind, SqlError, Translation
from compute.sql.catalog.catalog import Catalog, Table
from compute.sql.translate import enums
from compute.sql.translate.copy import translate_copy
from compute.sql.translate.cursor_statements import close_cursor, declare_cursor, fetch
from compute.sql.translate.database_ddl import alter_database_statement, create_database_statement
from compute.sql.translate.ddl import DdlCompiler
from compute.sql.translate.ddl_identity import ADD_IDENTITY, add_identity
from compute.sql.translate.ddl_sql import UNNAMED_CHECK, DdlResult
from compute.sql.translate.explain import explain
from compute.sql.translate.functions_ddl import (
    check_dml,
    dml_steps,
    routine_statement,
    truncate_translation,
)
from compute.sql.translate.grants import grant_statement, owner_to
from compute.sql.translate.outputs import column_descs, state_fields
from compute.sql.translate.parse import parse
from compute.sql.translate.query import QueryCompiler
from compute.sql.translate.rewrite import (
    Cut,
    client_idiom_cuts,
    creates_table_without_columns,
    name_unnamed_checks,
    overriding_cut,
    unlogged_cut,
)
from compute.sql.translate.roles import role_statement
from compute.sql.translate.schema_move import set_schema_statement
from compute.sql.translate.schemas import on_commit_cut, resolve_names, schema_statement
from compute.sql.translate.scope import Params, State
from compute.sql.translate.split import Statement, split_statements, strip_catalog_qualifiers
from compute.sql.translate.statements import set_constraints, translate_utility

_log = logging.getLogger("strata.compute.sql")

_QUERY_STARTS = {"select", "with", "values", "table", "("}
_DML_TAGS = {exp.Insert: "INSERT", exp.Update: "UPDATE", exp.Delete: "DELETE"}


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
    if first in _NESTING:
        return _nesting_statement(stmt, first, catalog, param_types), catalog
    try:
        if first in ("grant", "revoke"):  # roles and relations are checked (compute/sql/translate/roles.py)
            return grant_statement(first, stmt.tokens, stmt.text, catalog), catalog
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


_NESTING = frozenset({"declare", "fetch", "move", "close", "explain"})


class _Inner(Exception):
    """An error of a nested statement, whose position is already absolute."""

    def __init__(self, err: SqlError) -> None:
        super().__init__(err.message)
        self.err = err


def _nesting_statement(stmt: Statement, first: str, catalog: Catalog,
                       param_types: tuple[int, ...]) -> Translation:
    """DECLARE ... FOR query, EXPLAIN statement (they translate a statement inside them); FETCH,
    MOVE and CLOSE (cursor statements, parsed next to DECLARE)."""

    def nested(text: str, start: int) -> Translation:
        inner = split_statements(text)
        if not inner:
            raise SqlError("42601", "syntax error at end of input", position=len(stmt.text) + 1)
        sub = Statement(inner[0].text, stmt.offset + start + inner[0].offset, inner[0].tokens)
        try:
            return translate_statement(sub, catalog, param_types)[0]
        except SqlError as err:
            raise _Inner(err) from None

    try:
        if first == "declare":
            return declare_cursor(stmt.tokens, stmt.text, nested)
        if first == "explain":
            return explain(stmt.tokens, stmt.text, nested)
        if first == "close":
            return close_cursor(stmt.tokens, stmt.text)
        return fetch(stmt.tokens, stmt.text)
    except _Inner as inner:
        raise inner.err from None
    except SqlError as err:
        raise _with_offset(err, stmt) from None


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


def _translate_sql(stmt: Statement, first: str, catalog: Catalog,
                   param_types: tuple[int, ...]) -> tuple[Translation, Catalog]:
    state = State(catalog)
    state.params = Params(fixed={i + 1: oid for i, oid in enumerate(param_types) if oid})
    special = _token_level_statement(stmt, first, state)
    if special is not None:
        return special
    node, text = _parse_statement(stmt, first)
    resolve_names(node, catalog)  # relation names -> catalog keys, by the search path
    if isinstance(node, (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)):
        qc = QueryCompiler(state)
        sql, cols = qc.statement_query(node)
        return Translation(
            Kind.QUERY, "SELECT", (sql,), is_write=state.is_write, columns=column_descs(cols, catalog),
            param_oids=state.params.oids(), **state_fields(state),
        ), catalog
    for cls, tag in _DML_TAGS.items():
        if isinstance(node, cls):
            qc = QueryCompiler(state)
            if node.args.get("with_") or node.args.get("with"):
                raise SqlError("0A000", f"WITH ... {tag} is not supported")
            check_dml(node, tag, catalog)  # RETURNING vs BEFORE ROW triggers (functions_ddl.py)
            sql, cols = getattr(qc, tag.lower())(node)
            kind = Kind.QUERY if cols else Kind.COMMAND
            return Translation(kind, tag, dml_steps(sql, catalog, node, tag), is_write=True, columns=column_descs(cols, catalog),
                               param_oids=state.params.oids(), off_loop=bool(state.off_loop),
                               after_rows=bool(catalog.routines.triggers)), catalog
    return _ddl(node, text, state)


def _token_level_statement(stmt: Statement, first: str, state: State) -> tuple[Translation, Catalog] | None:
    """Statements translated from the token stream, never parsed: COPY, extension no-ops, type
    DDL, COMMENT; and those refused before parsing."""
    catalog = state.catalog
    if first == "copy":
        return translate_copy(stmt, state), catalog
    if first in ("create", "drop", "do", "alter"):  # functions, triggers, DO (translate/functions_ddl.py)
        routine = routine_statement(first, tuple(t.text.lower() for t in stmt.tokens[:4]), stmt.text, catalog)
        if routine is not None:
            return routine
    if first in ("create", "alter", "drop") and len(stmt.tokens) > 2 \
            and stmt.tokens[1].text.lower() in ("role", "user", "group"):
        return role_statement(first, stmt.tokens, stmt.text), catalog
    if first in ("create", "alter") and len(stmt.tokens) > 2 and stmt.tokens[1].text.lower() == "database":
        make = create_database_statement if first == "create" else alter_database_statement
        return make(stmt.tokens, stmt.text), catalog
    if first in ("create", "alter", "drop") and len(stmt.tokens) > 2 and stmt.tokens[1].text.lower() == "schema":
        return schema_statement(first, stmt.tokens, stmt.text, state)
    if first == "alter" and (moved := set_schema_statement(stmt.tokens, stmt.text, catalog)) is not None:
        return moved  # ALTER TABLE | VIEW | SEQUENCE | TYPE ... SET SCHEMA (translate/schema_move.py)
    if first in ("create", "alter", "drop") and _is_noop_ddl(stmt):
        return _noop_ddl(stmt, catalog), catalog
    if first in ("create", "alter", "drop") and len(stmt.tokens) > 1 and stmt.tokens[1].text.lower() == "type":
        return _type_ddl(stmt, first, state)
    if first == "comment":
        commented = DdlCompiler(state).comment(stmt.tokens, stmt.text)
        return Translation(Kind.COMMAND, commented.tag, tuple(commented.steps), is_write=True, is_ddl=True), catalog
    if first == "create" and creates_table_without_columns(stmt):
        raise SqlError("0A000", "tables without columns are not supported")
    return None


def _parse_statement(stmt: Statement, first: str) -> tuple[exp.Expression, str]:
    """The statement's tree, after the rewrites for syntax sqlglot does not parse (on the token
    stream: see rewrite.py); and the text it was parsed from."""
    cuts: list[Cut] = []
    overriding: str | None = None
    on_commit = on_commit_cut(stmt.tokens, stmt.text) if first == "create" else None
    if first == "create":
        unlogged = unlogged_cut(stmt)
        if unlogged is not None:
            cuts.append(unlogged)
        if on_commit is not None:  # CREATE TEMP TABLE ... ON COMMIT (translate/schemas.py)
            cuts.append(on_commit[0])
    elif first == "insert":
        found = overriding_cut(stmt)
        if found is not None:
            cuts.append(found[0])
            overriding = found[1]
    elif first == "table":  # TABLE name is SELECT * FROM name
        cuts.append((stmt.tokens[0].start, stmt.tokens[0].end + 1, "SELECT * FROM "))
    cuts.extend(client_idiom_cuts(stmt))
    text = strip_catalog_qualifiers(stmt, cuts)
    if first == "alter":
        text = name_unnamed_checks(text, UNNAMED_CHECK)
    try:
        node = parse(text)
    except SqlError as err:
        raise _at_end_of_input(err, stmt) from None
    if isinstance(node, exp.Alter):
        _fix_rename_without_column(node)
    if overriding is not None and isinstance(node, exp.Insert):
        node.set("overriding", overriding)
    if on_commit is not None:
        node.meta["on_commit"] = on_commit[1]
    return node, text


def _ddl(node: exp.Expression, text: str, state: State) -> tuple[Translation, Catalog]:
    catalog = state.catalog
    ddl = DdlCompiler(state)
    result: DdlResult
    altered_table: str | None = None
    if isinstance(node, exp.Create):
        created = _create(node, ddl)
        if isinstance(created, Translation):
            return created, catalog
        result = created
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
    elif isinstance(node, exp.Command) and node.name.lower() == "alter" and ADD_IDENTITY.match(text):
        result = add_identity(catalog, text)  # pg_dump's form of an identity column
    elif isinstance(node, exp.Command):  # the statement's kind (two words), not a cut-off text
        kind = " ".join(str(node.expression).split()[:1]).upper()
        raise SqlError("0A000", f"{node.name.upper()} {kind} is not supported".replace("  ", " "))
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
        **state_fields(state),
    )
    if isinstance(node, exp.TruncateTable) and catalog.routines.triggers:  # TRUNCATE triggers (functions_ddl.py)
        translation = truncate_translation(translation, node, catalog)
    return translation, (result.catalog or catalog)


def _create(node: exp.Create, ddl: DdlCompiler) -> DdlResult | Translation:
    create_kind = str(node.args.get("kind") or "").upper()
    if create_kind == "TABLE":
        return ddl.create_table(node)
    if create_kind == "INDEX":
        return ddl.create_index(node)
    if create_kind == "SEQUENCE":
        return ddl.create_sequence(node)
    if create_kind == "VIEW":
        return ddl.create_view(node)
    if create_kind == "DATABASE":
        return Translation(Kind.CREATE_DATABASE, "CREATE DATABASE", name=node.this.name)
    if create_kind == "SCHEMA":
        schema = node.this.db or node.this.name
        if schema == "public" and node.args.get("exists"):
            return Translation(Kind.COMMAND, "CREATE SCHEMA", notices=(f'schema "{schema}" already exists, skipping',))
        raise SqlError("0A000", "CREATE SCHEMA is not supported (only the public schema exists)")
    raise SqlError("0A000", f"CREATE {create_kind or 'statement'} is not supported")


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


def _noop_ddl(stmt: Statement, catalog: Catalog) -> Translation:
    words = tuple(t.text.lower() for t in stmt.tokens[:2])
    if words == ("alter", "table"):
        return owner_to(stmt.tokens, stmt.text, catalog)
    tag = _NOOP_DDL[words]  # type: ignore[index]
    name = stmt.tokens[-1].text.lower().strip('"')
    if name not in ("plpgsql", "pgcrypto", "uuid-ossp", "pg_stat_statements", "citext", "exists"):
        if tag == "CREATE EXTENSION":
            raise SqlError("0A000", f'extension "{name}" is not available')
    return Translation(Kind.NOOP, tag)
