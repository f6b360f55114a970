"""The data a session keeps per transaction and per statement, and small statement helpers."""

from __future__ import annotations

import datetime
import enum
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from compute.deferred import DeferredState
from compute.engine import Pooled
from compute.sql.api import Kind, SqlError, Translation
from strata.storage import CommitTicket


class TxnStatus(enum.Enum):
    """The transaction status ReadyForQuery reports."""

    IDLE = b"I"
    IN_TXN = b"T"
    FAILED = b"E"


# An enum class's attribute (``Kind.QUERY``) is looked up through EnumType's ``__getattr__``
# slot on Python 3.11 (~0.15 µs, ~70 times per TPC-B transaction on the callback lanes): the
# per-statement paths read the members they compare with from module globals instead.
IDLE, IN_TXN, FAILED = TxnStatus.IDLE, TxnStatus.IN_TXN, TxnStatus.FAILED
BEGIN, COMMIT, COMMAND, QUERY = Kind.BEGIN, Kind.COMMIT, Kind.COMMAND, Kind.QUERY
COPY_TO = Kind.COPY_TO
_ROW_KINDS = (Kind.QUERY, Kind.COPY_TO)


class FatalSessionError(Exception):
    """The session must end (sent as FATAL), e.g. idle-in-transaction timeout."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.message = message


_PARAM_REF = re.compile(r"\?(\d+)")


@functools.lru_cache(maxsize=1024)
def params_used(step: str) -> int:
    """The highest ``?N`` the SQLite step (the last one gets the parameters) refers to: SQLite
    refuses extra bindings, PostgreSQL ignores a declared parameter the query does not use."""
    return max((int(n) for n in _PARAM_REF.findall(step)), default=0)


def bindable(tr: Translation, params: tuple[Any, ...]) -> tuple[Any, ...]:
    """The parameters the last step binds: a declared parameter the query never uses is dropped."""
    if params and tr.steps:
        return params[:params_used(tr.steps[-1])]
    return params


@dataclass
class Transaction:
    """One transaction block: its modes, snapshot, writer, savepoints and settings to undo."""

    isolation: str
    read_only: bool
    start_ts: float
    start_dt: datetime.datetime | None = None  # start_ts as now() returns it, made once
    snapshot_reader: Pooled | None = None  # REPEATABLE READ: the pinned reader
    snapshot_lsn: int | None = None
    writer: bool = False
    savepoints: list[str] = field(default_factory=list)
    saved_settings: dict[str, str] = field(default_factory=dict)  # SET LOCAL: values to restore
    # every setting changed in the block, as it was before (None: unset): a ROLLBACK undoes
    # SET too, as in PostgreSQL; per savepoint, the settings as they were when it was taken
    settings_before: dict[str, str | None] = field(default_factory=dict)
    savepoint_settings: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)
    did_ddl: bool = False
    heavy: bool = False  # some statement ran on a thread: its commit may be big, so thread too
    queried: bool = False  # a query ran: the isolation level and read-write mode are fixed now
    fk: DeferredState = field(default_factory=DeferredState)  # SET CONSTRAINTS, deferred FK rows

    @property
    def snapshot_isolation(self) -> bool:
        return self.isolation in ("repeatable read", "serializable")

    def savepoint(self, name: str, settings: dict[str, str]) -> None:
        """SAVEPOINT: remember the settings and the deferred-FK queue as they are now."""
        self.savepoints.append(name)
        self.savepoint_settings.append((dict(settings), dict(self.saved_settings)))
        self.fk.savepoint()

    def release(self, name: str) -> None:
        """RELEASE SAVEPOINT: forget it and every savepoint taken after it."""
        idx = self._savepoint_index(name)
        del self.savepoints[idx:]
        del self.savepoint_settings[idx:]
        self.fk.release(idx)

    def rollback_to(self, name: str) -> dict[str, str]:
        """ROLLBACK TO SAVEPOINT (which stays): the settings to restore, as they were then."""
        idx = self._savepoint_index(name)
        del self.savepoints[idx + 1 :]
        del self.savepoint_settings[idx + 1 :]
        settings, saved = self.savepoint_settings[idx]
        self.saved_settings = dict(saved)
        self.fk.rollback_to(idx)
        return settings

    def _savepoint_index(self, name: str) -> int:
        """The newest savepoint of that name (3B001 if there is none)."""
        for idx in range(len(self.savepoints) - 1, -1, -1):
            if self.savepoints[idx] == name:
                return idx
        raise SqlError("3B001", f'savepoint "{name}" does not exist')


Ran = tuple[list[tuple[Any, ...]] | None, int, CommitTicket | None, int | None]
"""What running a statement's SQLite steps gave: rows (for a query), rows changed or returned,
the commit ticket (autocommit writes) and the LSN its read transaction is pinned at."""


@dataclass
class Result:
    """What one statement produced: rows (SQLite values) and the command tag."""

    tag: str
    rows: list[tuple[Any, ...]] | None = None
    translation: Translation | None = None
    notices: list[tuple[str, str]] = field(default_factory=list)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def write_command(tr: Translation) -> str:
    """How PostgreSQL names this write when refusing it (``nextval()``, ``SELECT FOR UPDATE``)."""
    if tr.kind is Kind.COPY_FROM:
        return "COPY FROM"
    return tr.write_command or tr.tag


def prevent_in_block(txn: object | None, command: str) -> None:
    """PostgreSQL's PreventInTransactionBlock: some commands run only outside a block (25001)."""
    if txn is not None:
        raise SqlError("25001", f"{command} cannot run inside a transaction block")


