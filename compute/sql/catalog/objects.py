"""The catalog's stored objects: the ``__strata_*`` table names and DDL, and the immutable
records (Column, Index, Constraint, Sequence, EnumType, Table) a ``Catalog`` snapshot holds.

A leaf of the catalog package: the system relations (``system.py``) are built from these records
and ``Catalog`` looks them up, so neither needs the other's module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from compute import pgtypes
from compute.sql.procedural.catalog import FUNCTIONS_DDL, TRIGGERS_DDL

FIRST_USER_OID = 16384
PUBLIC_NAMESPACE_OID = 2200
PG_CATALOG_NAMESPACE_OID = 11

TABLES = "__strata_tables"
COLUMNS = "__strata_columns"
INDEXES = "__strata_indexes"
SEQUENCES = "__strata_sequences"
CONSTRAINTS = "__strata_constraints"
COMMENTS = "__strata_comments"
TYPES = "__strata_types"
ENUMS = "__strata_enums"
ROLES = "__strata_roles"  # CREATE ROLE/USER (compute/sql/translate/roles.py); attributes as pg_authid
SCHEMAS = "__strata_schemas"  # CREATE SCHEMA (compute/sql/translate/schemas.py); public is implicit
ACL = "__strata_acl"  # owner and ACL per relation / schema OID (compute/sql/privileges.py)
MEMBERS = "__strata_members"  # GRANT role TO member (compute/sql/translate/roles.py)
INFORMATION_SCHEMA_NAMESPACE_OID = 13000
PG_TOAST_NAMESPACE_OID = 99
# Schemas every database has; only public holds user objects (they keep their bare SQLite names).
BUILTIN_SCHEMAS = {"pg_catalog": PG_CATALOG_NAMESPACE_OID, "public": PUBLIC_NAMESPACE_OID,
                   "information_schema": INFORMATION_SCHEMA_NAMESPACE_OID, "pg_toast": PG_TOAST_NAMESPACE_OID}
TEMP_SCHEMA_PREFIX = "pg_temp_"  # a session's temporary tables live in schema pg_temp_<n>

# COMMENT ON: (classoid, objoid, objsubid) as in pg_description; classoid 1259 relations (objsubid =
# column number for columns), 2606 constraints, 2615 schemas, 1262 databases.
COMMENTS_DDL = f"""CREATE TABLE IF NOT EXISTS {COMMENTS} (
    classoid INTEGER NOT NULL,
    objoid INTEGER NOT NULL,
    objsubid INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL,
    PRIMARY KEY (classoid, objoid, objsubid)
)"""

_BOOTSTRAP = (
    FUNCTIONS_DDL,  # CREATE FUNCTION / CREATE TRIGGER (compute/sql/procedural/catalog.py)
    TRIGGERS_DDL,
    f"""CREATE TABLE IF NOT EXISTS {TABLES} (
    oid INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    schema TEXT NOT NULL DEFAULT 'public',
    kind TEXT NOT NULL DEFAULT 'r',
    options TEXT,
    definition TEXT,
    UNIQUE (schema, name)
)""",
    f"""CREATE TABLE IF NOT EXISTS {COLUMNS} (
    table_oid INTEGER NOT NULL,
    attnum INTEGER NOT NULL,
    name TEXT NOT NULL,
    type_oid INTEGER NOT NULL,
    typmod INTEGER NOT NULL DEFAULT -1,
    not_null INTEGER NOT NULL DEFAULT 0,
    default_expr TEXT,
    default_sql TEXT,
    identity TEXT,
    PRIMARY KEY (table_oid, attnum)
)""",
    f"""CREATE TABLE IF NOT EXISTS {INDEXES} (
    oid INTEGER PRIMARY KEY,
    table_oid INTEGER NOT NULL,
    columns TEXT NOT NULL,
    is_unique INTEGER NOT NULL DEFAULT 0,
    is_primary INTEGER NOT NULL DEFAULT 0,
    sqlite_name TEXT
)""",
    f"""CREATE TABLE IF NOT EXISTS {SEQUENCES} (
    oid INTEGER PRIMARY KEY,
    type_oid INTEGER NOT NULL DEFAULT 20,
    start_value INTEGER NOT NULL DEFAULT 1,
    increment INTEGER NOT NULL DEFAULT 1,
    min_value INTEGER NOT NULL DEFAULT 1,
    max_value INTEGER NOT NULL DEFAULT 9223372036854775807,
    cycle INTEGER NOT NULL DEFAULT 0,
    last_value INTEGER NOT NULL DEFAULT 1,
    is_called INTEGER NOT NULL DEFAULT 0,
    owner_table INTEGER,
    owner_column TEXT
)""",
    f"""CREATE TABLE IF NOT EXISTS {CONSTRAINTS} (
    name TEXT NOT NULL,
    table_oid INTEGER NOT NULL,
    type TEXT NOT NULL,
    columns TEXT NOT NULL,
    index_oid INTEGER,
    definition TEXT,
    ref_table INTEGER,
    ref_columns TEXT,
    PRIMARY KEY (table_oid, name)
)""",
    COMMENTS_DDL,
    # user-defined types (enums): each has its own OID and an array type OID (pg_type.typarray)
    f"""CREATE TABLE IF NOT EXISTS {TYPES} (
    oid INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    schema TEXT NOT NULL DEFAULT 'public',
    kind TEXT NOT NULL DEFAULT 'e',
    array_oid INTEGER NOT NULL,
    UNIQUE (schema, name)
)""",
    # pg_enum: one row per label; sortorder orders the labels (ADD VALUE BEFORE/AFTER uses midpoints)
    f"""CREATE TABLE IF NOT EXISTS {ENUMS} (
    oid INTEGER PRIMARY KEY,
    type_oid INTEGER NOT NULL,
    sortorder REAL NOT NULL,
    label TEXT NOT NULL,
    UNIQUE (type_oid, label)
)""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMAS} (
    name TEXT PRIMARY KEY,
    oid INTEGER NOT NULL UNIQUE,
    owner TEXT NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS {ROLES} (
    name TEXT PRIMARY KEY,
    oid INTEGER NOT NULL,
    super INTEGER NOT NULL DEFAULT 0,
    inherit INTEGER NOT NULL DEFAULT 1,
    createrole INTEGER NOT NULL DEFAULT 0,
    createdb INTEGER NOT NULL DEFAULT 0,
    canlogin INTEGER NOT NULL DEFAULT 0,
    replication INTEGER NOT NULL DEFAULT 0,
    bypassrls INTEGER NOT NULL DEFAULT 0,
    connlimit INTEGER NOT NULL DEFAULT -1,
    password TEXT,
    validuntil TEXT
)""",
    # Owner (NULL: the bootstrap superuser) and ACL (NULL: the owner's default) of a relation
    # or schema, by OID; a new relation's row names the role that made it (the trigger below).
    f"""CREATE TABLE IF NOT EXISTS {ACL} (
    oid INTEGER PRIMARY KEY,
    owner TEXT,
    acl TEXT
)""",
    f"""CREATE TABLE IF NOT EXISTS {MEMBERS} (
    role TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (role, member)
)""",
    f"""CREATE TRIGGER IF NOT EXISTS __strata_acl_new AFTER INSERT ON {TABLES} WHEN NEW.kind <> 'i' BEGIN
    INSERT OR REPLACE INTO {ACL} (oid, owner, acl) VALUES (NEW.oid, pg_session_user(), NULL); END""",
    f"""CREATE TRIGGER IF NOT EXISTS __strata_acl_gone AFTER DELETE ON {TABLES} BEGIN
    DELETE FROM {ACL} WHERE oid = OLD.oid; END""",
)


def bootstrap_statements() -> list[str]:
    """Idempotent DDL the session runs once on a new database (before Catalog.load)."""
    return list(_BOOTSTRAP)


def relation_key(schema: str, name: str) -> str:
    """The name a relation (table, view, index, sequence, enum type) has in the Catalog and in
    SQLite: its bare name in public (so databases made before schemas keep working), else
    ``schema.name`` (one quoted SQLite identifier containing a dot)."""
    return name if schema == "public" else f"{schema}.{name}"


def split_key(key: str) -> tuple[str, str]:
    """(schema, bare name) of a relation key (the inverse of relation_key: names of relations
    may not contain a dot, so the first dot separates the schema)."""
    schema, dot, name = key.partition(".")
    return (schema, name) if dot else ("public", key)


def bare_name(key: str) -> str:
    return split_key(key)[1]


def quote_ident(name: str) -> str:
    """An SQLite (and PostgreSQL) quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def type_ident(name: str) -> str:
    """A type name as format_type() prints it: quoted unless a plain lower-case identifier."""
    if name.isidentifier() and name == name.lower() and name.isascii():
        return name
    return quote_ident(name)


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class Schema:
    """A CREATE SCHEMA schema (public and the system schemas are built in, not stored)."""

    name: str
    oid: int
    owner: str


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    attnum: int
    type_oid: int
    typmod: int = -1
    not_null: bool = False
    default_expr: str | None = None  # PostgreSQL text, for pg_attrdef / \d
    default_sql: str | None = None  # translated SQLite expression (already assignment-cast)
    identity: str | None = None  # 'a' / 'd' for GENERATED ... AS IDENTITY

    @property
    def type_display(self) -> str:
        return pgtypes.format_type(self.type_oid, self.typmod)


@dataclass(frozen=True, slots=True)
class Index:
    oid: int
    name: str
    table_oid: int
    columns: tuple[str, ...]
    unique: bool = False
    primary: bool = False
    sqlite_name: str | None = None  # None: backed by the table's own PRIMARY KEY/UNIQUE


@dataclass(frozen=True, slots=True)
class Constraint:
    name: str
    table_oid: int
    type: str  # p primary key, u unique, c check, f foreign key
    columns: tuple[str, ...]
    index_oid: int | None = None
    definition: str | None = None
    ref_table: int | None = None
    ref_columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Sequence:
    oid: int
    name: str
    type_oid: int = pgtypes.INT8
    start: int = 1
    increment: int = 1
    min_value: int = 1
    max_value: int = 2**63 - 1
    cycle: bool = False
    owner_table: int | None = None
    owner_column: str | None = None


@dataclass(frozen=True, slots=True)
class EnumType:
    """A CREATE TYPE ... AS ENUM type: labels in sort order (their position is the ordering)."""

    oid: int
    name: str
    array_oid: int
    labels: tuple[str, ...] = ()
    sortorders: tuple[float, ...] = ()
    schema: str = "public"

    @property
    def key_json(self) -> str:
        """``[[label, sortorder], ...]`` in sort order: what the enum SQL functions take.

        Translations embed it; views and CHECKs keep the key of when they were created, so the
        functions look a label they do not find up in ``__strata_enums`` (ADD/RENAME VALUE)."""
        return json.dumps([[label, order] for label, order in zip(self.labels, self.sortorders, strict=True)],
                          ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Table:
    oid: int
    name: str
    columns: tuple[Column, ...]
    schema: str = "public"
    kind: str = "r"  # r table, v view, S sequence, i index (indexes are listed via Index)
    options: tuple[str, ...] = ()
    definition: str | None = None  # view SQL (PostgreSQL text)
    indexes: tuple[Index, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    sqlite_name: str | None = None  # for system relations backed by differently named views

    def column(self, name: str) -> Column | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None

    @property
    def storage_name(self) -> str:
        return self.sqlite_name or self.name

    @property
    def relname(self) -> str:
        """The name without its schema (``name`` is the relation key: ``schema.name`` outside public)."""
        return bare_name(self.name)

    @property
    def primary_key(self) -> Index | None:
        for index in self.indexes:
            if index.primary:
                return index
        return None
