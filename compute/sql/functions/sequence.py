"""Sequence functions: nextval, currval, lastval, setval."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import compute.sql.types as ty
from compute.sql.api import SqlError
from compute.sql.catalog.catalog import DEFAULT_SEARCH_PATH, SEQUENCES, runtime_relation
from compute.sql.functions.common import scalar_registrar, simple
from compute.sql.functions.session import SessionContext
from compute.sql.privileges import checker_of, sequence_check
from compute.sql.translate.scope import Handler

if TYPE_CHECKING:
    pass



HANDLERS: dict[str, Handler] = {
    "nextval": simple("nextval", ty.INT8, write=True),
    "setval": simple("setval", ty.INT8, write=True),
    "currval": simple("currval", ty.INT8),
    "lastval": simple("lastval", ty.INT8),
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)

    # --- sequences (nextval writes, so translations calling it are marked is_write)
    def _seq_row(name: Any, need: str) -> tuple[int, int, int, int, int, int, int, int]:
        text = str(name)
        found = runtime_relation(conn, text, ctx.settings.get("search_path", DEFAULT_SEARCH_PATH), ctx.user,
                                 ctx.backend_pid, "S")  # by the session's search path (schemas.py)
        rows = [] if found is None else conn.execute(
            f"SELECT s.oid, s.last_value, s.is_called, s.increment, s.min_value, s.max_value, s.cycle, "
            f"s.start_value FROM {SEQUENCES} s WHERE s.oid = ?",
            (found[0],),
        ).fetchall()
        if not rows:
            raise SqlError("42P01", f'relation "{text}" does not exist')
        if checker_of(ctx) is not None:  # not a superuser: one of ``need`` (compute/sql/privileges.py)
            sequence_check(conn, ctx.user, rows[0][0], text, need)
        return rows[0]

    def schema_version() -> int:
        return int(conn.execute("PRAGMA schema_version").fetchall()[0][0])

    def nextval(name: Any) -> Any:
        if name is None:
            return None
        oid, last, called, inc, lo, hi, cycle, _start = _seq_row(name, "Uw")
        version = schema_version()
        position = ctx.sequence_positions.get(oid)
        if position is not None and position[2] == version:  # survives a rollback of the row
            last, called = position[0], position[1]
        value = last + inc if called else last
        if value > hi or value < lo:
            if not cycle:
                limit = "maximum" if value > hi else "minimum"
                raise SqlError("2200H", f'nextval: reached {limit} value of sequence "{name}" ({hi if value > hi else lo})')
            value = lo if value > hi else hi
        conn.execute(f"UPDATE {SEQUENCES} SET last_value = ?, is_called = 1 WHERE oid = ?", (value, oid))
        ctx.sequence_positions[oid] = (value, True, version)
        ctx.sequence_values[str(oid)] = value  # by oid: a re-created sequence has no currval yet
        ctx.last_sequence_value = value
        return value

    def currval(name: Any) -> Any:
        if name is None:
            return None
        value = ctx.sequence_values.get(str(_seq_row(name, "Ur")[0]))
        if value is None:
            raise SqlError("55000", f'currval of sequence "{name}" is not yet defined in this session')
        return value

    def lastval() -> Any:
        if ctx.last_sequence_value is None:
            raise SqlError("55000", "lastval is not yet defined in this session")
        return ctx.last_sequence_value

    def setval(name: Any, value: Any, is_called: Any = 1) -> Any:
        oid, _last, _called, _inc, lo, hi, _cycle, _start = _seq_row(name, "w")
        if not lo <= int(value) <= hi:
            raise SqlError("22003", f'setval: value {value} is out of bounds for sequence "{name}" ({lo}..{hi})')
        conn.execute(f"UPDATE {SEQUENCES} SET last_value = ?, is_called = ? WHERE oid = ?",
                     (int(value), 1 if is_called else 0, oid))
        ctx.sequence_positions[oid] = (int(value), bool(is_called), schema_version())
        if is_called:
            ctx.sequence_values[str(oid)] = int(value)
        return int(value)
    scalar("nextval", nextval, 1)
    scalar("currval", currval, 1)
    scalar("lastval", lastval, 0)
    scalar("setval", setval, -1)
    def seq_reset(oid: Any) -> None:
        ctx.sequence_positions.pop(int(oid), None)
        conn.execute(f"UPDATE {SEQUENCES} SET last_value = start_value, is_called = 0 WHERE oid = ?", (oid,))

    def seq_reset_owned(table_oid: Any) -> None:
        """TRUNCATE ... RESTART IDENTITY: every sequence the table owns starts over."""
        owned = conn.execute(f"SELECT oid FROM {SEQUENCES} WHERE owner_table = ?", (table_oid,)).fetchall()
        for (oid,) in owned:
            seq_reset(oid)

    scalar("pg_seq_reset_owned", seq_reset_owned, 1)
