"""Server-side cursors (DECLARE / FETCH / MOVE / CLOSE) of one session.

A cursor in a READ COMMITTED transaction that has not written streams: it holds a pooled reader
with its own SQLite read transaction (the snapshot of DECLARE) and an open statement, and FETCH
reads only the rows it returns (a NO SCROLL or plain cursor keeps none of them; a SCROLL cursor
keeps the rows read so far, so it can go back). Elsewhere (REPEATABLE READ, after a write in the
transaction, more than STREAMING_CURSORS open, WITH HOLD outside a block) the result is read
whole through the session, at most MATERIALIZE_ROWS rows. At COMMIT a WITH HOLD cursor reads its
remaining rows (same bound) and gives its reader back; other cursors end with their transaction.

Positioning follows PostgreSQL's PortalRunFetch / PortalRunSelect (portalPos, atStart, atEnd).
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import apsw

from compute.explain import run_explain
from compute.sql.api import ALL_ROWS, CursorSpec, FetchSpec, Kind, SqlError, Translation
from compute.transaction import Result, bindable

if TYPE_CHECKING:
    from compute.engine import Pooled
    from compute.session import Session

T = TypeVar("T")
CURSORS_PER_SESSION = 1_000  # open cursors per session, in cursors
STREAMING_CURSORS = 2  # cursors of one session holding a pooled reader at once
MATERIALIZE_ROWS = 100_000  # rows a materialized (or WITH HOLD) cursor may hold, in rows


def _forward_only(scroll: bool | None) -> SqlError:
    if scroll is False:
        return SqlError("55000", "cursor can only scan forward",
                        hint="Declare it with SCROLL option to enable backward scan.")
    return SqlError("0A000", "backward fetch on a cursor declared without SCROLL is not supported "
                             "here (rows already read are not kept)",
                    hint="Declare it with SCROLL option to enable backward scan.")


@dataclass(eq=False)  # cursors are compared by identity (lists of them, `in`)
class Cursor:
    """One open cursor: its row source and PostgreSQL's portal position."""

    spec: CursorSpec
    txn: object | None  # the transaction that declared it (None: declared outside a block)
    source: Iterator[tuple[Any, ...]] | None  # rows not read yet; None once exhausted
    retain: bool  # keep rows read (SCROLL, or fully materialized)
    reader: Pooled | None = None  # the streaming reader, given back when done
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # rows base+1 .. base+len(rows)
    base: int = 0
    exec_pos: int = 0  # the executor's position: 0 before the first row, n on row n
    total: int | None = None  # number of rows, once the source is exhausted
    portal_pos: int = 0
    at_start: bool = True
    at_end: bool = False
    created: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))
    savepoints: frozenset[int] = frozenset()  # the savepoints (by instance) open at DECLARE

    # ---- rows

    def _row(self, n: int) -> tuple[Any, ...] | None:
        """Row n (1-based), reading the source as far as needed; None past the end."""
        if n <= self.base:
            raise _forward_only(self.spec.scroll)
        index = n - self.base - 1
        while index >= len(self.rows):
            if self.source is None:
                return None
            try:
                row = next(self.source)
            except StopIteration:
                self.total = self.base + len(self.rows)
                self._drop_source()
                return None
            if not self.retain and self.rows:  # rows behind the executor are not needed again
                self.base += len(self.rows)
                self.rows.clear()
                index = n - self.base - 1
            self.rows.append(row)
        return self.rows[index]

    def _drop_source(self) -> None:
        source = self.source
        self.source = None
        if isinstance(source, apsw.Cursor):
            source.close()

    # ---- PostgreSQL's PortalRunSelect

    def _select(self, forward: bool, count: int, out: list[tuple[Any, ...]] | None) -> int:
        if not forward and self.spec.scroll is False:
            raise _forward_only(False)
        if (self.at_end if forward else self.at_start) or count <= 0:
            return 0
        done = 0
        while done < count:
            target = self.exec_pos + 1 if forward else self.exec_pos - 1
            row = self._row(target) if target >= 1 else None
            if row is None:
                self.exec_pos = (self.base + len(self.rows) + 1) if forward else 0
                break
            self.exec_pos = target
            done += 1
            if out is not None:
                out.append(row)
        if forward:
            if done > 0:
                self.at_start = False
            if done < count:
                self.at_end = True
            self.portal_pos += done
        else:
            if done > 0 and self.at_end:
                self.at_end = False
                self.portal_pos += 1
            if done < count:
                self.at_start = True
                self.portal_pos = 0
            else:
                self.portal_pos -= done
        return done

    def _rewind(self) -> None:
        if self.at_start and not self.at_end:
            return
        if self.spec.scroll is False:
            raise _forward_only(False)
        if self.base > 0:
            raise _forward_only(self.spec.scroll)
        self.exec_pos, self.portal_pos, self.at_start, self.at_end = 0, 0, True, False

    # ---- PostgreSQL's DoPortalRunFetch

    def fetch(self, spec: FetchSpec) -> tuple[int, list[tuple[Any, ...]]]:
        """Run one FETCH or MOVE: (row count for the tag, rows returned)."""
        out: list[tuple[Any, ...]] | None = None if spec.move else []
        direction, count = spec.direction, spec.count
        if direction in ("forward", "backward") and count < 0:
            direction, count = ("backward" if direction == "forward" else "forward"), -count
        elif direction == "absolute":
            return self._absolute(count, out), out or []
        elif direction == "relative":
            if count > 0:
                if count > 1:
                    self._select(True, count - 1, None)
                return self._select(True, 1, out), out or []
            if count < 0:
                if count < -1:
                    self._select(False, -count - 1, None)
                return self._select(False, 1, out), out or []
            direction = "forward"
        forward = direction == "forward"
        if count == 0:
            on_row = not self.at_start and not self.at_end
            if out is None:
                return (1 if on_row else 0), []
            if on_row:
                self._select(False, 1, None)
                count, forward = 1, True
        if not forward and count == ALL_ROWS and out is None:
            moved = self.portal_pos
            if moved > 0 and not self.at_end:
                moved -= 1
            self._rewind()
            return moved, []
        return self._select(forward, count, out), out or []

    def _absolute(self, count: int, out: list[tuple[Any, ...]] | None) -> int:
        if count > 0:
            if count - 1 < self.portal_pos // 2 or self.portal_pos >= ALL_ROWS:
                self._rewind()
                if count > 1:
                    self._select(True, count - 1, None)
            else:
                pos = self.portal_pos + (1 if self.at_end else 0)
                if count <= pos:
                    self._select(False, pos - count + 1, None)
                elif count > pos + 1:
                    self._select(True, count - pos - 1, None)
            return self._select(True, 1, out)
        if count < 0:
            self._select(True, ALL_ROWS, None)
            if count < -1:
                self._select(False, -count - 1, None)
            return self._select(False, 1, out)
        self._rewind()
        return 0

    def materialize(self) -> None:
        """Read the remaining rows into memory (WITH HOLD at commit), at most MATERIALIZE_ROWS."""
        if self.source is None:
            return
        self.retain = True
        for row in self.source:
            if len(self.rows) >= MATERIALIZE_ROWS:
                raise _too_many(self.spec.name)
            self.rows.append(row)
        self.total = self.base + len(self.rows)
        self._drop_source()


