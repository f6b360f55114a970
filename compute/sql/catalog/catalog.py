"""The PostgreSQL catalog kept inside the SQLite database.

SQLite only knows storage classes, so the PostgreSQL type of every column, the PostgreSQL
names of indexes and constraints, defaults and sequences live in ``__strata_*`` tables in
the same database. They are ordinary tables, so they are replicated with the data and every
DDL translation updates them in the same transaction as the DDL itself.

``Catalog`` is an immutable snapshot of those tables. Translation reads it; a DDL statement
inside a multi-statement query string derives a new snapshot (``with_table`` etc.) so the
statements after it see its effect before it has run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from compute import pgtypes
from compute.sql.catalog.objects import (
    COLUMNS,
    COMMENTS,
    COMMENTS_DDL,
    CONSTRAINTS,
    ENUMS,
    FIRST_USER_OID,
    INDEXES,
    PG_CATALOG_NAMESPACE_OID,
    PUBLIC_NAMESPACE_OID,
    SEQUENCES,
    TABLES,
    TYPES,
    Column,
    Constraint,
    EnumType,
    Index,
    Sequence,
    Table,
    bootstrap_statements,
    quote_ident,
    quote_literal,
    type_ident,
)
from compute.sql.catalog.system import SYSTEM_RELATIONS
from compute.sql.procedural.catalog import EMPTY as NO_ROUTINES
from compute.sql.procedural.catalog import Routines, load_routines

# The records are defined in objects.py; importers use them from here with Catalog.
__all__ = [
    "FIRST_USER_OID",
    "PUBLIC_NAMESPACE_OID",
    "PG_CATALOG_NAMESPACE_OID",
    "TABLES",
    "COLUMNS",
    "INDEXES",
    "SEQUENCES",
    "CONSTRAINTS",
    "COMMENTS",
    "TYPES",
    "ENUMS",
    "COMMENTS_DDL",
    "bootstrap_statements",
    "quote_ident",
    "type_ident",
    "quote_literal",
    "Column",
    "Index",
    "Constraint",
    "Sequence",
    "EnumType",
    "Table",
    "SYSTEM_RELATIONS",
    "Catalog",
    "current_version",
]


@dataclass(frozen=True)
class Catalog:
    """An immutable snapshot of the PostgreSQL catalog of one database."""

    version: int = 0
    tables: Mapping[str, Table] = field(default_factory=dict)
    sequences: Mapping[str, Sequence] = field(default_factory=dict)
    fingerprint: str = ""
    enums: Mapping[str, EnumType] = field(default_factory=dict)
    routines: Routines = NO_ROUTINES  # user functions and triggers (compute/sql/procedural/catalog.py)

    def __post_init__(self) -> None:  # user functions/triggers are part of the fingerprint
        digest = self.routines.digest()
        if digest and not self.fingerprint.endswith(digest):
            object.__setattr__(self, "fingerprint", self.fingerprint + digest)

    # ------------------------------------------------------------------ lookup
    def table(self, name: str) -> Table | None:
        """A user relation (table or view) by name, or a pg_catalog system relation."""
        found = self.tables.get(name)
        if found is not None:
            return found
        return SYSTEM_RELATIONS.get(name)

    def user_table(self, name: str) -> Table | None:
        return self.tables.get(name)

    def index(self, name: str) -> Index | None:
        for table in self.tables.values():
            for index in table.indexes:
                if index.name == name:
                    return index
        return None

    def table_by_oid(self, oid: int) -> Table | None:
        for table in self.tables.values():
            if table.oid == oid:
                return table
        return None

    def enum(self, name: str) -> EnumType | None:
        return self.enums.get(name)

    def enum_by_oid(self, oid: int) -> EnumType | None:
        """The enum type with this OID (None for built-in types: their OIDs are below 16384)."""
        if oid < FIRST_USER_OID:
            return None
        for enum in self.enums.values():
            if enum.oid == oid:
                return enum
        return None

    def enum_of_array(self, oid: int) -> EnumType | None:
        if oid < FIRST_USER_OID:
            return None
        for enum in self.enums.values():
            if enum.array_oid == oid:
                return enum
        return None

    def format_type(self, oid: int, typmod: int = -1) -> str:
        """format_type() that also knows this database's enum types (and their arrays)."""
        enum = self.enum_by_oid(oid)
        if enum is not None:
            return type_ident(enum.name)
        enum = self.enum_of_array(oid)
        if enum is not None:
            return type_ident(enum.name) + "[]"
        return pgtypes.format_type(oid, typmod)

    def relation_exists(self, name: str) -> bool:
        return name in self.tables or name in self.sequences or self.index(name) is not None

    # ------------------------------------------------------------------ derivation
    def with_table(self, table: Table) -> Catalog:
        tables = dict(self.tables)
        tables[table.name] = table
        return self._derive(tables=tables)

    def without_table(self, name: str) -> Catalog:
        tables = dict(self.tables)
        tables.pop(name, None)
        sequences = {k: v for k, v in self.sequences.items() if v.owner_table != self.tables[name].oid} if name in self.tables else dict(self.sequences)
        return self._derive(tables=tables, sequences=sequences)

    def with_sequence(self, seq: Sequence) -> Catalog:
        sequences = dict(self.sequences)
        sequences[seq.name] = seq
        return self._derive(sequences=sequences)

    def without_sequence(self, name: str) -> Catalog:
        sequences = dict(self.sequences)
        sequences.pop(name, None)
        return self._derive(sequences=sequences)

    def with_enum(self, enum: EnumType) -> Catalog:
        enums = {k: v for k, v in self.enums.items() if v.oid != enum.oid}
        enums[enum.name] = enum
        return self._derive(enums=enums)

    def without_enum(self, name: str) -> Catalog:
        enums = dict(self.enums)
        enums.pop(name, None)
        return self._derive(enums=enums)

    def _derive(self, **changes: Any) -> Catalog:
        derived = replace(self, **changes)
        return replace(derived, fingerprint=_fingerprint(derived.tables, derived.sequences, derived.enums))

    # ------------------------------------------------------------------ loading
    @classmethod
    def empty(cls) -> Catalog:
        return cls(version=0, tables={}, sequences={}, fingerprint=_fingerprint({}, {}))

    @classmethod
    def from_tables(cls, tables: Iterable[Table], version: int = 0) -> Catalog:
        by_name = {t.name: t for t in tables}
        return cls(version=version, tables=by_name, sequences={}, fingerprint=_fingerprint(by_name, {}))

    @classmethod
    def load(cls, conn: Any) -> Catalog:
        """Read the catalog through an apsw connection (any snapshot the caller holds)."""
        version = int(conn.execute("PRAGMA schema_version").fetchall()[0][0])
        present = {
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE '\\_\\_strata\\_%' ESCAPE '\\'"
            )
        }
        if TABLES not in present:
            return replace(cls.empty(), version=version)
        columns: dict[int, list[Column]] = {}
        for table_oid, attnum, name, type_oid, typmod, not_null, dexpr, dsql, identity in conn.execute(
            f"SELECT table_oid, attnum, name, type_oid, typmod, not_null, default_expr, default_sql, identity "
            f"FROM {COLUMNS} ORDER BY table_oid, attnum"
        ):
            columns.setdefault(table_oid, []).append(
                Column(name, attnum, type_oid, typmod, bool(not_null), dexpr, dsql, identity)
            )
        rels: dict[int, tuple[str, str, str, str | None, str | None]] = {}
        for oid, name, schema, kind, options, definition in conn.execute(
            f"SELECT oid, name, schema, kind, options, definition FROM {TABLES}"
        ):
            rels[oid] = (name, schema, kind, options, definition)
        indexes: dict[int, list[Index]] = {}
        if INDEXES in present:
            for oid, table_oid, cols, unique, primary, sqlite_name in conn.execute(
                f"SELECT oid, table_oid, columns, is_unique, is_primary, sqlite_name FROM {INDEXES} ORDER BY oid"
            ):
                rel = rels.get(oid)
                indexes.setdefault(table_oid, []).append(
                    Index(oid, rel[0] if rel else str(oid), table_oid, tuple(json.loads(cols)),
                          bool(unique), bool(primary), sqlite_name)
                )
        constraints: dict[int, list[Constraint]] = {}
        if CONSTRAINTS in present:
            for name, table_oid, ctype, cols, index_oid, definition, ref_table, ref_cols in conn.execute(
                f"SELECT name, table_oid, type, columns, index_oid, definition, ref_table, ref_columns "
                f"FROM {CONSTRAINTS} ORDER BY rowid"
            ):
                constraints.setdefault(table_oid, []).append(
                    Constraint(name, table_oid, ctype, tuple(json.loads(cols)), index_oid, definition,
                               ref_table, tuple(json.loads(ref_cols)) if ref_cols else ())
                )
        sequences: dict[str, Sequence] = {}
        if SEQUENCES in present:
            for oid, type_oid, start, inc, lo, hi, cycle, owner_table, owner_column in conn.execute(
                f"SELECT oid, type_oid, start_value, increment, min_value, max_value, cycle, owner_table, "
                f"owner_column FROM {SEQUENCES}"
            ):
                rel = rels.get(oid)
                if rel is None:
                    continue
                sequences[rel[0]] = Sequence(oid, rel[0], type_oid, start, inc, lo, hi, bool(cycle),
                                             owner_table, owner_column)
        tables: dict[str, Table] = {}
        for oid, (name, schema, kind, options, definition) in rels.items():
            if kind not in ("r", "v"):
                continue
            tables[name] = Table(
                oid=oid,
                name=name,
                columns=tuple(columns.get(oid, ())),
                schema=schema,
                kind=kind,
                options=tuple(json.loads(options)) if options else (),
                definition=definition,
                indexes=tuple(indexes.get(oid, ())),
                constraints=tuple(constraints.get(oid, ())),
            )
        enums: dict[str, EnumType] = {}
        if TYPES in present and ENUMS in present:
            labels: dict[int, list[tuple[float, str]]] = {}
            for type_oid, sortorder, label in conn.execute(
                f"SELECT type_oid, sortorder, label FROM {ENUMS} ORDER BY type_oid, sortorder"
            ):
                labels.setdefault(type_oid, []).append((sortorder, label))
            for oid, name, schema, array_oid in conn.execute(
                f"SELECT oid, name, schema, array_oid FROM {TYPES} WHERE kind = 'e'"
            ):
                rows = labels.get(oid, [])
                enums[name] = EnumType(oid, name, array_oid, tuple(r[1] for r in rows),
                                       tuple(float(r[0]) for r in rows), schema)
        return cls(routines=load_routines(conn, present), version=version, tables=tables, sequences=sequences,
                   fingerprint=_fingerprint(tables, sequences, enums), enums=enums)


