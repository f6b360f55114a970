"""Administration functions: pg_notify, the pg_advisory_* family, pg_terminate_backend,
pg_cancel_backend, pg_blocking_pids, and the rows behind pg_stat_activity and pg_locks.

They act on ``ctx.backend``: the session's ``compute.backend.Backend`` (set on the connection
before each statement; None in tools that run SQL without a session, where they raise
55000). Every call here marks its statement ``off_loop``: it runs on an engine thread, and an
advisory lock that would wait ends the run with WouldBlock so the session awaits it on the
event loop and re-runs the statement (compute/backend.py ``run_waiting``); where a re-run is
not safe it waits on the thread, polling ``ctx.guard`` (cancel, statement_timeout).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute import settings as guc
from compute.sql.api import SqlError
from compute.sql.functions.common import scalar_registrar
from compute.sql.translate.scope import Handler, Scope, fn
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler

VOID = Ty(T.VOID)

# SQL name -> (shared, xact-scope, waits, result type)
_LOCKS: dict[str, tuple[bool, bool, bool, Ty]] = {
    "pg_advisory_lock": (False, False, True, VOID),
    "pg_advisory_lock_shared": (True, False, True, VOID),
    "pg_try_advisory_lock": (False, False, False, ty.BOOL),
    "pg_try_advisory_lock_shared": (True, False, False, ty.BOOL),
    "pg_advisory_xact_lock": (False, True, True, VOID),
    "pg_advisory_xact_lock_shared": (True, True, True, VOID),
    "pg_try_advisory_xact_lock": (False, True, False, ty.BOOL),
    "pg_try_advisory_xact_lock_shared": (True, True, False, ty.BOOL),
}
_UNLOCKS = {"pg_advisory_unlock": False, "pg_advisory_unlock_shared": True}


def _signature(name: str, types: list[Ty]) -> str:
    return f"{name}({', '.join(T.type_name(t.oid) for t in types)})"


def _key_call(sqlite_name: str, result: Ty) -> Handler:
    """A function of one bigint key or two int4 keys (PostgreSQL's two signatures)."""

    def handler(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
        if len(args) not in (1, 2):
            raise SqlError("42883", f"function {_signature(node.name.lower(), types)} does not exist",
                           hint="No function matches the given name and argument types. You might "
                                "need to add explicit type casts.")
        key_ty = ty.INT8 if len(args) == 1 else ty.INT4
        c.state.off_loop = True
        coerced = [c.coerce(a, t, key_ty) for a, t in zip(args, types, strict=True)]
        return fn(sqlite_name, exp.Literal.string(node.name.lower()), *coerced), result

    return handler


def _call(sqlite_name: str, result: Ty, arg_types: tuple[Ty, ...]) -> Handler:
    """A fixed-signature call (arguments coerced), always run off the event loop."""

    def handler(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
        if not (len(arg_types) - (sqlite_name == "strata_terminate_backend") <= len(args) <= len(arg_types)):
            raise SqlError("42883", f"function {_signature(node.name.lower(), types)} does not exist",
                           hint="No function matches the given name and argument types. You might "
                                "need to add explicit type casts.")
        c.state.off_loop = True
        coerced = [c.coerce(a, t, want) for a, t, want in zip(args, types, arg_types, strict=False)]
        return fn(sqlite_name, *coerced), result

    return handler


HANDLERS: dict[str, Handler] = {
    **{name: _key_call("strata_advisory_lock", spec[3]) for name, spec in _LOCKS.items()},
    **{name: _key_call("strata_advisory_unlock", ty.BOOL) for name in _UNLOCKS},
    "pg_advisory_unlock_all": _call("strata_advisory_unlock_all", VOID, ()),
    "pg_notify": _call("strata_notify", VOID, (ty.TEXT, ty.TEXT)),
    "pg_terminate_backend": _call("strata_terminate_backend", ty.BOOL, (ty.INT4, ty.INT8)),
    "pg_cancel_backend": _call("strata_cancel_backend", ty.BOOL, (ty.INT4,)),
    "pg_blocking_pids": _call("strata_blocking_pids", Ty(T.INT4_ARRAY), (ty.INT4,)),
}


def _backend(ctx: Any) -> Any:
    backend = getattr(ctx, "backend", None)
    if backend is None:
        raise SqlError("55000", "administration functions need a client session")
    return backend


def register_udfs(conn: Any, ctx: Any) -> None:
    """The SQLite side: thin calls into the session's Backend (compute/backend.py)."""
    scalar = scalar_registrar(conn)

    def lock(name: str, *keys: Any) -> Any:
        if any(k is None for k in keys):
            return None  # strict: NULL in, NULL out, no lock
        shared, xact, wait, _ = _LOCKS[name]
        lock_timeout = ctx.settings.get("lock_timeout", "0")
        got = _backend(ctx).lock(tuple(int(k) for k in keys), shared=shared, xact=xact, wait=wait,
                                 guard=ctx.guard, lock_timeout_ms=guc.parse_milliseconds("lock_timeout", lock_timeout))
        return "" if wait else int(got)  # void is the empty string

    def unlock(name: str, *keys: Any) -> Any:
        if any(k is None for k in keys):
            return None
        return int(_backend(ctx).unlock(tuple(int(k) for k in keys), shared=_UNLOCKS[name]))

    def unlock_all() -> str:
        _backend(ctx).unlock_all()
        return ""

    def notify(channel: Any, payload: Any = None) -> str:
        _backend(ctx).notify(channel, payload)
        return ""

    def terminate(pid: Any, timeout: Any = 0) -> Any:
        if pid is None:
            return None
        if timeout is not None and int(timeout) < 0:
            raise SqlError("22023", '"timeout" must not be negative')
        return int(_backend(ctx).signal(int(pid), terminate=True))

    def cancel(pid: Any) -> Any:
        return None if pid is None else int(_backend(ctx).signal(int(pid), terminate=False))

    scalar("strata_advisory_lock", lock)
    scalar("strata_advisory_unlock", unlock)
    scalar("strata_advisory_unlock_all", unlock_all, 0)
    scalar("strata_notify", notify)
    scalar("strata_terminate_backend", terminate)
    scalar("strata_cancel_backend", cancel, 1)
    def blocking_pids(pid: Any) -> Any:
        return None if pid is None else json.dumps(_backend(ctx).blocking_pids(int(pid)))

    scalar("strata_blocking_pids", blocking_pids, 1)
    scalar("strata_activity_json", lambda: _backend(ctx).activity_json(), 0)
    scalar("strata_locks_json", lambda: _backend(ctx).locks_json(), 0)
    scalar("strata_cursors_json", lambda: _backend(ctx).session.cursors.view_json(), 0)  # pg_cursors
    scalar("strata_prepared_json", lambda: _backend(ctx).session.prepared_view_json(), 0)  # pg_prepared_statements
    scalar("strata_listening_channels_json", lambda: _listening(ctx), 0)


def _listening(ctx: Any) -> str:
    backend = getattr(ctx, "backend", None)
    channels = [] if backend is None else backend.listening_channels()
    return json.dumps(channels)

