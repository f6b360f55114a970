"""PostgreSQL -> SQLite translation: the package's public surface.

``translate(sql, catalog)`` splits a query string into statements and translates each one
(see ``compute/sql/api.py`` for the Translation contract and docs/sql-translation.md for the
design). Translation is a pure function of the SQL text and the catalog content, so results
are cached in an LRU keyed by (sql, catalog fingerprint, declared parameter types).
``prepare_connection(conn, ctx)`` makes a new SQLite connection ready to run translations.

Modules outside compute/sql/ import only from here or from ``compute.sql.api``.
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

# The translate/ subpackage (its __init__ is empty) is loaded before translate() is defined below,
# so the function, not the package, is the attribute compute.sql.translate (a package's later
# submodule imports do not rebind it).
from compute.sql import translate as _translate_package  # noqa: F401
from compute.sql.api import ColumnDesc, CopySpec, Kind, SqlError, Translation

if TYPE_CHECKING:
    from compute.sql.catalog.catalog import (
        COLUMNS,
        CONSTRAINTS,
        TABLES,
        Catalog,
        Column,
        bootstrap_statements,
        current_version,
    )
    from compute.sql.errors import diagnostic_fields, map_sqlite_error
    from compute.sql.functions.session import SessionContext, canonical_setting_name
    from compute.sql.translate.ddl_sql import fk_recheck_sql

# Why lazily: compute.pgtypes (and datetime_input, settings) import compute.sql.api, which runs this
# __init__ first; the modules below use compute.pgtypes at import time, so loading them here, on
# first use, keeps ``import compute.pgtypes`` working when it comes first. Name -> its module:
_LAZY = {
    "COLUMNS": "compute.sql.catalog.catalog",
    "CONSTRAINTS": "compute.sql.catalog.catalog",
    "TABLES": "compute.sql.catalog.catalog",
    "Catalog": "compute.sql.catalog.catalog",
    "Column": "compute.sql.catalog.catalog",
    "bootstrap_statements": "compute.sql.catalog.catalog",
    "current_version": "compute.sql.catalog.catalog",
    "diagnostic_fields": "compute.sql.errors",
    "map_sqlite_error": "compute.sql.errors",
    "SessionContext": "compute.sql.functions.session",
    "canonical_setting_name": "compute.sql.functions.session",
    "fk_recheck_sql": "compute.sql.translate.ddl_sql",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolved once
    return value


__all__ = [
    "COLUMNS",
    "CONSTRAINTS",
    "TABLES",
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
    "translate_cache_clear",
]


def prepare_connection(conn: Any, ctx: SessionContext) -> None:
    """Register every UDF, aggregate and collation, then create the pg_catalog views, on a new
    apsw connection (the views call the UDFs)."""
    # import here: see _LAZY (these modules need compute.pgtypes loaded)
    from compute.sql.catalog.pg_catalog import install as install_catalog_views

    # import here: see _LAZY
    from compute.sql.functions.registry import register_udfs

    register_udfs(conn, ctx)
    conn.execute("PRAGMA temp_store = FILE")  # sorts and temp b-trees spill to disk: memory stays bounded
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA recursive_triggers = ON")  # self-referencing ON DELETE CASCADE (translate/ddl.py)
    install_catalog_views(conn, ctx)


_CACHE_SIZE = 4096  # translated query strings kept (LRU)
_cache: OrderedDict[tuple[str, str, tuple[int, ...]], list[Translation]] = OrderedDict()
_lock = threading.Lock()


def translate(sql: str, catalog: Catalog, param_types: tuple[int, ...] = ()) -> list[Translation]:
    """Translate a query string into one Translation per statement.

    ``param_types`` are the parameter type OIDs a client declared in Parse (0 = unspecified);
    inferred types fill the rest. An empty or comment-only string yields one EMPTY translation.
    Raises SqlError (with PostgreSQL's SQLSTATE) for the first statement that fails.
    """
    key = (sql, catalog.fingerprint, param_types)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return list(hit)
    result = _translate_uncached(sql, catalog, param_types)
    with _lock:
        _cache[key] = result
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return list(result)


def _translate_uncached(sql: str, catalog: Catalog, param_types: tuple[int, ...]) -> list[Translation]:
    # import here: see _LAZY (the translator needs compute.pgtypes loaded)
    from compute.sql.translate.dispatch import translate_statement

    # import here: see _LAZY
    from compute.sql.translate.split import split_statements

    statements = split_statements(sql)
    if not statements:
        return [Translation(Kind.EMPTY, "")]
    out = []
    current = catalog
    for stmt in statements:
        translation, current = translate_statement(stmt, current, param_types)
        out.append(translation)
    return out


def translate_cache_clear() -> None:
    with _lock:
        _cache.clear()