def _too_many(name: str) -> SqlError:
    return SqlError("0A000", f'cursor "{name}" would hold more than {MATERIALIZE_ROWS} rows in memory '
                             "(WITH HOLD, REPEATABLE READ, or after a write in its transaction): not "
                             "supported")


class Cursors:
    """The open cursors of one session, by name."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.open: dict[str, Cursor] = {}
        self.streams: list[Cursor] = []  # protocol portals executed with a row limit (streaming)
        self._marks: list[tuple[str, int]] = []  # the open savepoints: name, instance number
        self._marks_txn: object | None = None  # the transaction they belong to
        self._next_mark = 0

    @property
    def marks(self) -> list[tuple[str, int]]:
        """The open savepoints of the session's current transaction."""
        if self._marks_txn is not self.session.txn:
            self._marks_txn = self.session.txn
            self._marks = []
        return self._marks

    async def run(self, tr: Translation, params: tuple[Any, ...]) -> Result:
        """DECLARE, FETCH / MOVE, CLOSE, and EXPLAIN (which may explain a DECLARE)."""
        if tr.kind is Kind.DECLARE_CURSOR:
            return await self.declare(tr, params)
        if tr.kind is Kind.FETCH:
            return await self.fetch(tr)
        if tr.kind is Kind.CLOSE_CURSOR:
            return self.close(tr.name)
        return await run_explain(self.session, tr, params)

    def binary(self, name: str) -> bool:
        """Whether ``name`` is an open BINARY cursor: PostgreSQL sends a simple-query FETCH from
        it in binary format (an extended-protocol FETCH uses the formats of its Bind)."""
        cursor = self.open.get(name)
        return cursor is not None and cursor.spec.binary

    def columns(self, name: str) -> Translation:
        cursor = self.open.get(name)
        if cursor is None:
            raise SqlError("34000", f'cursor "{name}" does not exist')
        return cursor.spec.query

    async def declare(self, tr: Translation, params: tuple[Any, ...]) -> Result:
        spec = tr.cursor
        assert spec is not None
        session = self.session
        txn = session.txn
        if txn is None and not spec.hold:
            raise SqlError("25P01", "DECLARE CURSOR can only be used in transaction blocks")
        if spec.name in self.open:
            raise SqlError("42P03", f'cursor "{spec.name}" already exists')
        if len(self.open) >= CURSORS_PER_SESSION:
            raise SqlError("54000", f"too many open cursors (at most {CURSORS_PER_SESSION})",
                           hint="Close cursors that are no longer used.")
        query = spec.query
        params = bindable(query, params)
        if self._may_stream():
            cursor = await self._stream(spec, query, params, txn)
        else:
            cursor = await self._materialized(spec, query, params, txn)
        cursor.savepoints = frozenset(mark for _, mark in self.marks)
        self.open[spec.name] = cursor
        return Result("DECLARE CURSOR")

    def _may_stream(self) -> bool:
        """A new cursor may hold a reader: a READ COMMITTED block that has not written, and room."""
        txn = self.session.txn
        streaming = len(self.streams) + sum(1 for c in self.open.values() if c.reader is not None)
        return txn is not None and not txn.writer and not txn.snapshot_isolation and \
            streaming < STREAMING_CURSORS

    def can_stream(self, tr: Translation) -> bool:
        """Whether a protocol portal of ``tr`` executed with a row limit streams (else the wire
        layer reads its whole result, as outside a transaction block)."""
        return tr.kind is Kind.QUERY and not tr.is_write and len(tr.steps) >= 1 and self._may_stream()

    async def open_stream(self, tr: Translation, params: tuple[Any, ...]) -> Cursor:
        txn = self.session.txn
        cursor = await self._stream(CursorSpec("", tr, "", None, False), tr, bindable(tr, params), txn)
        self.streams.append(cursor)
        return cursor

    async def next_rows(self, cursor: Cursor, limit: int) -> tuple[list[tuple[Any, ...]], bool]:
        """The next ``limit`` rows (0: all) of a streaming portal, and whether it is done."""
        if cursor.reader is None:
            return [], True
        spec = FetchSpec("", "forward", limit if limit > 0 else ALL_ROWS)
        _, rows = await self._read(cursor, spec)
        if cursor.at_end:
            self._release(cursor)
            self.streams.remove(cursor)
        return rows, cursor.at_end

    def drop_stream(self, cursor: Cursor) -> None:
        """A streaming portal was closed (Close message)."""
        if cursor in self.streams:
            self.streams.remove(cursor)
            self._release(cursor)

    async def fetch_stream(self, cursor: Cursor, spec: FetchSpec) -> tuple[int, list[tuple[Any, ...]]]:
        """FETCH / MOVE by SQL on a streaming protocol portal."""
        return await self._read(cursor, spec)

    async def _read(self, cursor: Cursor, spec: FetchSpec) -> tuple[int, list[tuple[Any, ...]]]:
        """Run one FETCH on the cursor: on an engine thread when it reads its reader (a step of
        one row runs inline), with cancel and statement_timeout armed as for any statement."""
        reader = cursor.reader
        if reader is None:
            return cursor.fetch(spec)
        inline = spec.direction in ("forward", "backward") and abs(spec.count) <= 1
        return await self._guarded(reader, lambda: cursor.fetch(spec), inline)

    async def _guarded(self, reader: Pooled, work: Callable[[], T], inline: bool) -> T:
        session = self.session
        with session.guarded(reader) as guard:
            timeout_ms = session.setting_ms("statement_timeout")
            if timeout_ms > 0:
                guard.statement_deadline = time.monotonic() + timeout_ms / 1000.0
            return work() if inline else await session.engine.run(work)

    async def _stream(self, spec: CursorSpec, query: Translation, params: tuple[Any, ...],
                      txn: object) -> Cursor:
        session = self.session
        db = session.db
        reader = await db.checkout_reader()
        conn = reader.conn

        checker = session.checker  # compute/sql/privileges.py: None for a superuser

        def start() -> apsw.Cursor:
            conn.execute("BEGIN")
            cur = conn.cursor()
            for sql in query.steps[:-1]:
                if checker is not None:
                    checker.step(conn, sql)
                for _ in cur.execute(sql):
                    pass
            if checker is not None:
                checker.step(conn, query.steps[-1])
            return cur.execute(query.steps[-1], params)

        try:
            source = await self._guarded(reader, start, inline=False)
        except BaseException:
            db.return_reader(reader)
            raise
        return Cursor(spec, txn, source, retain=spec.scroll is True, reader=reader)

    async def _materialized(self, spec: CursorSpec, query: Translation, params: tuple[Any, ...],
                            txn: object | None) -> Cursor:
        last = f"SELECT * FROM ({query.steps[-1]}) LIMIT {MATERIALIZE_ROWS + 1}"
        bounded = replace(query, steps=(*query.steps[:-1], last))
        result = await self.session._run_sql(bounded, params)
        rows = result.rows or []
        if len(rows) > MATERIALIZE_ROWS:
            raise _too_many(spec.name)
        return Cursor(spec, txn, iter(rows), retain=True)

    async def fetch(self, tr: Translation) -> Result:
        spec = tr.fetch
        assert spec is not None
        cursor = self.open.get(spec.name)
        if cursor is None:
            raise SqlError("34000", f'cursor "{spec.name}" does not exist')
        count, rows = await self._read(cursor, spec)
        tag = f"{tr.tag} {count}"
        if spec.move:
            return Result(tag)
        return Result(tag, rows=rows, translation=cursor.spec.query)

    def close(self, name: str) -> Result:
        if not name:
            for each in list(self.open.values()):
                self._release(each)
            self.open.clear()
            return Result("CLOSE CURSOR ALL")
        cursor = self.open.get(name)
        if cursor is None:
            raise SqlError("34000", f'cursor "{name}" does not exist')
        del self.open[name]
        self._release(cursor)
        return Result("CLOSE CURSOR")

    def _release(self, cursor: Cursor) -> None:
        reader = cursor.reader
        cursor.reader = None
        cursor._drop_source()
        if reader is not None:
            self.session.db.return_reader(reader)

    async def before_commit(self) -> None:
        """WITH HOLD cursors of the committing transaction read their remaining rows."""
        for cursor in self.open.values():
            if cursor.spec.hold and cursor.reader is not None:
                await self._guarded(cursor.reader, cursor.materialize, inline=False)
                self._release(cursor)
                cursor.txn = None

    def savepoint(self, tr: Translation, result: Result) -> Result:
        """Follow SAVEPOINT / RELEASE / ROLLBACK TO (done): ROLLBACK TO closes the cursors declared
        since that savepoint was made, as PostgreSQL drops a failed subtransaction's portals, and
        the NOTIFYs sent since then (compute/notify.py)."""
        self.session.backend.pending.savepoint(tr.kind.value, tr.name)
        marks = self.marks
        names = [name for name, _ in marks]
        if tr.kind is Kind.SAVEPOINT:
            self._next_mark += 1
            marks.append((tr.name, self._next_mark))
        elif tr.name in names:
            index = len(names) - 1 - names[::-1].index(tr.name)
            mark = marks[index][1]
            del marks[index + (tr.kind is Kind.ROLLBACK_TO):]
            if tr.kind is Kind.ROLLBACK_TO:
                for name, cursor in list(self.open.items()):
                    if mark in cursor.savepoints:
                        self._release(cursor)
                        del self.open[name]
                self._next_mark += 1  # the savepoint is made again: a new instance
                marks[index] = (tr.name, self._next_mark)
        return result

    def end_txn(self, commit: bool) -> None:
        """A transaction ended: its cursors go, except WITH HOLD ones after a commit."""
        txn = self.session.txn
        for stream in self.streams:
            self._release(stream)
        self.streams.clear()
        for name, cursor in list(self.open.items()):
            keep = cursor.spec.hold and (commit or cursor.txn is not txn) and cursor.reader is None
            if not keep:
                self._release(cursor)
                del self.open[name]
            elif commit:
                cursor.txn = None

    def view_json(self) -> str:
        """pg_cursors' rows (the view reads them through strata_cursors_json(), functions/admin.py)."""
        return json.dumps([{"name": c.spec.name, "statement": c.spec.text, "is_holdable": c.spec.hold,
                            "is_binary": c.spec.binary,
                            "is_scrollable": c.spec.scroll is not False,
                            "creation_time": c.created.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"}
                           for c in self.open.values()])
