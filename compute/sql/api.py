"""The contract between the SQL translation layer and the session that executes it.

``compute.sql.translate(sql, catalog)`` turns PostgreSQL SQL text into ``Translation``s:
the SQLite statements to run, whether they need the writer, the PostgreSQL command tag,
the result columns with PostgreSQL type OIDs, and the inferred parameter types. The session
(``compute.session``) runs them on an apsw connection and encodes values with
``compute.pgtypes``. Translations are pure functions of (sql, catalog), so they are cached.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from compute.sqlstate import SqlError as SqlError  # the error type is part of this contract


class Kind(enum.Enum):
    QUERY = "query"  # returns rows (SELECT, VALUES, INSERT/UPDATE/DELETE ... RETURNING)
    COMMAND = "command"  # DML/DDL without rows
    BEGIN = "begin"
    COMMIT = "commit"
    ROLLBACK = "rollback"
    SAVEPOINT = "savepoint"
    RELEASE = "release"
    ROLLBACK_TO = "rollback_to"
    SET = "set"  # SET name = value / SET LOCAL / SET SESSION CHARACTERISTICS / RESET
    SHOW = "show"
    COPY_FROM = "copy_from"
    COPY_TO = "copy_to"
    SET_CONSTRAINTS = "set_constraints"  # SET CONSTRAINTS ...: ``constraints`` says which and how
    LOCK = "lock"  # LOCK TABLE: ``lock_mode``; a no-op on one writer, refused on a standby if strong
    DISCARD = "discard"  # DISCARD ALL | PLANS | SEQUENCES | TEMP: ``name`` is the lower-cased target
    DEALLOCATE = "deallocate"  # DEALLOCATE [PREPARE] name | ALL: ``name``, "" for ALL
    CREATE_DATABASE = "create_database"  # ``name``
    DROP_DATABASE = "drop_database"  # ``name``, ``if_exists``
    ALTER_DATABASE = "alter_database"  # ``name``, ``owner`` (OWNER TO; None: a no-op option)
    NOOP = "noop"  # accepted and ignored: VACUUM, ANALYZE, CHECKPOINT, GRANT, ... (tag says which)
    EMPTY = "empty"  # empty query string -> EmptyQueryResponse
    LISTEN = "listen"  # LISTEN channel: ``name`` is the channel
    UNLISTEN = "unlisten"  # UNLISTEN channel | *: ``name`` ("*" for all)
    NOTIFY = "notify"  # NOTIFY channel [, 'payload']: ``name``, ``value`` the payload
    DECLARE_CURSOR = "declare_cursor"  # DECLARE name ... CURSOR FOR query: ``cursor``
    FETCH = "fetch"  # FETCH / MOVE: ``fetch`` (rows come from the session's cursor)
    CLOSE_CURSOR = "close_cursor"  # CLOSE name | ALL: ``name``, "" for ALL
    EXPLAIN = "explain"  # EXPLAIN [ANALYZE] statement: ``explain``
    PREPARE = "prepare"  # PREPARE name [(types)] AS statement: ``name``, ``value`` (JSON text, types)
    EXECUTE = "execute"  # EXECUTE name [(args)]: ``name``, ``value`` (JSON list of argument texts)


@dataclass(frozen=True, slots=True)
class ColumnDesc:
    """One result column as RowDescription carries it."""

    name: str
    type_oid: int
    typmod: int = -1
    table_oid: int = 0
    column_no: int = 0
    elem_oid: int = 0  # for an array of an enum type: the enum's OID (its values encode as text)


@dataclass(frozen=True, slots=True)
class CopySpec:
    """COPY ... FROM STDIN / TO STDOUT details."""

    table: str | None  # None for COPY (query) TO STDOUT
    columns: tuple[ColumnDesc, ...]
    format: str = "text"  # "text" | "csv" | "binary"
    delimiter: str = "\t"
    null: str = "\\N"
    header: bool = False
    quote: str = '"'
    escape: str = '"'
    insert_sql: str | None = None  # for FROM: SQLite INSERT with one ?N per column, in order


@dataclass(frozen=True, slots=True)
class ConstraintsMode:
    """SET CONSTRAINTS, resolved against the catalog at translation time."""

    trigger_prefixes: tuple[str, ...] | None  # deferrable foreign keys named; None = ALL
    deferred: bool  # DEFERRED (True) or IMMEDIATE (False)
    error: tuple[str, str] | None = None  # (sqlstate, message) the session raises, after its warning


@dataclass(frozen=True, slots=True)
class CursorSpec:
    """DECLARE: the cursor's name, options and its query (see compute/cursors.py)."""

    name: str
    query: Translation  # a Kind.QUERY translation
    text: str  # the DECLARE statement as written (pg_cursors.statement)
    scroll: bool | None = None  # SCROLL (True), NO SCROLL (False), neither (None)
    hold: bool = False  # WITH HOLD
    binary: bool = False  # BINARY: a simple-query FETCH sends every column in binary


