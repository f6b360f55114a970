"""Schemas: CREATE / DROP / ALTER SCHEMA, and name resolution against the search path.

A schema is a row of ``__strata_schemas`` (replicated and transactional like every catalog
table); ``public`` is built in. An object in another schema is stored under the key
``schema.name`` (the Catalog's key and the SQLite name: one quoted identifier with a dot), so
objects of ``public`` keep their bare names and databases made before schemas keep working.

``resolve_names`` rewrites a parsed statement's relation references to those keys before the
compilers see it, following the Catalog's search path (``Catalog.qualify``): the compilers
then deal in keys only. See docs/sql-translation.md, "Schemas and search_path".
"""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp
from sqlglot.tokens import Token

from compute.sql.api import Kind, SqlError, Translation
from compute.sql.catalog import catalog as C
from compute.sql.catalog.catalog import Catalog, Schema, quote_literal, relation_key
from compute.sql.catalog.objects import ROLES
from compute.sql.procedural.catalog import FUNCTIONS
from compute.sql.translate.ddl import DdlCompiler
from compute.sql.translate.schema_move import rename_schema
from compute.sql.translate.scope import State, ident
from compute.sql.translate.tokens import Tokens, ident_value, is_quoted

_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")


# ---------------------------------------------------------------------- name resolution

def resolve_names(node: exp.Expression, catalog: Catalog) -> None:
    """Rewrite every relation reference of a parsed statement to its key (in place).

    A CREATE's target goes to its schema (or the first existing schema of the path); CREATE
    INDEX's name to its table's schema; everything else to the first schema of the path holding
    it. Unqualified names of CTEs and system schema references are left alone."""
    if catalog.search_path is None and not catalog.schemas and not _has_qualified(node) \
            and not (isinstance(node, exp.Create) and is_temporary(node)):
        return  # the default path with only public: every name is its own key
    ctes = {cte.alias for cte in node.find_all(exp.CTE)}
    if isinstance(node, exp.Create) and node.expression is not None:
        node.meta["definition"] = _definition(node.expression.copy(), catalog, ctes)
    targets: set[int] = set()
    if isinstance(node, exp.Create):
        _resolve_create(node, catalog, targets)
    for rename in node.find_all(exp.AlterRename):  # RENAME TO: a new name in the table's schema
        targets.update(id(t) for t in rename.find_all(exp.Table))
    kind = "rel"
    # a query names a relation of a missing schema: 42P01 (PostgreSQL), DDL: 3F000
    lenient = isinstance(node, (exp.Select, exp.SetOperation, exp.Insert, exp.Update, exp.Delete, exp.Values))
    if isinstance(node, exp.Drop):
        kind = {"SEQUENCE": "seq", "INDEX": "index"}.get(str(node.args.get("kind") or "").upper(), "rel")
    for table in list(node.find_all(exp.Table)):
        if id(table) in targets or not isinstance(table.this, exp.Identifier):
            continue
        schema = table.db
        if schema in _SYSTEM_SCHEMAS:
            continue
        if not schema and table.name in ctes:
            continue
        if schema and schema.startswith(C.TEMP_SCHEMA_PREFIX) and schema not in (catalog.temp_schema(),
                                                                                   catalog.temp_name):
            raise SqlError("0A000", "cannot access temporary tables of other sessions")
        if isinstance(node, exp.Drop) and node.args.get("exists") and schema and not catalog.schema_exists(schema) \
                and schema != "pg_temp":
            key = relation_key(schema, table.name)  # missing: IF EXISTS skips it
        else:
            key = catalog.qualify(schema or None, table.name, kind, missing_schema_ok=lenient)
        _set_key(table, key)
    for column in node.find_all(exp.Column):
        if column.args.get("db") is not None:  # schema.table.column: the table part is the name
            column.set("db", None)


def _definition(query: exp.Expression, catalog: Catalog, ctes: set[str]) -> str:
    """A view's stored text: as written, with relations outside public qualified by their schema
    (so the definition keeps meaning the same relations whatever the search path later is)."""
    for table in list(query.find_all(exp.Table)):
        if table.db or not isinstance(table.this, exp.Identifier) or table.name in ctes:
            continue
        schema, name = C.split_key(catalog.qualify(None, table.name))
        if schema != "public":
            table.set("this", exp.to_identifier(name))
            table.set("db", exp.to_identifier(schema))
    return query.sql(dialect="postgres")


def _has_qualified(node: exp.Expression) -> bool:
    return any(t.args.get("db") is not None for t in node.find_all(exp.Table))


