"""PostgreSQL -> SQLite translation: the package's public surface.

``translate(sql, catalog)`` splits a query string into statements and translates each one
(see ``compute/sql/api.py`` for the Translation contract and docs/sql-translation.md for the
design). Translation is a pure function of the SQL text and the catalog content, so results
are cached by the caller: the engine's ShapeCache (compute/sqlcache.py) is the one translation
cache, an LRU keyed by (sql, catalog fingerprint, declared parameter types) and by shape.
``prepare_connection(conn, ctx)`` makes a new SQLite connection ready to run translations.

Modules outside compute/sql/ import only from here or from ``compute.sql.api``.
"""

from __future__ import annotations

from typing import Any

import apsw

# The translate/ subpackage is loaded before translate() is defined below, so the function, not
# the package, is the attribute compute.sql.translate (later submodule imports do not rebind it).
from compute.sql import translate as _translate_package  # noqa: F401
from compute.sql.api import ColumnDesc, CopySpec, Kind, SqlError, Translation
from compute.sql.catalog.catalog import (
    COLUMNS,
    CONSTRAINTS,
    DEFAULT_SEARCH_PATH,
    TABLES,
    TEMP_SCHEMA_PREFIX,
    Catalog,
    Column,
    TempSchemaNeeded,
    bootstrap_statements,
    current_version,
)
from compute.sql.catalog.objects import ROLES
from compute.sql.catalog.pg_catalog import install as install_catalog_views
from compute.sql.errors import diagnostic_fields, map_sqlite_error
from compute.sql.functions.registry import register_udfs
from compute.sql.functions.session import SessionContext, canonical_setting_name
from compute.sql.privileges import register_udfs as register_privilege_udfs
from compute.sql.procedural.runtime import register_udfs as register_procedural_udfs
from compute.sql.translate.ddl_sql import fk_recheck_sql
from compute.sql.translate.dispatch import translate_statement
from compute.sql.translate.split import split_statements

__all__ = [
    "COLUMNS",
    "CONSTRAINTS",
    "DEFAULT_SEARCH_PATH",
    "ROLES",
    "TABLES",
    "TEMP_SCHEMA_PREFIX",
    "TempSchemaNeeded",
    "Catalog",
    "Column",
    "ColumnDesc",
    "CopySpec",
    "Kind",
    "SessionContext",
    "SqlError",
    "Translation",
    "bootstrap_statements",
    "canonical_setting_name",
    "current_version",
    "diagnostic_fields",
    "fk_recheck_sql",
    "map_sqlite_error",
    "prepare_connection",
    "translate",
]


def prepare_connection(conn: Any, ctx: SessionContext) -> None:
    """Register every UDF, aggregate and collation, then create the pg_catalog views, on a new
    apsw connection (the views call the UDFs)."""
    # An identifier SQLite cannot resolve is an error, never the string of its name (SQLite's
    # legacy double-quoted-string fallback would turn a translation bug into a wrong answer).
    conn.config(apsw.SQLITE_DBCONFIG_DQS_DML, 0)
    register_udfs(conn, ctx)
    register_procedural_udfs(conn, ctx)  # DO, user functions, triggers
    register_privilege_udfs(conn, ctx)  # GRANT/REVOKE steps, has_table_privilege (compute/sql/privileges.py)
    conn.execute("PRAGMA temp_store = FILE")  # sorts and temp b-trees spill to disk: memory stays bounded
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA recursive_triggers = ON")  # self-referencing ON DELETE CASCADE (translate/ddl.py)
    install_catalog_views(conn, ctx)


def translate(sql: str, catalog: Catalog, param_types: tuple[int, ...] = ()) -> list[Translation]:
    """Translate a query string into one Translation per statement (uncached: see the module doc).

    ``param_types`` are the parameter type OIDs a client declared in Parse (0 = unspecified);
    inferred types fill the rest. An empty or comment-only string yields one EMPTY translation.
    Raises SqlError (with PostgreSQL's SQLSTATE) for the first statement that fails.
    """
    statements = split_statements(sql)
    if not statements:
        return [Translation(Kind.EMPTY, "")]
    out = []
    current = catalog
    for stmt in statements:
        translation, current = translate_statement(stmt, current, param_types)
        out.append(translation)
    return out