def read_write_during_recovery() -> SqlError:
    return SqlError("0A000", "cannot set transaction read-write mode during recovery")


def statement_tag(tr: Translation, count: int) -> str:
    """The command tag with its row count, as CommandComplete carries it."""
    tag = tr.tag
    if tr.count_last_step:
        return f"{tag} {count}"
    if tag == "INSERT":
        return f"INSERT 0 {count}"
    if tag in ("SELECT", "UPDATE", "DELETE", "MERGE", "COPY", "FETCH", "MOVE"):
        return f"{tag} {count}"
    return tag


def steps_work(conn: Any, tr: Translation, params: tuple[Any, ...], autocommit: bool,
               take_ticket: Callable[[Any], CommitTicket | None],
               snapshot_lsn: Callable[[Any], int | None] | None, checker: Any = None) -> Callable[[], Ran]:
    """The SQLite work of one statement (its steps on ``conn``), to run inline or on a thread.

    ``autocommit``: the steps are their own transaction, committed here (its commit ticket is
    taken with ``take_ticket``); ``snapshot_lsn`` reads the LSN the statement saw (transactions).
    ``checker``: a session that is not a superuser has each step checked just before it runs
    (compute/sql/privileges.py; None: a superuser, no check).
    """
    check = checker.step if checker is not None else None
    truncate = tr.tag == "TRUNCATE TABLE"
    want_rows = tr.kind in _ROW_KINDS
    steps = tr.steps
    begin = autocommit and (len(steps) > 1 or tr.is_ddl)

    def work() -> Ran:
        if autocommit and conn.in_transaction:
            conn.execute("ROLLBACK")
        if begin:
            conn.execute("BEGIN")
        rows: list[tuple[Any, ...]] | None = None
        try:
            cursor = conn.cursor()
            last = len(steps) - 1
            for i, sql in enumerate(steps):
                if check is not None:
                    check(conn, sql, truncate)
                if i == last:
                    cursor.execute(sql, params)
                    rows = cursor.fetchall() if want_rows else None
                    if rows is None:
                        for _ in cursor:
                            pass
                else:
                    cursor.execute(sql)
                    for _ in cursor:
                        pass
            changes = len(rows) if rows is not None else conn.changes()
            if tr.after_rows:  # AFTER ROW triggers the statement queued fire now (compute/sql/procedural)
                cursor.execute("SELECT __strata_statement_end()").fetchall()
            if autocommit and conn.in_transaction:
                conn.execute("COMMIT")
        except BaseException:
            if autocommit and conn.in_transaction:
                conn.execute("ROLLBACK")
            if autocommit:
                take_ticket(conn)
            raise
        ticket = take_ticket(conn) if autocommit else None
        return rows, changes, ticket, snapshot_lsn(conn) if snapshot_lsn is not None else None

    return work