def is_temporary(node: exp.Create) -> bool:
    props = node.args.get("properties")
    return props is not None and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions)


def _resolve_create(node: exp.Create, catalog: Catalog, targets: set[int]) -> None:
    kind = str(node.args.get("kind") or "").upper()
    if kind in ("TABLE", "VIEW", "SEQUENCE"):
        target = node.this.this if isinstance(node.this, exp.Schema) else node.this
        if isinstance(target, exp.Table):
            schema = target.db or None
            if is_temporary(node) or schema == "pg_temp":
                key = catalog.temp_key(schema, target.name)  # the session's pg_temp_<n>
            else:
                key = catalog.qualify_new(schema, target.name)
            _set_key(target, key)
            targets.add(id(target))
    elif kind == "INDEX" and isinstance(node.this, exp.Index):
        index = node.this
        table = index.args.get("table")
        if isinstance(table, exp.Table):
            key = catalog.qualify(table.db or None, table.name)
            _set_key(table, key)
            targets.add(id(table))
            name = index.args.get("this")
            if isinstance(name, exp.Identifier) and name.name:
                if "." in name.name:
                    raise SqlError("0A000", f'names containing a dot are not supported: "{name.name}"')
                schema = C.split_key(key)[0]
                index.set("this", ident(relation_key(schema, name.name)))


def _set_key(table: exp.Table, key: str) -> None:
    table.set("this", ident(key))
    table.set("db", None)


ON_COMMIT_ACTIONS = {("preserve", "rows"): "preserve", ("delete", "rows"): "delete", ("drop",): "drop"}


def on_commit_cut(tokens: tuple[Token, ...], text: str) -> tuple[tuple[int, int, str], str] | None:
    """``ON COMMIT {PRESERVE ROWS | DELETE ROWS | DROP}`` of CREATE TABLE (sqlglot does not parse
    it): the text span to cut and the action, which the CREATE TABLE compiler stores."""
    words = [t.text.lower() for t in tokens]
    for i in range(len(words) - 2):
        if words[i] == "on" and words[i + 1] == "commit" and not is_quoted(tokens[i], text):
            for spelled, action in ON_COMMIT_ACTIONS.items():
                if tuple(words[i + 2:i + 2 + len(spelled)]) == spelled:
                    last = tokens[i + 1 + len(spelled)]
                    return (tokens[i].start, last.end + 1, ""), action
            raise SqlError("42601", f'syntax error at or near "{tokens[i + 2].text}"',
                           position=tokens[i + 2].start + 1)
    return None


# ---------------------------------------------------------------------- statements

def schema_statement(first: str, tokens: tuple[Token, ...], text: str,
                     state: State) -> tuple[Translation, Catalog]:
    """CREATE SCHEMA, DROP SCHEMA, ALTER SCHEMA."""
    ts = Tokens(tokens, text)
    ts.next()
    ts.expect("schema")
    if first == "create":
        return _create(ts, state.catalog)
    if first == "alter":
        return _alter(ts, state.catalog)
    return _drop(ts, state)


def _name(ts: Tokens) -> str:
    tok = ts.next()
    if tok.text.startswith("'") or not (tok.text[:1].isalpha() or tok.text[:1] == "_" or is_quoted(tok, ts.text)):
        raise SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)
    return ident_value(tok, ts.text)


def _role(ts: Tokens) -> str:
    tok = ts.token()
    name = _name(ts)
    if tok is not None and not is_quoted(tok, ts.text) and name in ("current_user", "session_user", "current_role"):
        return "\x00"  # the session user, filled in at execution (pg_session_user())
    return name


def _check_new_name(name: str) -> None:
    if name.startswith("pg_"):
        raise SqlError("42939", f'unacceptable schema name "{name}"',
                       detail='The prefix "pg_" is reserved for system schemas.')
    if "." in name:
        raise SqlError("0A000", f'schema names containing a dot are not supported: "{name}"')


