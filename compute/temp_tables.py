"""Temporary tables: the session side (the SQL side is compute/sql/translate/schemas.py).

A session's temporary tables live in its own schema ``pg_temp_<backend pid>``, stored like any
schema: sessions share pooled SQLite connections, so SQLite's TEMP tables cannot be used. Only
the session's search path names that schema (first), so other sessions never see them. What
this module does is the lifetime PostgreSQL gives them: ON COMMIT DELETE ROWS / DROP at each
commit, DISCARD TEMP / ALL, and dropping the schema when the session ends; ``drop_orphans``
removes the schemas of sessions a crash or restart ended, when a primary opens a database.

The schema and its rows are replicated with the data (they are ordinary catalog rows and
tables), which costs log volume but nothing else: replicas never show them to anyone.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from compute.sql import TEMP_SCHEMA_PREFIX, Catalog, translate

if TYPE_CHECKING:
    from compute.session import Session

_log = logging.getLogger("strata.compute.temp_tables")


def _temp_schema(session: Session) -> str:
    return f"{TEMP_SCHEMA_PREFIX}{session.backend_pid}"


async def _run(session: Session, sql: str) -> None:
    """Run SQL as if the client sent it, in the current transaction (or as its own)."""
    for tr in session.translate(sql):
        await session._dispatch(tr, ())  # noqa: SLF001 - the session's own statement runner


async def at_commit(session: Session) -> None:
    """ON COMMIT DELETE ROWS / DROP of the session's temporary tables, before the commit (or
    after a statement outside a transaction block, which is its own transaction)."""
    catalog = session._catalog_now()  # noqa: SLF001 - the catalog this transaction sees
    for key, action in catalog.on_commit:
        schema, _dot, name = key.partition(".")
        qualified = f'{schema}."{name.replace(chr(34), chr(34) * 2)}"'
        await _run(session, f"DROP TABLE {qualified}" if action == "drop" else f"DELETE FROM {qualified}")


def has_temp_schema(session: Session, catalog: Catalog | None = None) -> bool:
    catalog = catalog or session._catalog_now()  # noqa: SLF001
    return _temp_schema(session) in catalog.schemas


async def discard(session: Session) -> None:
    """DISCARD TEMP (and DISCARD ALL): drop every temporary table of the session."""
    if has_temp_schema(session):
        await _run(session, f"DROP SCHEMA IF EXISTS {_temp_schema(session)} CASCADE")


async def drop_at_end(session: Session) -> None:
    """The session ended (also a reset socket): drop its temporary schema, best effort (what a
    failure leaves behind, the next primary start removes)."""
    if session.engine.read_only:
        return
    try:
        if has_temp_schema(session):
            await _run(session, f"DROP SCHEMA IF EXISTS {_temp_schema(session)} CASCADE")
    except Exception as exc:  # the client is gone: nobody to tell
        _log.warning("could not drop the temporary schema of session %s: %s", session.backend_pid, exc)


def drop_orphans(conn: Any) -> None:
    """On a primary opening a database (writer connection, inside its bootstrap transaction):
    drop the temporary schemas left by sessions that a crash or restart ended."""
    rows = conn.execute("SELECT name FROM __strata_schemas WHERE name LIKE 'pg\\_temp\\_%' ESCAPE '\\'").fetchall()
    for (name,) in rows:
        for tr in translate(f"DROP SCHEMA IF EXISTS {name} CASCADE", Catalog.load(conn)):
            for step in tr.steps:
                conn.execute(step)
