"""Session settings and information: DEFAULT_SETTINGS, SessionContext, current_setting,
set_config, version(), pg_sleep."""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import apsw
from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute import settings as guc
from compute.sql.api import SqlError
from compute.sql.functions.common import scalar_registrar, simple
from compute.sql.translate.scope import Handler, Scope, fn
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


def _current_schema(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: Scope) -> tuple[exp.Expression, Ty]:
    """The first existing schema of the search path (NULL if none), at translation time: the
    catalog carries the session's path and translations are cached per path."""
    existing = c.state.catalog.existing_path()
    return (exp.Literal.string(existing[0]) if existing else exp.Null()), ty.NAME


def _current_schemas(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                     scope: Scope) -> tuple[exp.Expression, Ty]:
    """current_schemas(implicit): the existing schemas of the path; with the implicit ones
    (the session's temporary schema, pg_catalog) first when asked."""
    if len(args) != 1:
        raise SqlError("42883", "function current_schemas() does not exist")
    catalog = c.state.catalog
    explicit = catalog.existing_path()
    temp = catalog.temp_schema()
    implicit = [*([temp] if temp else []), "pg_catalog", *explicit]
    value = exp.Case(ifs=[exp.If(this=args[0], true=exp.Literal.string(json.dumps(implicit)))],
                     default=exp.Literal.string(json.dumps(explicit)))
    return value, Ty(T.NAME_ARRAY)


def _current_user(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                  scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("pg_session_user"), ty.NAME


def _my_temp_schema(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: Scope) -> tuple[exp.Expression, Ty]:
    """The OID of the session's temporary schema, 0 without one (translations are cached per
    search path, and a session's path names its temporary schema: compute/temp_tables.py)."""
    catalog = c.state.catalog
    temp = catalog.temp_schema()
    return exp.Literal.number(catalog.schemas[temp].oid if temp else 0), Ty(T.OID)


SERVER_VERSION = guc.SERVER_VERSION


SERVER_VERSION_NUM = guc.SERVER_VERSION_NUM


# The session's defaults (compute/settings.py), spelled the way PostgreSQL spells them.
DEFAULT_SETTINGS: dict[str, str] = {
    **{guc.reported_name(name) or name: value for name, value in guc.DEFAULTS.items()},
    "search_path_schemas": "public",
}


# Setting names are case-insensitive in PostgreSQL; map lower-case to canonical spelling.
CANONICAL_SETTING = {name.lower(): name for name in DEFAULT_SETTINGS}


def canonical_setting_name(name: str) -> str:
    return CANONICAL_SETTING.get(name.lower(), name.lower())


@dataclass
class SessionContext:
    """Per-session state the UDFs read; the session updates it before each statement."""

    user: str = "postgres"
    database: str = "postgres"
    backend_pid: int = 0
    timezone: str = "UTC"
    txn_start: _dt.datetime | None = None  # aware; now()/CURRENT_TIMESTAMP
    statement_start: _dt.datetime | None = None  # aware; statement_timestamp()
    settings: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    sequence_values: dict[str, int] = field(default_factory=dict)  # currval()
    last_sequence_value: int | None = None  # lastval()
    # Sequence positions handed out by nextval/setval on this (writer) connection, kept outside
    # the transaction so a rollback does not hand the same value out again, as in PostgreSQL:
    # oid -> (last_value, is_called, PRAGMA schema_version when set). DDL invalidates them.
    sequence_positions: dict[int, tuple[int, bool, int]] = field(default_factory=dict)
    # set_config() in the running statement: name -> (value, is_local, value before the statement)
    changed_settings: dict[str, tuple[str, bool, str | None]] = field(default_factory=dict)
    fk_state: Any = None  # compute.deferred.DeferredState of the transaction (deferred foreign keys)
    node: Any = None  # the engine's ConnectionFactory (compute.node contract), for node_functions
    guard: Callable[[], bool] | None = None  # true when the running statement must stop (pg_sleep polls it)
    backend: Any = None  # the session's compute.backend.Backend (functions/admin.py)

    def now(self) -> _dt.datetime:
        return self.txn_start or _dt.datetime.now(_dt.UTC)

    def start_statement(self, in_transaction: bool) -> None:
        """Convenience for the session: stamp statement (and, outside a txn, transaction) time."""
        now = _dt.datetime.now(_dt.UTC)
        self.statement_start = now
        if not in_transaction or self.txn_start is None:
            self.txn_start = now


SLEEP_SLICE_S = 0.02  # pg_sleep checks for cancel / statement_timeout this often


def _sleep(secs: Any, ctx: SessionContext) -> None:
    """pg_sleep: sleeps in slices so that cancel and statement_timeout stop it (57014).

    SQLite's progress handler is not called while a function runs, so the statement's guard
    is polled here; raising InterruptError is what the session maps to 57014.
    """
    deadline = time.monotonic() + max(0.0, float(secs or 0))
    backend = getattr(ctx, "backend", None)  # pg_stat_activity shows (Timeout, PgSleep)
    if backend is not None:
        backend.wait_event = ("Timeout", "PgSleep")
    try:
        while True:
            if ctx.guard is not None and ctx.guard():
                raise apsw.InterruptError("interrupted")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, SLEEP_SLICE_S))
    finally:
        if backend is not None:
            backend.wait_event = None