def _create(ts: Tokens, catalog: Catalog) -> tuple[Translation, Catalog]:
    """CREATE SCHEMA [IF NOT EXISTS] name [AUTHORIZATION role] | CREATE SCHEMA AUTHORIZATION role."""
    if_not_exists = ts.accept("if", "not", "exists")
    owner: str | None = None
    if ts.accept("authorization"):
        owner = _role(ts)
        name = owner if owner != "\x00" else ""
        if not name:
            raise SqlError("0A000", "CREATE SCHEMA AUTHORIZATION CURRENT_USER without a name is not supported")
    else:
        name = _name(ts)
        if ts.accept("authorization"):
            owner = _role(ts)
    if not ts.at_end():
        raise SqlError("0A000", "CREATE SCHEMA with schema elements is not supported: create them one by one")
    if catalog.schema_exists(name) or name in _SYSTEM_SCHEMAS or name == "pg_toast":
        if if_not_exists:
            return Translation(Kind.COMMAND, "CREATE SCHEMA",
                               notices=(f'schema "{name}" already exists, skipping',)), catalog
        raise SqlError("42P06", f'schema "{name}" already exists')
    _check_new_name(name)
    owner_sql = "pg_session_user()" if owner in (None, "\x00") else quote_literal(str(owner))
    steps = []
    if owner not in (None, "\x00"):
        from_roles = (f"SELECT pg_raise('42704', {quote_literal(f'role {chr(34)}{owner}{chr(34)} does not exist')}) "
                      f"WHERE {owner_sql} <> pg_session_user() AND NOT EXISTS "
                      f"(SELECT 1 FROM main.{ROLES} WHERE name = {owner_sql})")
        steps.append(from_roles)
    steps.append(f"INSERT INTO {C.SCHEMAS} (name, oid, owner) VALUES "
                 f"({quote_literal(name)}, {C.next_oid_sql()}, {owner_sql})")
    steps.extend(C.BUMP_SCHEMA_VERSION)
    new = catalog.with_schema(Schema(name, 0, str(owner or "")))
    return Translation(Kind.COMMAND, "CREATE SCHEMA", tuple(steps), is_write=True, is_ddl=True), new


def _alter(ts: Tokens, catalog: Catalog) -> tuple[Translation, Catalog]:
    """ALTER SCHEMA name RENAME TO new | OWNER TO role."""
    name = _name(ts)
    if ts.accept("owner", "to"):
        _role(ts)
        if not catalog.schema_exists(name):
            raise SqlError("3F000", f'schema "{name}" does not exist')
        return Translation(Kind.NOOP, "ALTER SCHEMA"), catalog
    ts.expect("rename", "to")
    new = _name(ts)
    if not ts.at_end():
        raise ts.error()
    if name not in catalog.schemas:
        if name == "public" or name in _SYSTEM_SCHEMAS:
            raise SqlError("0A000", f'renaming schema "{name}" is not supported')
        raise SqlError("3F000", f'schema "{name}" does not exist')
    if catalog.schema_exists(new) or new in _SYSTEM_SCHEMAS:
        raise SqlError("42P06", f'schema "{new}" already exists')
    _check_new_name(new)
    if name.startswith(C.TEMP_SCHEMA_PREFIX):
        raise SqlError("0A000", "renaming a temporary schema is not supported")
    steps, derived = rename_schema(catalog, name, new)  # with everything it holds (schema_move.py)
    return Translation(Kind.COMMAND, "ALTER SCHEMA", tuple(steps), is_write=True, is_ddl=True), derived


def _in_schema(key: str, schema: str) -> bool:
    return key.startswith(schema + ".")


def _drop(ts: Tokens, state: State) -> tuple[Translation, Catalog]:
    """DROP SCHEMA [IF EXISTS] name [, ...] [CASCADE | RESTRICT]."""
    catalog = state.catalog
    if_exists = ts.accept("if", "exists")
    names = [_name(ts)]
    while ts.accept(","):
        names.append(_name(ts))
    cascade = ts.accept("cascade")
    if not cascade:
        ts.accept("restrict")
    if not ts.at_end():
        raise ts.error()
    notices: list[str] = []
    steps: list[str] = []
    present = []
    for name in names:
        if name not in catalog.schemas:
            if name == "public" or name in _SYSTEM_SCHEMAS:
                raise SqlError("0A000", f'dropping schema "{name}" is not supported')
            if if_exists:
                notices.append(f'schema "{name}" does not exist, skipping')
                continue
            raise SqlError("3F000", f'schema "{name}" does not exist')
        present.append(name)
    contents = [(name, _contents(catalog, name)) for name in present]
    described = [d for _name_, objs in contents for d, _k in objs]
    if described and not cascade:
        first = next(name for name, objs in contents if objs)
        raise SqlError("2BP01", f"cannot drop schema {first} because other objects depend on it",
                       detail="\n".join(f"{d} depends on schema {first}" for name, objs in contents
                                        if name == first for d, _k in objs),
                       hint="Use DROP ... CASCADE to drop the dependent objects too.")
    if len(described) == 1:
        notices.append(f"drop cascades to {described[0]}")
    elif described:
        notices.append(f"drop cascades to {len(described)} other objects")
    for name, objs in contents:
        drop_steps, catalog = _drop_contents(catalog, state, objs)
        steps.extend(drop_steps)
        steps.append(f"DELETE FROM {C.SCHEMAS} WHERE name = {quote_literal(name)}")
        catalog = catalog.without_schema(name)
    if steps:
        steps.extend(C.BUMP_SCHEMA_VERSION)
    return Translation(Kind.COMMAND, "DROP SCHEMA", tuple(steps), is_write=bool(steps), is_ddl=bool(steps),
                       notices=tuple(notices)), catalog


