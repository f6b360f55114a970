"""Deferred foreign keys: SET CONSTRAINTS and the check at COMMIT, as PostgreSQL does them.

A DEFERRABLE foreign key is enforced by triggers (sql/ddl.py ``fk_trigger_sql``) that ask the
session whether the constraint is deferred right now (``pg_fk_deferred``). An immediate one fails
the statement at once; a deferred one queues the child row (``pg_fk_defer``) and the queue is
checked again at COMMIT, or by SET CONSTRAINTS ... IMMEDIATE for the constraints it names: rows
that were fixed in the meantime (parent inserted, child deleted or updated) pass, the first one
still violating fails with 23503 (at COMMIT the transaction then rolls back).

Savepoints keep a mark of the queue and of the modes, so ROLLBACK TO forgets what the rolled-back
work queued and restores the SET CONSTRAINTS state, as PostgreSQL's subtransactions do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from compute.sql import COLUMNS, CONSTRAINTS, TABLES, Column, fk_recheck_sql
from compute.sql.api import SqlError

Pending = tuple[str, str, int, str | None]  # (trigger prefix, 'c' child row | 'p' parent change, rowid, detail)


@dataclass
class DeferredState:
    """One transaction's SET CONSTRAINTS modes and queue of rows to re-check."""

    all_deferred: bool | None = None  # SET CONSTRAINTS ALL ...: overrides the initial modes
    modes: dict[str, bool] = field(default_factory=dict)  # SET CONSTRAINTS name ...: per trigger prefix
    pending: list[Pending] = field(default_factory=list)
    marks: list[tuple[int, bool | None, dict[str, bool]]] = field(default_factory=list)  # per savepoint

    def is_deferred(self, prefix: str, initially_deferred: bool) -> bool:
        mode = self.modes.get(prefix)
        if mode is not None:
            return mode
        return self.all_deferred if self.all_deferred is not None else initially_deferred

    def defer(self, prefix: str, side: str, rowid: int, detail: str | None) -> None:
        self.pending.append((prefix, side, rowid, detail))

    def set_mode(self, prefixes: tuple[str, ...] | None, deferred: bool) -> None:
        if prefixes is None:
            self.all_deferred = deferred
            self.modes.clear()
        else:
            for prefix in prefixes:
                self.modes[prefix] = deferred

    # ---- savepoints (kept parallel to Transaction.savepoints)
    def savepoint(self) -> None:
        self.marks.append((len(self.pending), self.all_deferred, dict(self.modes)))

    def release(self, index: int) -> None:
        del self.marks[index:]

    def rollback_to(self, index: int) -> None:
        size, all_deferred, modes = self.marks[index]
        del self.pending[size:]
        self.all_deferred, self.modes = all_deferred, dict(modes)
        del self.marks[index + 1:]


@dataclass(frozen=True)
class _ForeignKey:
    name: str
    child: str
    ccols: list[Column]
    parent: str
    pcols: list[Column]
    info: dict[str, object]


def _columns(conn: Any, table_oid: int, names: list[str]) -> list[Column]:
    rows = {r[0]: Column(r[0], r[1], r[2], r[3]) for r in conn.execute(
        f"SELECT name, attnum, type_oid, typmod FROM {COLUMNS} WHERE table_oid = ?", (table_oid,))}
    return [rows[n] for n in names if n in rows]


def _load(conn: Any, prefix: str) -> _ForeignKey | None:
    """The foreign key behind a trigger prefix, from the catalog as this transaction sees it."""
    row = conn.execute(
        f"SELECT k.name, CASE t.schema WHEN 'public' THEN t.name ELSE t.schema || '.' || t.name END, k.columns, "
        f"k.table_oid, CASE r.schema WHEN 'public' THEN r.name ELSE r.schema || '.' || r.name END, "
        f"k.ref_columns, k.ref_table, k.definition "
        f"FROM {CONSTRAINTS} k JOIN {TABLES} t ON t.oid = k.table_oid JOIN {TABLES} r ON r.oid = k.ref_table "
        f"WHERE k.type = 'f' AND json_extract(k.definition, '$.trigger') = ?", (prefix,)).fetchone()
    if row is None:
        return None  # dropped since the row was queued: nothing left to check
    name, child, ccols, child_oid, parent, pcols, parent_oid, definition = row
    return _ForeignKey(name, child, _columns(conn, child_oid, json.loads(ccols)), parent,
                       _columns(conn, parent_oid, json.loads(pcols)), json.loads(definition))


def pending_on(conn: Any, state: DeferredState, table: str) -> bool:
    """Whether queued checks belong to triggers of ``table`` (PostgreSQL then refuses ALTER TABLE)."""
    for prefix in dict.fromkeys(e[0] for e in state.pending):
        fk = _load(conn, prefix)
        if fk is not None and table in {fk.child if e[1] == "c" else fk.parent
                                        for e in state.pending if e[0] == prefix}:
            return True
    return False


def check_pending(conn: Any, state: DeferredState, prefixes: tuple[str, ...] | None = None) -> None:
    """Re-check the queued rows (of ``prefixes``, or all); raise 23503 for the first that still
    violates its foreign key. Checked entries leave the queue."""
    wanted = set(prefixes) if prefixes is not None else None
    entries = [e for e in state.pending if wanted is None or e[0] in wanted]
    if not entries:
        return
    state.pending = [e for e in state.pending if wanted is not None and e[0] not in wanted]
    rowids: dict[str, set[int]] = {}
    for prefix, _side, rowid, _detail in entries:
        rowids.setdefault(prefix, set()).add(rowid)
    keys: dict[str, _ForeignKey] = {}
    failing: dict[tuple[str, int], str] = {}
    for prefix, ids in rowids.items():
        fk = _load(conn, prefix)
        if fk is None:
            continue
        keys[prefix] = fk
        sql = fk_recheck_sql(fk.name, fk.child, fk.ccols, fk.parent, fk.pcols, fk.info)
        for rowid, detail in conn.execute(sql, (json.dumps(sorted(ids)),)):
            failing[(prefix, int(rowid))] = str(detail)
    for prefix, side, rowid, detail in entries:  # in queue order, as PostgreSQL fires them
        child_detail = failing.get((prefix, rowid))
        if child_detail is None:
            continue
        fk = keys[prefix]
        if side == "p":
            raise SqlError("23503", f'update or delete on table "{_bare(fk.parent)}" violates foreign key '
                                    f'constraint "{fk.name}" on table "{_bare(fk.child)}"', detail=detail)
        raise SqlError("23503", f'insert or update on table "{_bare(fk.child)}" violates foreign key constraint '
                                f'"{fk.name}"', detail=child_detail)


def _bare(key: str) -> str:
    """A relation key without its schema (messages name relations as PostgreSQL does)."""
    return key.split(".", 1)[1] if "." in key else key