@dataclass(frozen=True, slots=True)
class FetchSpec:
    """FETCH / MOVE: direction as PostgreSQL's FetchDirection, and the count."""

    name: str
    direction: str  # "forward" | "backward" | "absolute" | "relative"
    count: int  # rows for forward/backward (ALL_ROWS for ALL), position for absolute/relative
    move: bool = False  # MOVE: no rows, the tag says how many


ALL_ROWS = 2**63 - 1  # FETCH ALL (PostgreSQL's FETCH_ALL)


@dataclass(frozen=True, slots=True)
class ExplainSpec:
    """EXPLAIN [ANALYZE] statement: the statement's translation and the options given."""

    statement: Translation
    analyze: bool = False
    verbose: bool = False
    format: str = "text"  # "text" | "json" | "yaml"


@dataclass(frozen=True, slots=True)
class Translation:
    kind: Kind
    tag: str  # command tag without the row count: "SELECT", "INSERT", "UPDATE", "CREATE TABLE", ...
    steps: tuple[str, ...] = ()  # SQLite statements, in order; the last one yields rows for QUERY
    is_write: bool = False  # needs the single writer connection (DML, DDL, nextval, ...)
    is_ddl: bool = False  # changes the catalog
    columns: tuple[ColumnDesc, ...] = ()  # for QUERY (and COPY_TO)
    param_oids: tuple[int, ...] = ()  # inferred type OID of $1..$n (25 = text when unknown)
    name: str = ""  # SET/SHOW/RESET parameter, SAVEPOINT, DISCARD target, DEALLOCATE, database
    value: str | None = None  # SET value (None = RESET / DEFAULT)
    is_local: bool = False  # SET LOCAL
    isolation: str | None = None  # BEGIN ISOLATION LEVEL ... / SET TRANSACTION
    read_only: bool | None = None  # BEGIN READ ONLY / READ WRITE
    copy: CopySpec | None = None
    chain: bool = False  # COMMIT / ROLLBACK AND CHAIN: a new transaction with the same modes follows
    notices: tuple[str, ...] = ()  # NOTICE texts (SQLSTATE 00000) to send before CommandComplete
    write_command: str | None = None  # how PostgreSQL names this write in a 25006 refusal
    off_loop: bool = False  # calls the node (pg_promote, ...): never run on the event loop
    count_last_step: bool = False  # the row count in the tag is the last step's (CREATE TABLE AS)
    altered_table: str | None = None  # ALTER TABLE's table: pending deferred checks forbid it
    lock_mode: str | None = None  # LOCK: "ACCESS EXCLUSIVE", "SHARE", ...
    if_exists: bool = False  # DROP DATABASE IF EXISTS
    owner: str | None = None  # CREATE DATABASE … OWNER role (checked when it runs)
    template: str | None = None  # CREATE DATABASE … TEMPLATE other than template0/1 (refused when it runs)
    constraints: ConstraintsMode | None = None  # SET_CONSTRAINTS
    cursor: CursorSpec | None = None  # DECLARE_CURSOR
    fetch: FetchSpec | None = None  # FETCH (and MOVE)
    explain: ExplainSpec | None = None  # EXPLAIN
    after_rows: bool = False  # DML on a database with triggers: fire queued AFTER ROW triggers at the end