def _drop_function(catalog: Catalog, oid: int, steps: list[str]) -> Catalog:
    """DROP SCHEMA CASCADE of a function: its triggers go with their tables, which the same
    statement drops; a trigger on a table of another schema would have to go too (refused)."""
    fn = next(f for f in catalog.routines.functions if f.oid == oid)
    schema = C.split_key(fn.name)[0]
    for trg in catalog.routines.triggers:
        table = catalog.user_table(trg.table)
        if trg.function == fn.name and table is not None and not _in_schema(table.name, schema):
            raise SqlError("0A000", f"DROP SCHEMA CASCADE of function {fn.name} used by trigger {trg.name} on "
                                    f"table {trg.table} of another schema is not supported: drop the trigger first")
    steps.append(f"DELETE FROM {FUNCTIONS} WHERE oid = {fn.oid}")
    return replace(catalog, routines=catalog.routines.without_function(fn))


def _contents(catalog: Catalog, schema: str) -> list[tuple[str, str]]:
    """(PostgreSQL's description, key) of what a schema holds, in creation (OID) order; serial
    sequences and indexes go with their tables and are not listed."""
    found: list[tuple[int, str, str]] = []

    def shown(key: str) -> str:
        return key if schema not in catalog.path() else C.bare_name(key)

    for table in catalog.tables.values():
        if _in_schema(table.name, schema):
            noun = "view" if table.kind == "v" else "table"
            found.append((table.oid, f"{noun} {shown(table.name)}", table.name))
    for key, seq in catalog.sequences.items():
        if _in_schema(key, schema) and seq.owner_table is None:
            found.append((seq.oid, f"sequence {shown(key)}", key))
    for key, enum in catalog.enums.items():
        if _in_schema(key, schema):
            found.append((enum.oid, f"type {shown(key)}", key))
    for fn in catalog.routines.functions:
        if C.split_key(fn.name)[0] == schema:
            args = ", ".join(catalog.format_type(t) for t in fn.arg_types)
            found.append((fn.oid, f"function {shown(fn.name)}({args})", f"{fn.oid}"))
    found.sort()
    return [(d, k) for _oid, d, k in found]


def _drop_contents(catalog: Catalog, state: State, objs: list[tuple[str, str]]) -> tuple[list[str], Catalog]:
    steps: list[str] = []
    kinds = {key: desc.split(" ", 1)[0] for desc, key in objs}
    views = [k for k, kind in kinds.items() if kind == "view"]
    tables = [k for k, kind in kinds.items() if kind == "table"]
    for group, noun in ((views, "VIEW"), (tables, "TABLE")):
        if group:
            ddl = DdlCompiler(State(catalog))
            result = ddl.drop_relations(group, noun, False, True)
            steps.extend(result.steps)
            catalog = result.catalog or catalog
    seqs = [k for k, kind in kinds.items() if kind == "sequence"]
    if seqs:
        result = DdlCompiler(State(catalog)).drop_sequences(seqs, False)
        steps.extend(result.steps)
        catalog = result.catalog or catalog
    for key, kind in kinds.items():
        if kind == "function":
            catalog = _drop_function(catalog, int(key), steps)
        elif kind == "type":
            enum = catalog.enums[key]
            if any(c.type_oid in (enum.oid, enum.array_oid) for t in catalog.tables.values() for c in t.columns):
                raise SqlError("0A000", f"DROP SCHEMA CASCADE of type {key} used by a table of another schema "
                                        "is not supported")
            steps.append(f"DELETE FROM {C.ENUMS} WHERE type_oid = {enum.oid}")
            steps.append(f"DELETE FROM {C.TYPES} WHERE oid = {enum.oid}")
            catalog = catalog.without_enum(key)
    return steps, catalog

