"""SQL functions that ask the compute node about itself: role, log positions, promotion, replicas.

PostgreSQL's recovery/WAL functions (``pg_is_in_recovery()``, ``pg_current_wal_lsn()``,
``pg_last_wal_replay_lsn()``, ``pg_promote()``, the ``pg_stat_replication`` view) and Strata's
``strata_node_status()`` for the control plane. They read ``ctx.node``: the engine's
``ConnectionFactory`` (``compute.node`` describes the contract), set on every pooled
connection. LSNs are returned as pg_lsn storage values (int64 byte positions).

``pg_promote()`` blocks until the node is primary and ``pg_stat_replication`` may do I/O: the
translator marks statements using them ``off_loop`` so they always run on an engine thread.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.node import NodeStatus, StatusText
from compute.sql.api import SqlError
from compute.sql.functions.common import simple
from compute.sql.translate.scope import Handler, Scope, fn
from compute.sql.types import Ty
from strata.storage import StorageError

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler




log = logging.getLogger("strata.compute.node")

PROMOTE_DEFAULT_WAIT_S = 60  # pg_promote()'s wait_seconds default, as in PostgreSQL


def _recovery_in_progress() -> SqlError:
    return SqlError("55000", "recovery is in progress",
                    hint="WAL control functions cannot be executed during recovery.")


def _promote_quietly(node: Any, timeout_s: float) -> None:
    try:
        node.promote(timeout_s)
    except StorageError as exc:
        log.error("pg_promote(wait => false) failed: %s", exc)


def _utc_text(micros: int) -> str:
    value = _dt.datetime.fromtimestamp(micros / 1_000_000, _dt.UTC)
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "+00"


def register_udfs(conn: Any, ctx: Any) -> None:
    """Register the node functions on one connection (``ctx.node`` may be None in tools)."""

    def status() -> NodeStatus | None:
        node = ctx.node
        return None if node is None else node.status()

    def in_recovery() -> bool:
        st = status()
        return st is not None and st.role == "replica"

    def current_lsn(field: str) -> Any:
        st = status()
        if st is None:
            return 0
        if st.role == "replica":
            raise _recovery_in_progress()
        return int(getattr(st, field))

    def replay_lsn() -> Any:
        st = status()
        return st.replay_lsn if st is not None and st.role == "replica" else None

    def replay_timestamp() -> Any:
        st = status()
        if st is None or st.role != "replica" or not st.last_replay_ts_us:
            return None
        return _utc_text(st.last_replay_ts_us)

    status_text = StatusText()  # per connection: the proxy's monitor polls on one

    def node_status() -> str:
        st = status()
        return "{}" if st is None else status_text.of(st)

    def promote(wait: Any = 1, wait_seconds: Any = PROMOTE_DEFAULT_WAIT_S) -> Any:
        node = ctx.node
        st = status()
        if node is None or st is None or st.role != "replica":
            raise SqlError("55000", "recovery is not in progress",
                           hint="Recovery control functions can only be executed during recovery.")
        if wait is None or wait_seconds is None:
            return None  # pg_promote is STRICT
        seconds = int(wait_seconds)
        if seconds <= 0:
            raise SqlError("22023", '"wait_seconds" must not be negative or zero')
        if not wait:  # PostgreSQL only signals the promotion and returns at once
            threading.Thread(target=_promote_quietly, args=(node, float(seconds)),
                             name="pg_promote", daemon=True).start()
            return 1
        try:
            node.promote(float(seconds))
        except StorageError as exc:
            raise SqlError("55000", f"could not promote this node: {exc}") from None
        return 1

    def replication_json() -> str:
        node = ctx.node
        peers = node.replication() if node is not None else []
        rows = []
        for peer in peers:
            host, _, port = peer.address.rpartition(":")
            rows.append({
                "application_name": peer.name,
                "client_addr": host or peer.address or None,
                "client_port": int(port) if port.isdigit() else None,
                "state": peer.state,
                "sent_lsn": int(peer.sent_lsn),
            })
        return json.dumps(rows)

    scalar = conn.create_scalar_function
    scalar("pg_is_in_recovery", lambda: 1 if in_recovery() else 0, 0)
    scalar("pg_current_wal_lsn", lambda: current_lsn("written_lsn"), 0)
    scalar("pg_current_wal_insert_lsn", lambda: current_lsn("written_lsn"), 0)
    scalar("pg_current_wal_flush_lsn", lambda: current_lsn("durable_lsn"), 0)
    scalar("pg_last_wal_replay_lsn", replay_lsn, 0)
    scalar("pg_last_wal_receive_lsn", replay_lsn, 0)
    scalar("pg_last_xact_replay_timestamp", replay_timestamp, 0)
    scalar("strata_node_status", node_status, 0)
    scalar("pg_promote", promote, -1)
    scalar("pg_stat_replication_json", replication_json, 0)


def _wal_lsn_diff(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                  scope: Scope) -> tuple[exp.Expression, Ty]:
    lsn = Ty(T.PG_LSN)
    if len(args) != 2 or any(t.oid not in (T.PG_LSN, T.UNKNOWN) for t in types):
        names = ", ".join(c.state.catalog.format_type(t.oid) for t in types)
        raise SqlError("42883", f"function pg_wal_lsn_diff({names}) does not exist",
                       hint="No function matches the given name and argument types. You might need to "
                            "add explicit type casts.")
    left, right = (c.coerce(a, t, lsn) for a, t in zip(args, types, strict=True))
    return exp.Cast(this=exp.Paren(this=exp.Sub(this=left, expression=right)),
                    to=exp.DataType.build("TEXT")), ty.NUMERIC


def _promote(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
             scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) > 2:
        raise SqlError("42883", "function pg_promote() does not exist with more than 2 arguments")
    wanted = (ty.BOOL, ty.INT4)
    coerced = [c.coerce(a, t, w) for a, t, w in zip(args, types, wanted, strict=False)]
    c.state.off_loop = True  # blocks until the node is primary: never on the event loop
    return fn("pg_promote", *coerced), ty.BOOL


HANDLERS: dict[str, Handler] = {
    "pg_is_in_recovery": simple("pg_is_in_recovery", ty.BOOL),
    "pg_current_wal_lsn": simple("pg_current_wal_lsn", Ty(T.PG_LSN)),
    "pg_current_wal_insert_lsn": simple("pg_current_wal_insert_lsn", Ty(T.PG_LSN)),
    "pg_current_wal_flush_lsn": simple("pg_current_wal_flush_lsn", Ty(T.PG_LSN)),
    "pg_last_wal_replay_lsn": simple("pg_last_wal_replay_lsn", Ty(T.PG_LSN)),
    "pg_last_wal_receive_lsn": simple("pg_last_wal_receive_lsn", Ty(T.PG_LSN)),
    "pg_last_xact_replay_timestamp": simple("pg_last_xact_replay_timestamp", ty.TIMESTAMPTZ),
    "strata_node_status": simple("strata_node_status", Ty(T.JSON)),
    "pg_wal_lsn_diff": _wal_lsn_diff,
    "pg_promote": _promote,
}


