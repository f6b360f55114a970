"""PostgreSQL enum types: CREATE/ALTER/DROP TYPE ... AS ENUM and the enum SQL functions.

An enum type lives in ``__strata_types`` (its OID and array type OID) and ``__strata_enums``
(one row per label with its sort order). Values are stored as the label TEXT. Translations
embed the labels, in sort order, as a JSON array: input validation (``pg_enum_in``) and
ordering (``pg_enum_ord``: the label's position) are SQLite functions over that array. The
labels are part of the catalog fingerprint, so ALTER TYPE invalidates cached translations.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlglot.tokens import Token, TokenType

from compute.sql.api import SqlError
from compute.sql.catalog import catalog as C
from compute.sql.catalog.catalog import Catalog, EnumType, quote_ident, quote_literal
from compute.sql.translate.tokens import Tokens

_STRINGS = (TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.HEREDOC_STRING)
NAMEDATALEN = 63


# ---------------------------------------------------------------------- values


# ---------------------------------------------------------------------- DDL


class _Cursor:
    """Token cursor with the few helpers the TYPE statements need."""

    def __init__(self, tokens: tuple[Token, ...], text: str, catalog: Catalog) -> None:
        self.ts = Tokens(tokens, text)
        self.catalog = catalog

    def name(self, new: bool = False) -> str:
        """A type name as its key (schema.name outside public; translate/schemas.py): where a new
        type goes, or which existing type the search path finds."""
        first = self.ts.next_name()
        schema = None
        if self.ts.accept("."):
            schema, first = first, self.ts.next_name()
        if new:
            return self.catalog.qualify_new(schema, first)
        return self.catalog.qualify(schema, first, "type")

    def string(self) -> str:
        tok = self.ts.next()
        if tok.token_type not in _STRINGS:
            raise SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)
        return tok.text

    def end(self) -> None:
        if not self.ts.at_end():
            self.ts.error()


def _check_label_length(label: str) -> None:
    if len(label.encode()) > NAMEDATALEN:
        raise SqlError("42602", f'invalid enum label "{label}"',
                       detail=f"Labels must be {NAMEDATALEN} bytes or less.")


def _type_exists(catalog: Catalog, name: str) -> bool:
    """Types share a namespace with relations (each table has a row type of its name)."""
    return name in catalog.enums or catalog.user_table(name) is not None or name in catalog.sequences \
        or catalog.index(name) is not None


def _existing(catalog: Catalog, name: str) -> EnumType:
    enum = catalog.enum(name)
    if enum is None:
        raise SqlError("42704", f'type "{name}" does not exist')
    return enum


def create_type(tokens: tuple[Token, ...], text: str, catalog: Catalog) -> tuple[list[str], Catalog]:
    """CREATE TYPE name AS ENUM ('a', ...): other CREATE TYPE forms are refused."""
    cur = _Cursor(tokens, text, catalog)
    cur.ts.expect("create", "type")
    name = cur.name(new=True)
    if not cur.ts.accept("as", "enum"):
        raise SqlError("0A000", "CREATE TYPE is supported only for enum types (AS ENUM)")
    cur.ts.expect("(")
    labels: list[str] = []
    if not cur.ts.accept(")"):
        while True:
            labels.append(cur.string())
            if cur.ts.accept(")"):
                break
            cur.ts.expect(",")
    cur.end()
    if _type_exists(catalog, name):
        raise SqlError("42710", f'type "{name}" already exists')
    for label in labels:
        _check_label_length(label)
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise SqlError("23505", 'duplicate key value violates unique constraint "pg_enum_typid_label_index"')
        seen.add(label)
    # Like PostgreSQL, the array type takes the first OID and the enum the next one. The OIDs are
    # chosen here (not when the steps run) so that later statements of the same query string can
    # already store columns of the new type.
    array_oid = next_type_oid(catalog)
    type_oid = array_oid + 1
    steps = [
        f"INSERT INTO {C.TYPES} (oid, name, schema, kind, array_oid) VALUES ({type_oid}, "
        f"{quote_literal(C.bare_name(name))}, {quote_literal(C.split_key(name)[0])}, 'e', {array_oid})",
    ]
    for i, label in enumerate(labels):
        steps.append(f"INSERT INTO {C.ENUMS} (oid, type_oid, sortorder, label) VALUES "
                     f"({C.next_oid_sql()}, {type_oid}, {i + 1}, {quote_literal(label)})")
    steps.extend(C.BUMP_SCHEMA_VERSION)
    enum = EnumType(type_oid, name, array_oid, tuple(labels), tuple(float(i + 1) for i in range(len(labels))),
                    C.split_key(name)[0])
    return steps, catalog.with_enum(enum)


def next_type_oid(catalog: Catalog) -> int:
    """A type OID above every OID the catalog knows (type OIDs only need to be unique among types)."""
    top = C.FIRST_USER_OID - 1
    for table in catalog.tables.values():
        top = max(top, table.oid, *(i.oid for i in table.indexes))
    for seq in catalog.sequences.values():
        top = max(top, seq.oid)
    for enum in catalog.enums.values():
        top = max(top, enum.oid, enum.array_oid)
    return top + 1


def alter_type(tokens: tuple[Token, ...], text: str, catalog: Catalog) -> tuple[list[str], Catalog, list[str]]:
    """ALTER TYPE name ADD VALUE / RENAME VALUE / RENAME TO; returns (steps, catalog, notices)."""
    cur = _Cursor(tokens, text, catalog)
    cur.ts.expect("alter", "type")
    name = cur.name()
    ts = cur.ts
    if ts.accept("add", "value"):
        if_not_exists = ts.accept("if", "not", "exists")
        label = cur.string()
        where: tuple[str, str] | None = None
        if ts.peek() in ("before", "after"):
            where = (ts.next().text.lower(), cur.string())
        cur.end()
        enum = _existing(catalog, name)
        _check_label_length(label)
        if label in enum.labels:
            if if_not_exists:
                return [], catalog, [f'enum label "{label}" already exists, skipping']
            raise SqlError("42710", f'enum label "{label}" already exists')
        return _add_value(enum, label, where, catalog) + ([],)
    if ts.accept("rename", "value"):
        old = cur.string()
        ts.expect("to")
        new = cur.string()
        cur.end()
        enum = _existing(catalog, name)
        if old not in enum.labels:
            raise SqlError("22023", f'"{old}" is not an existing enum label')
        if new in enum.labels:
            raise SqlError("42710", f'enum label "{new}" already exists')
        _check_label_length(new)
        steps = [f"UPDATE {C.ENUMS} SET label = {quote_literal(new)} WHERE type_oid = {enum.oid} "
                 f"AND label = {quote_literal(old)}"]
        for table in catalog.tables.values():  # stored values are labels: they follow the rename
            if table.kind != "r":
                continue
            for col in table.columns:
                ref = quote_ident(col.name)
                if col.type_oid == enum.oid:
                    steps.append(f"UPDATE {quote_ident(table.name)} SET {ref} = {quote_literal(new)} "
                                 f"WHERE {ref} = {quote_literal(old)}")
                elif col.type_oid == enum.array_oid:  # array storage is a JSON array of labels
                    steps.append(f"UPDATE {quote_ident(table.name)} SET {ref} = (SELECT json_group_array("
                                 f"CASE WHEN value = {quote_literal(old)} THEN {quote_literal(new)} ELSE value END) "
                                 f"FROM (SELECT value FROM json_each({ref}) ORDER BY key)) "
                                 f"WHERE {ref} IS NOT NULL")
        catalog, more = _rename_in_defaults(catalog, enum, old, new)
        steps.extend(more)
        steps.extend(C.BUMP_SCHEMA_VERSION)
        labels = tuple(new if lab == old else lab for lab in enum.labels)
        return steps, catalog.with_enum(replace(enum, labels=labels)), []
    if ts.accept("rename", "to"):
        new_name = C.relation_key(C.split_key(name)[0], cur.ts.next_name())  # stays in its schema
        cur.end()
        enum = _existing(catalog, name)
        if _type_exists(catalog, new_name):
            raise SqlError("42710", f'type "{new_name}" already exists')
        steps = [f"UPDATE {C.TYPES} SET name = {quote_literal(C.bare_name(new_name))} WHERE oid = {enum.oid}",
                 *C.BUMP_SCHEMA_VERSION]
        return steps, catalog.without_enum(name).with_enum(replace(enum, name=new_name)), []
    if ts.accept("owner", "to"):
        ts.next()
        cur.end()
        _existing(catalog, name)
        return [], catalog, []
    raise SqlError("0A000", "this ALTER TYPE form is not supported")


def _rename_in_defaults(catalog: Catalog, enum: EnumType, old: str, new: str) -> tuple[Catalog, list[str]]:
    """Column defaults that are the renamed label follow it (PostgreSQL stores them by OID)."""
    steps: list[str] = []
    for table in list(catalog.tables.values()):
        columns = list(table.columns)
        changed = False
        for i, col in enumerate(columns):
            if col.type_oid != enum.oid or col.default_sql != quote_literal(old):
                continue
            default_expr = quote_literal(new) + (col.default_expr or "")[len(quote_literal(old)):] \
                if (col.default_expr or "").startswith(quote_literal(old)) else col.default_expr
            columns[i] = replace(col, default_sql=quote_literal(new), default_expr=default_expr)
            changed = True
            steps.append(f"UPDATE {C.COLUMNS} SET default_sql = {quote_literal(quote_literal(new))}, "
                         f"default_expr = {C._sql_value(default_expr)} WHERE table_oid = {table.oid} "
                         f"AND attnum = {col.attnum}")
        if changed:
            catalog = catalog.with_table(replace(table, columns=tuple(columns)))
    return catalog, steps


def _add_value(enum: EnumType, label: str, where: tuple[str, str] | None,
               catalog: Catalog) -> tuple[list[str], Catalog]:
    orders = list(enum.sortorders)
    if where is None:
        position = len(orders)
        order = (orders[-1] + 1) if orders else 1.0
    else:
        side, neighbour = where
        if neighbour not in enum.labels:
            raise SqlError("22023", f'"{neighbour}" is not an existing enum label')
        index = enum.labels.index(neighbour)
        if side == "before":
            position = index
            order = (orders[index - 1] + orders[index]) / 2 if index > 0 else orders[index] - 1
        else:
            position = index + 1
            order = (orders[index] + orders[index + 1]) / 2 if index + 1 < len(orders) else orders[index] + 1
    steps = [f"INSERT INTO {C.ENUMS} (oid, type_oid, sortorder, label) VALUES ({C.next_oid_sql()}, "
             f"{enum.oid}, {order!r}, {quote_literal(label)})", *C.BUMP_SCHEMA_VERSION]
    labels = (*enum.labels[:position], label, *enum.labels[position:])
    orders.insert(position, order)
    return steps, catalog.with_enum(replace(enum, labels=labels, sortorders=tuple(orders)))


def dependent_columns(catalog: Catalog, enum: EnumType) -> list[tuple[str, str, bool]]:
    """(table, column, is_array) of every column whose type is the enum or its array."""
    out = []
    for table in sorted(catalog.tables.values(), key=lambda t: t.oid):
        for col in table.columns:
            if col.type_oid in (enum.oid, enum.array_oid):
                out.append((table.name, col.name, col.type_oid == enum.array_oid))
    return out


def drop_type_sql(enum: EnumType) -> list[str]:
    return [
        f"DELETE FROM {C.ENUMS} WHERE type_oid = {enum.oid}",
        f"DELETE FROM {C.TYPES} WHERE oid = {enum.oid}",
        f"DELETE FROM {C.COMMENTS} WHERE classoid = 1247 AND objoid = {enum.oid}",
    ]


def drop_type(tokens: tuple[Token, ...], text: str, catalog: Catalog,
              drop_column: Any) -> tuple[list[str], Catalog, list[str]]:
    """DROP TYPE [IF EXISTS] name [, ...] [CASCADE | RESTRICT].

    ``drop_column(catalog, table, column) -> (catalog, steps)`` drops a dependent column (CASCADE).
    """
    cur = _Cursor(tokens, text, catalog)
    ts = cur.ts
    ts.expect("drop", "type")
    if_exists = ts.accept("if", "exists")
    names = [cur.name()]
    while ts.accept(","):
        names.append(cur.name())
    cascade = ts.accept("cascade")
    if not cascade:
        ts.accept("restrict")
    cur.end()
    steps: list[str] = []
    notices: list[str] = []
    for name in names:
        enum = catalog.enum(name)
        if enum is None:
            if if_exists:
                notices.append(f'type "{name}" does not exist, skipping')
                continue
            if catalog.user_table(name) is not None:
                raise SqlError("2BP01", f"cannot drop type {name} because table {name} requires it",
                               hint=f"You can drop table {name} instead.")
            raise SqlError("42704", f'type "{name}" does not exist')
        users = dependent_columns(catalog, enum)
        if users and not cascade:
            detail = "\n".join(f"column {col} of table {table} depends on type {name}{'[]' if arr else ''}"
                               for table, col, arr in sorted(users, key=lambda u: (u[0], u[1])))
            raise SqlError("2BP01", f"cannot drop type {name} because other objects depend on it",
                           detail=detail, hint="Use DROP ... CASCADE to drop the dependent objects too.")
        for table_name, col, _arr in users:
            notices.append(f"drop cascades to column {col} of table {table_name}")
            table = catalog.user_table(table_name)
            assert table is not None
            catalog, more = drop_column(catalog, table, col)
            steps.extend(more)
        steps.extend(drop_type_sql(enum))
        catalog = catalog.without_enum(name)
    if steps:
        steps.extend(C.BUMP_SCHEMA_VERSION)
    return steps, catalog, notices