HANDLERS: dict[str, Handler] = {
    "version": simple("version", ty.TEXT),
    "current_database": simple("current_database", ty.NAME),
    "pg_backend_pid": simple("pg_backend_pid", ty.INT4),
    "inet_server_port": simple("inet_server_port", ty.INT4),
    "current_schemas": _current_schemas,
    "current_setting": simple("current_setting", ty.TEXT),
    "set_config": simple("set_config", ty.TEXT),
    "pg_sleep": simple("pg_sleep", Ty(T.VOID), off_loop=True),
    "pg_session_user": simple("pg_session_user", ty.NAME),
    "current_schema": _current_schema,
    "pg_my_temp_schema": _my_temp_schema,
    "pg_is_other_temp_schema": simple("pg_is_other_temp_schema", ty.BOOL),
    "current_user": _current_user,
    "session_user": _current_user,
    "user": _current_user,
    "current_role": _current_user,
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)

    # --- session / system information
    scalar("version", lambda: f"PostgreSQL {SERVER_VERSION} (Strata) on x86_64-pc-linux-gnu, compiled by "
           f"Python, 64-bit", 0)
    scalar("current_database", lambda: ctx.database, 0)
    scalar("pg_session_user", lambda: ctx.user, 0)
    scalar("pg_backend_pid", lambda: ctx.backend_pid, 0)
    scalar("inet_server_port", lambda: int(ctx.settings.get("port", "5432")), 0)

    def current_setting(name: Any, missing_ok: Any = 0) -> Any:
        if name is None:
            return None
        key = canonical_setting_name(str(name))
        if key == "TimeZone":
            return ctx.timezone
        # the session keeps settings under lower-case names, the defaults here canonical ones
        for candidate in (key.lower(), key):
            if candidate in ctx.settings:
                return ctx.settings[candidate]
        if missing_ok or "." in key:
            if "." in key and not missing_ok:
                raise SqlError("42704", f'unrecognized configuration parameter "{name}"')
            return None
        raise SqlError("42704", f'unrecognized configuration parameter "{name}"')

    scalar("current_setting", current_setting)

    def set_config(name: Any, value: Any, is_local: Any) -> Any:
        key = canonical_setting_name(str(name))
        text = "" if value is None else str(value)
        if key.lower() in guc.DEFAULTS and key.lower() not in ("transaction_isolation", "transaction_read_only"):
            text = guc.normalize(key, text, ctx.settings.get(key.lower()))  # as SET checks it: set_config is not a way around
        prior = ctx.changed_settings.get(key)
        before = prior[2] if prior is not None else ctx.settings.get(key.lower())  # ROLLBACK restores it
        ctx.settings[key.lower()] = text
        if key == "TimeZone":
            T.get_zone(str(value))
            ctx.timezone = str(value)
        ctx.changed_settings[key] = (text, bool(is_local), before)
        return text

    scalar("set_config", set_config, 3)

    def settings_json() -> str:
        merged = {canonical_setting_name(k): v for k, v in ctx.settings.items()}
        merged["TimeZone"] = ctx.timezone
        merged.pop("search_path_schemas", None)
        return json.dumps(merged)

    scalar("pg_settings_json", settings_json, 0)
    scalar("pg_sleep", lambda secs: _sleep(secs, ctx), 1)

    def is_other_temp_schema(oid: Any) -> Any:
        """An OID of the temporary schema of another session (pg_temp_<its backend pid>)."""
        if oid is None:
            return None
        rows = conn.execute("SELECT name FROM main.__strata_schemas WHERE oid = ?", (oid,)).fetchall()
        return int(bool(rows) and rows[0][0].startswith("pg_temp_") and rows[0][0] != f"pg_temp_{ctx.backend_pid}")

    scalar("pg_is_other_temp_schema", is_other_temp_schema, 1)