def current_version(conn: Any) -> int:
    """PRAGMA schema_version: cheap check whether a cached Catalog is still current."""
    return int(conn.execute("PRAGMA schema_version").fetchall()[0][0])


def _fingerprint(tables: Mapping[str, Table], sequences: Mapping[str, Sequence],
                 enums: Mapping[str, EnumType] | None = None) -> str:
    """A digest of the catalog content: translations are cached per (sql, fingerprint).

    Enum types are part of it: translations embed their labels (validation, ordering)."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(tables):
        digest.update(repr(tables[name]).encode())
    for name in sorted(sequences):
        digest.update(repr(sequences[name]).encode())
    for name in sorted(enums or {}):
        digest.update(repr((enums or {})[name]).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------- maintenance SQL


def next_oid_sql() -> str:
    """The next free OID: relations, types (and their array types) and enum labels share one counter."""
    return (f"(SELECT max(m) + 1 FROM (SELECT coalesce(max(oid), {FIRST_USER_OID - 1}) AS m FROM {TABLES} "
            f"UNION ALL SELECT max(array_oid) FROM {TYPES} UNION ALL SELECT max(oid) FROM {ENUMS}))")


def oid_of_sql(name: str, schema: str = "public") -> str:
    return f"(SELECT oid FROM {TABLES} WHERE schema = {quote_literal(schema)} AND name = {quote_literal(name)})"


def _sql_value(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return quote_literal(str(value))


def insert_relation_sql(name: str, kind: str, options: Iterable[str] = (), definition: str | None = None) -> str:
    opts = list(options)
    return (
        f"INSERT INTO {TABLES} (oid, name, schema, kind, options, definition) VALUES "
        f"({next_oid_sql()}, {quote_literal(name)}, 'public', {quote_literal(kind)}, "
        f"{_sql_value(json.dumps(opts) if opts else None)}, {_sql_value(definition)})"
    )


def insert_columns_sql(table: str, columns: Iterable[Column]) -> str | None:
    rows = [
        f"({oid_of_sql(table)}, {c.attnum}, {quote_literal(c.name)}, {c.type_oid}, {c.typmod}, "
        f"{_sql_value(c.not_null)}, {_sql_value(c.default_expr)}, {_sql_value(c.default_sql)}, "
        f"{_sql_value(c.identity)})"
        for c in columns
    ]
    if not rows:
        return None
    return (
        f"INSERT INTO {COLUMNS} (table_oid, attnum, name, type_oid, typmod, not_null, default_expr, "
        f"default_sql, identity) VALUES " + ", ".join(rows)
    )


def insert_index_sql(index_name: str, table: str, columns: Iterable[str], unique: bool, primary: bool,
                     sqlite_name: str | None) -> list[str]:
    return [
        insert_relation_sql(index_name, "i"),
        f"INSERT INTO {INDEXES} (oid, table_oid, columns, is_unique, is_primary, sqlite_name) VALUES "
        f"({oid_of_sql(index_name)}, {oid_of_sql(table)}, {quote_literal(json.dumps(list(columns)))}, "
        f"{_sql_value(unique)}, {_sql_value(primary)}, {_sql_value(sqlite_name)})",
    ]


def insert_constraint_sql(con: Constraint, table: str, index_name: str | None = None,
                          ref_table: str | None = None) -> str:
    return (
        f"INSERT INTO {CONSTRAINTS} (name, table_oid, type, columns, index_oid, definition, ref_table, "
        f"ref_columns) VALUES ({quote_literal(con.name)}, {oid_of_sql(table)}, {quote_literal(con.type)}, "
        f"{quote_literal(json.dumps(list(con.columns)))}, "
        f"{oid_of_sql(index_name) if index_name else 'NULL'}, {_sql_value(con.definition)}, "
        f"{oid_of_sql(ref_table) if ref_table else 'NULL'}, "
        f"{_sql_value(json.dumps(list(con.ref_columns)) if con.ref_columns else None)})"
    )


def insert_sequence_sql(seq: Sequence, owner_table: str | None) -> list[str]:
    start_last = seq.start
    return [
        insert_relation_sql(seq.name, "S"),
        f"INSERT INTO {SEQUENCES} (oid, type_oid, start_value, increment, min_value, max_value, cycle, "
        f"last_value, is_called, owner_table, owner_column) VALUES ({oid_of_sql(seq.name)}, {seq.type_oid}, "
        f"{seq.start}, {seq.increment}, {seq.min_value}, {seq.max_value}, {_sql_value(seq.cycle)}, "
        f"{start_last}, 0, {oid_of_sql(owner_table) if owner_table else 'NULL'}, "
        f"{_sql_value(seq.owner_column)})",
    ]


def drop_sequence_sql(name: str) -> list[str]:
    oid = oid_of_sql(name)
    return [
        f"DELETE FROM {SEQUENCES} WHERE oid = {oid}",
        f"DELETE FROM {TABLES} WHERE schema = 'public' AND name = {quote_literal(name)}",
    ]


def drop_index_sql(name: str) -> list[str]:
    oid = oid_of_sql(name)
    return [
        f"DELETE FROM {CONSTRAINTS} WHERE index_oid = {oid}",
        f"DELETE FROM {INDEXES} WHERE oid = {oid}",
        f"DELETE FROM {TABLES} WHERE schema = 'public' AND name = {quote_literal(name)} AND kind = 'i'",
    ]


def drop_relation_sql(name: str) -> list[str]:
    """Catalog rows of a table or view and everything it owns (indexes, serial sequences)."""
    oid = oid_of_sql(name)
    return [
        f"DELETE FROM {TABLES} WHERE oid IN (SELECT oid FROM {INDEXES} WHERE table_oid = {oid})",
        f"DELETE FROM {INDEXES} WHERE table_oid = {oid}",
        f"DELETE FROM {CONSTRAINTS} WHERE table_oid = {oid}",
        f"DELETE FROM {TABLES} WHERE oid IN (SELECT oid FROM {SEQUENCES} WHERE owner_table = {oid})",
        f"DELETE FROM {SEQUENCES} WHERE owner_table = {oid}",
        f"DELETE FROM {COLUMNS} WHERE table_oid = {oid}",
        f"DELETE FROM {COMMENTS} WHERE classoid = 1259 AND objoid = {oid}",
        f"DELETE FROM {TABLES} WHERE oid = {oid}",
    ]


# A DDL statement that changes only catalog rows must still change PRAGMA schema_version,
# because that is how sessions notice that their cached Catalog is stale.
BUMP_SCHEMA_VERSION = (
    "CREATE TABLE IF NOT EXISTS __strata_bump (x INT)",
    "DROP TABLE __strata_bump",
)
