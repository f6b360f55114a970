"""PostgreSQL -> SQLite translation.

``translate(sql, catalog)`` splits a query string into statements and translates each one
(see ``compute/sql/api.py`` for the Translation contract and docs/sql-translation.md for the
design). Translation is a pure function of the SQL text and the catalog content, so results
are cached in an LRU keyed by (sql, catalog fingerprint, declared parameter types).
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from compute.sql.api import ColumnDesc, CopySpec, Kind, SqlError, Translation

if TYPE_CHECKING:
    from compute.sql.catalog import Catalog, bootstrap_statements, current_version
    from compute.sql.errors import map_sqlite_error
    from compute.sql.functions import SessionContext, register_functions

# Submodules import compute.pgtypes, which imports compute.sql.api; loading them lazily keeps
# ``import compute.pgtypes`` free of import cycles.
_LAZY = {
    "Catalog": "compute.sql.catalog",
    "bootstrap_statements": "compute.sql.catalog",
    "current_version": "compute.sql.catalog",
    "map_sqlite_error": "compute.sql.errors",
    "SessionContext": "compute.sql.functions",
    "register_functions": "compute.sql.functions",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(module), name)

__all__ = [
    "Catalog",
    "ColumnDesc",
    "CopySpec",
    "Kind",
    "SessionContext",
    "SqlError",
    "Translation",
    "bootstrap_statements",
    "current_version",
    "map_sqlite_error",
    "register_functions",
    "translate",
    "translate_cache_clear",
]

_CACHE_SIZE = 4096
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
    from compute.sql.split import split_statements
    from compute.sql.translator import translate_statement

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
