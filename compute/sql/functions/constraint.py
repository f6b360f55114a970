"""UDFs that constraint triggers call: pg_raise and the deferred foreign-key bookkeeping."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compute.sql.api import SqlError
from compute.sql.functions.common import scalar_registrar
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler

if TYPE_CHECKING:
    pass


def _raise(sqlstate: str, message: str, detail: str | None = None) -> None:
    raise SqlError(sqlstate, message, detail=detail)


HANDLERS: dict[str, Handler] = {
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    scalar("pg_raise", _raise, -1)  # (sqlstate, message[, detail]): constraint triggers

    def notice(sqlstate: Any, message: Any) -> None:
        """A NOTICE (class 00) or WARNING that only the data can decide, e.g. DROP ROLE IF EXISTS."""
        if ctx.backend is not None:
            ctx.backend.warnings.append((str(sqlstate), str(message)))

    scalar("pg_notice", notice, 2)  # (sqlstate, message): sent with the statement's result

    def fk_deferred(prefix: Any, initially: Any) -> int:
        state = ctx.fk_state
        return 1 if state is not None and state.is_deferred(str(prefix), bool(initially)) else 0

    def fk_defer(prefix: Any, side: Any, rowid: Any, detail: Any) -> None:
        ctx.fk_state.defer(str(prefix), str(side), int(rowid), detail)

    scalar("pg_fk_deferred", fk_deferred, 2)  # triggers of DEFERRABLE foreign keys (ddl.fk_trigger_sql)
    scalar("pg_fk_defer", fk_defer, 4)
