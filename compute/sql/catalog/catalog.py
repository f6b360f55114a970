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
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from compute import pgtypes
from compute.sql.api import SqlError
from compute.sql.catalog.objects import (
    BUILTIN_SCHEMAS,
    COLUMNS,
    COMMENTS,
    COMMENTS_DDL,
    CONSTRAINTS,
    ENUMS,
    FIRST_USER_OID,
    INDEXES,
    PG_CATALOG_NAMESPACE_OID,
    PUBLIC_NAMESPACE_OID,
    SCHEMAS,
    SEQUENCES,
    TABLES,
    TEMP_SCHEMA_PREFIX,
    TYPES,
    Column,
    Constraint,
    EnumType,
    Index,
    Schema,
    Sequence,
    Table,
    bare_name,
    bootstrap_statements,
    quote_ident,
    quote_literal,
    relation_key,
    split_key,
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
    "Schema",
    "SCHEMAS",
    "relation_key",
    "split_key",
    "bare_name",
    "SYSTEM_RELATIONS",
    "Catalog",
    "DEFAULT_SEARCH_PATH",
    "TempSchemaNeeded",
    "TEMP_SCHEMA_PREFIX",
    "parse_search_path",
    "runtime_path",
    "split_qualified",
    "runtime_relation",
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
    schemas: Mapping[str, Schema] = field(default_factory=dict)  # CREATE SCHEMA ones (not public)
    # The session's effective search_path (schemas that may not exist included, "$user" replaced,
    # its pg_temp_<n> first when it has one); None: the default path, where only public matters.
    search_path: tuple[str, ...] | None = None
    # The pg_temp_<n> schema this session's temporary tables go to, when the translation may
    # create one (see TempSchemaNeeded); and its tables' ON COMMIT actions: (key, drop|delete).
    temp_name: str | None = None
    on_commit: tuple[tuple[str, str], ...] = ()

    # ------------------------------------------------------------------ schemas and names
    def schema_exists(self, name: str) -> bool:
        return name in self.schemas or name == "public"

    def path(self) -> tuple[str, ...]:
        return ("public",) if self.search_path is None else self.search_path

    def namespace_oid(self, name: str) -> int | None:
        """The pg_namespace OID of a schema name (built in or CREATE SCHEMA), None if none."""
        schema = self.schemas.get(name)
        return schema.oid if schema is not None else BUILTIN_SCHEMAS.get(name)

    def namespace_oid_of_text(self, text: str) -> int:
        """'name'::regnamespace (3F000 when there is no such schema)."""
        name = split_qualified(text)[-1]
        oid = self.namespace_oid(name)
        if oid is None:
            raise SqlError("3F000", f'schema "{name}" does not exist')
        return oid

    def existing_path(self) -> list[str]:
        """The schemas of the path that exist, without the temporary one (current_schemas(false))."""
        return [s for s in self.path() if self.schema_exists(s) and not s.startswith(TEMP_SCHEMA_PREFIX)]

    def temp_schema(self) -> str | None:
        """The session's pg_temp_<n> schema, when it has one."""
        path = self.search_path
        if path and path[0].startswith("pg_temp_") and path[0] in self.schemas:
            return path[0]
        return None

    def temp_key(self, schema: str | None, name: str) -> str:
        """The key of a new temporary table (CREATE TEMP TABLE, or CREATE TABLE pg_temp.t)."""
        if schema not in (None, "pg_temp") and not (schema or "").startswith(TEMP_SCHEMA_PREFIX):
            raise SqlError("42P16", "cannot create temporary relation in non-temporary schema")
        if "." in name:
            raise SqlError("0A000", f'names containing a dot are not supported: "{name}"')
        temp = self.temp_schema() or self.temp_name
        if temp is None:
            raise TempSchemaNeeded()
        return relation_key(temp, name)

    def with_temp(self, backend_pid: int) -> Catalog:
        """This catalog for a session about to create its temporary schema."""
        temp = f"{TEMP_SCHEMA_PREFIX}{backend_pid}"
        path = (temp, *(s for s in self.path() if s != temp))
        derived = replace(self.with_path(path), temp_name=temp)
        return replace(derived, fingerprint=_with_path(derived.fingerprint, ("temp", temp)))

    def creation_schema(self) -> str:
        """Where an unqualified CREATE puts its object: the first existing schema of the path."""
        if self.search_path is None:
            return "public"
        for schema in self.search_path:
            if self.schema_exists(schema) and not schema.startswith("pg_temp_"):
                return schema
        raise SqlError("3F000", "no schema has been selected to create in")

    def qualify(self, schema: str | None, name: str, kind: str = "rel", missing_schema_ok: bool = False) -> str:
        """The key (``relation_key``) a name stands for: a qualified name names its schema (3F000
        when it does not exist), an unqualified one the first schema of the search path holding
        such an object (``kind``: rel, seq, index, type, any); a missing object gets the key it
        would have in the first schema of the path (so lookups fail with 42P01)."""
        if schema:
            if schema in ("public", "pg_catalog", "information_schema"):
                return name
            if schema == "pg_temp":
                schema = self.temp_schema() or "pg_temp"
                return relation_key(schema, name)
            if schema not in self.schemas and not missing_schema_ok:
                raise SqlError("3F000", f'schema "{schema}" does not exist')
            return relation_key(schema, name)
        path = self.search_path
        if path is None:
            return name
        for candidate in path:
            key = relation_key(candidate, name)
            if self._holds(key, kind):
                return key
        if "public" in path or name in SYSTEM_RELATIONS:
            return name
        for candidate in path:
            if self.schema_exists(candidate) and not candidate.startswith("pg_temp_"):
                return relation_key(candidate, name)
        return relation_key("pg_catalog", name)

    def qualify_new(self, schema: str | None, name: str) -> str:
        """The key of an object a CREATE makes (3F000 for a missing or no schema)."""
        if "." in name:
            raise SqlError("0A000", f'names containing a dot are not supported: "{name}"')
        if schema == "pg_temp":
            temp = self.temp_schema()
            if temp is None:
                raise SqlError("0A000", "CREATE in pg_temp is supported with CREATE TEMP TABLE only")
            return relation_key(temp, name)
        if schema:
            if schema in ("pg_catalog", "information_schema"):
                raise SqlError("42501", f'permission denied to create "{schema}.{name}"',
                               detail="System catalog modifications are currently disallowed.")
            if not self.schema_exists(schema):
                raise SqlError("3F000", f'schema "{schema}" does not exist')
            return relation_key(schema, name)
        return relation_key(self.creation_schema(), name)

    def _holds(self, key: str, kind: str) -> bool:
        if kind in ("rel", "any") and key in self.tables:
            return True
        if kind in ("seq", "any") and key in self.sequences:
            return True
        if kind in ("index", "any") and self.index(key) is not None:
            return True
        return kind in ("type", "any") and key in self.enums

    def qualify_text(self, text: str, kind: str = "any") -> str:
        """``qualify`` for a name written as text (``'s.seq'``, ``'"S"."T"'`` in nextval, regclass)."""
        parts = split_qualified(text)
        if len(parts) == 1:
            return self.qualify(None, parts[0], kind)
        return self.qualify(parts[-2], parts[-1], kind)

    def with_schema(self, schema: Schema) -> Catalog:
        schemas = dict(self.schemas)
        schemas[schema.name] = schema
        return self._derive(schemas=schemas)

    def without_schema(self, name: str) -> Catalog:
        schemas = dict(self.schemas)
        schemas.pop(name, None)
        return self._derive(schemas=schemas)

    def for_session(self, setting: str, user: str, backend_pid: int) -> Catalog:
        """This catalog as a session sees it: with its effective search path (``setting`` is the
        search_path text; its temporary tables would be in schema pg_temp_<backend_pid>). The
        same catalog when nothing but public can matter (no schemas, the default path): the
        per-statement cost of sessions that never use schemas is one comparison."""
        if not self.schemas and setting == DEFAULT_SEARCH_PATH:
            return self
        temp_schema = f"{TEMP_SCHEMA_PREFIX}{backend_pid}"
        key = (self.fingerprint, setting, user, temp_schema)
        cached = _SESSION_CATALOGS.get(key)
        if cached is not None:
            return cached
        path = parse_search_path(setting, user)
        on_commit: tuple[tuple[str, str], ...] = ()
        if temp_schema in self.schemas:
            path = (temp_schema, *(s for s in path if s != "pg_temp"))
            on_commit = tuple((t.name, o.split("=", 1)[1]) for t in self.tables.values()
                              if t.schema == temp_schema for o in t.options if o.startswith("on_commit="))
        path = tuple(temp_schema if s == "pg_temp" else s for s in path if s != "pg_catalog")
        derived = self.with_path(None if path in (("public",), (user, "public")) and user not in self.schemas
                                 else path)
        if on_commit:
            derived = replace(derived, on_commit=on_commit)
        _SESSION_CATALOGS[key] = derived
        while len(_SESSION_CATALOGS) > SESSION_CATALOG_ENTRIES:
            _SESSION_CATALOGS.popitem(last=False)
        return derived

    def with_path(self, path: tuple[str, ...] | None) -> Catalog:
        """This catalog for a session whose effective search_path is ``path`` (its fingerprint
        differs, so cached translations are per path)."""
        if path == self.search_path:
            return self
        base = self.fingerprint if self.search_path is None else \
            _fingerprint(self.tables, self.sequences, self.enums, self.schemas)
        return replace(self, search_path=path, fingerprint=_with_path(base, path))

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
        enum = self.enum_by_oid(oid) or self.enum_of_array(oid)
        if enum is not None:
            schema, name = split_key(enum.name)
            shown = type_ident(name) if schema in self.path() else f"{type_ident(schema)}.{type_ident(name)}"
            return shown if enum.oid == oid else shown + "[]"
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
        base = _fingerprint(derived.tables, derived.sequences, derived.enums, derived.schemas)
        return replace(derived, fingerprint=_with_path(base, derived.search_path))

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
            rels[oid] = (relation_key(schema, name), schema, kind, options, definition)
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
                rel = rels.get(table_oid)  # constraint names are keyed like relations (schema.name)
                constraints.setdefault(table_oid, []).append(
                    Constraint(relation_key(rel[1], name) if rel else name, table_oid, ctype, tuple(json.loads(cols)), index_oid, definition,
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
                key = relation_key(schema, name)
                enums[key] = EnumType(oid, key, array_oid, tuple(r[1] for r in rows),
                                      tuple(float(r[0]) for r in rows), schema)
        schemas: dict[str, Schema] = {}
        if SCHEMAS in present:
            for name, oid, owner in conn.execute(f"SELECT name, oid, owner FROM {SCHEMAS}"):
                schemas[name] = Schema(name, oid, owner)
        return cls(routines=load_routines(conn, present), version=version, tables=tables, sequences=sequences,
                   fingerprint=_fingerprint(tables, sequences, enums, schemas), enums=enums, schemas=schemas)


class TempSchemaNeeded(SqlError):
    """A CREATE TEMP TABLE met a catalog that does not name the session's temporary schema:
    the session translates it again with ``Catalog.with_temp`` (only then, so that sessions
    without temporary tables share cached translations)."""

    def __init__(self) -> None:
        super().__init__("0A000", "temporary tables need a session")


DEFAULT_SEARCH_PATH = '"$user", public'  # compute/settings.py's default, as SET normalizes it
SESSION_CATALOG_ENTRIES = 256  # (catalog, search path, user) combinations kept derived
_SESSION_CATALOGS: OrderedDict[tuple[str, str, str, str], Catalog] = OrderedDict()


def parse_search_path(setting: str, user: str) -> tuple[str, ...]:
    """The schema names of a search_path setting, "$user" replaced (quoted names keep case)."""
    names: list[str] = []
    for part in setting.split(","):
        item = part.strip()
        if not item:
            continue
        if item.startswith('"') and item.endswith('"') and len(item) > 1:
            item = item[1:-1].replace('""', '"')
            names.append(user if item == "$user" else item)
        else:
            names.append(user if item.lower() == "$user" else item.lower())
    return tuple(names)


def runtime_path(conn: Any, setting: str, user: str, backend_pid: int) -> list[str]:
    """A session's effective search path at execution time (UDFs: nextval('seq'), regclass),
    read from the connection: the temporary schema first when it exists, then the existing
    schemas of the setting."""
    names = parse_search_path(setting, user)
    temp = f"{TEMP_SCHEMA_PREFIX}{backend_pid}"
    existing = {r[0] for r in conn.execute(f"SELECT name FROM main.{SCHEMAS}")} | {"public", "pg_catalog"}
    path = [temp] if temp in existing else []
    path.extend(temp if n == "pg_temp" else n for n in names if n in existing or n == "pg_temp")
    return path


def runtime_relation(conn: Any, text: str, setting: str, user: str, backend_pid: int,
                     kinds: str = "rvSi") -> tuple[int, str, str] | None:
    """(oid, schema, name) of the relation a name written as text stands for, at execution time;
    None when there is none (3F000 for a qualified name whose schema does not exist)."""
    parts = split_qualified(text)
    name = parts[-1]
    if len(parts) > 1:
        schema = parts[-2]
        if schema == "pg_temp":
            schema = f"{TEMP_SCHEMA_PREFIX}{backend_pid}"
        elif schema not in ("public", "pg_catalog", "information_schema") and not conn.execute(
                f"SELECT 1 FROM main.{SCHEMAS} WHERE name = ?", (schema,)).fetchall():
            raise SqlError("3F000", f'schema "{schema}" does not exist')
        candidates = [schema]
    else:
        candidates = runtime_path(conn, setting, user, backend_pid)
    rows = {r[1]: r for r in conn.execute(
        f"SELECT oid, schema, name FROM main.{TABLES} WHERE name = ? AND instr(?, kind) > 0", (name, kinds))}
    for schema in candidates:
        if schema in rows:
            return rows[schema][0], schema, name
    return None


def current_version(conn: Any) -> int:
    """PRAGMA schema_version: cheap check whether a cached Catalog is still current."""
    return int(conn.execute("PRAGMA schema_version").fetchall()[0][0])


def _fingerprint(tables: Mapping[str, Table], sequences: Mapping[str, Sequence],
                 enums: Mapping[str, EnumType] | None = None, schemas: Mapping[str, Schema] | None = None) -> str:
    """A digest of the catalog content: translations are cached per (sql, fingerprint).

    Enum types are part of it: translations embed their labels (validation, ordering); so are
    schemas (names resolve against them)."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(tables):
        digest.update(repr(tables[name]).encode())
    for name in sorted(sequences):
        digest.update(repr(sequences[name]).encode())
    for name in sorted(enums or {}):
        digest.update(repr((enums or {})[name]).encode())
    for name in sorted(schemas or {}):
        digest.update(repr((schemas or {})[name]).encode())
    return digest.hexdigest()


def _with_path(base: str, path: tuple[str, ...] | None) -> str:
    """A content fingerprint combined with a session's search path (unchanged for the default)."""
    if path is None:
        return base
    return hashlib.blake2b((base + "\x00" + "\x00".join(path)).encode(), digest_size=16).hexdigest()


def split_qualified(text: str) -> list[str]:
    """``a.b`` / ``"A"."b.c"`` -> its parts, unquoted (unquoted parts lower-cased, as PostgreSQL)."""
    parts: list[str] = []
    i = 0
    text = text.strip()
    while i <= len(text):
        if i < len(text) and text[i] == '"':
            j = i + 1
            buf = []
            while j < len(text):
                if text[j] == '"':
                    if j + 1 < len(text) and text[j + 1] == '"':
                        buf.append('"')
                        j += 2
                        continue
                    break
                buf.append(text[j])
                j += 1
            parts.append("".join(buf))
            i = j + 1
        else:
            j = text.find(".", i)
            j = len(text) if j < 0 else j
            parts.append(text[i:j].strip().lower())
            i = j
        if i < len(text) and text[i] == ".":
            i += 1
            continue
        break
    return parts


# ---------------------------------------------------------------------- maintenance SQL


def next_oid_sql() -> str:
    """The next free OID: relations, types (and their array types), enum labels and schemas share
    one counter."""
    return (f"(SELECT max(m) + 1 FROM (SELECT coalesce(max(oid), {FIRST_USER_OID - 1}) AS m FROM {TABLES} "
            f"UNION ALL SELECT max(array_oid) FROM {TYPES} UNION ALL SELECT max(oid) FROM {ENUMS} "
            f"UNION ALL SELECT max(oid) FROM {SCHEMAS}))")


def oid_of_sql(key: str) -> str:
    """The OID of the relation with this key (``relation_key``), in SQL."""
    schema, name = split_key(key)
    return f"(SELECT oid FROM {TABLES} WHERE schema = {quote_literal(schema)} AND name = {quote_literal(name)})"


def relation_row_sql(key: str) -> str:
    """The WHERE condition selecting the ``__strata_tables`` row of a relation key."""
    schema, name = split_key(key)
    return f"schema = {quote_literal(schema)} AND name = {quote_literal(name)}"


def _sql_value(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return quote_literal(str(value))


def temp_schema_sql(catalog: Catalog) -> tuple[list[str], Catalog]:
    """The row of the session's temporary schema, made with its first temporary table (and the
    catalog that has it)."""
    temp = catalog.temp_name
    if temp is None or temp in catalog.schemas:
        return [], catalog
    steps = [f"INSERT OR IGNORE INTO {SCHEMAS} (name, oid, owner) VALUES "
             f"({quote_literal(temp)}, {next_oid_sql()}, pg_session_user())"]
    return steps, catalog.with_schema(Schema(temp, 0, ""))


def insert_relation_sql(key: str, kind: str, options: Iterable[str] = (), definition: str | None = None) -> str:
    opts = list(options)
    schema, name = split_key(key)
    return (
        f"INSERT INTO {TABLES} (oid, name, schema, kind, options, definition) VALUES "
        f"({next_oid_sql()}, {quote_literal(name)}, {quote_literal(schema)}, {quote_literal(kind)}, "
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
        f"ref_columns) VALUES ({quote_literal(bare_name(con.name))}, {oid_of_sql(table)}, {quote_literal(con.type)}, "
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
        f"DELETE FROM {TABLES} WHERE {relation_row_sql(name)}",
    ]


def drop_index_sql(name: str) -> list[str]:
    oid = oid_of_sql(name)
    return [
        f"DELETE FROM {CONSTRAINTS} WHERE index_oid = {oid}",
        f"DELETE FROM {INDEXES} WHERE oid = {oid}",
        f"DELETE FROM {TABLES} WHERE {relation_row_sql(name)} AND kind = 'i'",
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
