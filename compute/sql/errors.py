"""Map SQLite errors to PostgreSQL errors (SQLSTATE and PostgreSQL's message wording)."""

from __future__ import annotations

import re
from typing import Any

import apsw

from compute.sql.api import SqlError
from compute.sql.catalog.catalog import Catalog
from compute.sql.catalog.objects import bare_name

_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)")
_PRIMARY = re.compile(r"PRIMARY KEY constraint failed: (.+)")
_NOT_NULL = re.compile(r"NOT NULL constraint failed: ([^.]+)\.(.+)")
_CHECK = re.compile(r"CHECK constraint failed: (.+)")
_NO_TABLE = re.compile(r"no such table: (?:main\.)?(.+)")
_NO_COLUMN = re.compile(r"no such column: (.+)")
_NO_FUNCTION = re.compile(r"no such function: (.+)")
_WRONG_ARGUMENTS = re.compile(r"wrong number of arguments to function (\w+)\(\)")
_STRICT_TYPE = re.compile(r"cannot store (\w+) value in (\w+) column ([^.]+)\.(.+)")
_TABLE_EXISTS = re.compile(r"(?:table|index|view) \"?([^\"]+)\"? already exists")
_TRIGGER_RAISE = re.compile(r"^(\w{5}):(.*)$", re.S)


def _unique_constraint_name(catalog: Catalog | None, spec: str) -> str:
    """'t.a, t.b' -> the PostgreSQL name of the matching unique index (or a default name)."""
    parts = [p.strip() for p in spec.split(",")]
    if parts and parts[0].startswith("index '"):
        return parts[0][7:-1]
    table = parts[0].rsplit(".", 1)[0] if parts else "?"  # a table outside public is "schema.name"
    columns = tuple(p.rsplit(".", 1)[1] for p in parts if "." in p)
    if catalog is not None:
        found = catalog.user_table(table)
        if found is not None:
            for index in found.indexes:
                if index.unique and tuple(index.columns) == columns:
                    return bare_name(index.name)
    table = bare_name(table)
    return f"{table}_{'_'.join(columns)}_key" if columns else f"{table}_pkey"


def map_sqlite_error(exc: BaseException, catalog: Catalog | None = None) -> SqlError:
    """An apsw exception (or SqlError raised inside a UDF) as the PostgreSQL error to report.

    SQLITE_INTERRUPT becomes 57014 with a generic message: the session knows whether it was a
    cancel request or statement_timeout and should replace the message.
    """
    if isinstance(exc, SqlError):
        return exc
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, SqlError):
        return cause
    message = str(exc)
    # apsw prefixes messages like "ConstraintError: ..." in some versions
    message = re.sub(r"^\w+Error: ", "", message)

    if isinstance(exc, apsw.InterruptError):
        return SqlError("57014", "canceling statement due to user request")
    if isinstance(exc, (apsw.BusyError, apsw.LockedError)):
        return SqlError("55P03", "could not obtain lock: database is locked")
    if isinstance(exc, apsw.ReadOnlyError):
        return SqlError("25006", "cannot execute statement in a read-only transaction")
    if isinstance(exc, apsw.FullError):
        return SqlError("53100", "could not extend file: disk full")
    if isinstance(exc, apsw.NoMemError):
        return SqlError("53200", "out of memory")
    if isinstance(exc, apsw.CorruptError):
        return SqlError("XX001", f"data corrupted: {message}")
    if isinstance(exc, apsw.IOError):
        return SqlError("58030", f"I/O error: {message}")
    if isinstance(exc, apsw.TooBigError):
        return SqlError("54000", "value too large")

    trigger = _TRIGGER_RAISE.match(message)
    if trigger:
        return SqlError(trigger.group(1), trigger.group(2))

    for pattern in (_UNIQUE, _PRIMARY):
        m = pattern.search(message)
        if m:
            name = _unique_constraint_name(catalog, m.group(1))
            return SqlError("23505", f'duplicate key value violates unique constraint "{name}"',
                            table=bare_name(m.group(1).split(",")[0].rsplit(".", 1)[0].strip()))
    m = _NOT_NULL.search(message)
    if m:
        table, column = m.group(1), m.group(2)
        return SqlError(
            "23502",
            f'null value in column "{column}" of relation "{table}" violates not-null constraint',
        )
    m = _CHECK.search(message)
    if m:
        name = m.group(1)
        table = ""
        if catalog is not None:
            for candidate in catalog.tables.values():
                if any(c.name == name for c in candidate.constraints):
                    table = candidate.name
        rel = f'relation "{table}"' if table else "relation"
        return SqlError("23514", f'new row for {rel} violates check constraint "{name}"')
    if "FOREIGN KEY constraint failed" in message:
        return SqlError("23503", "insert or update on table violates foreign key constraint")
    m = _STRICT_TYPE.search(message)
    if m:
        storage = m.group(2).lower()
        kind = {"int": "integer", "integer": "integer", "real": "double precision", "blob": "bytea"}.get(
            storage, storage
        )
        return SqlError("22P02", f"invalid input syntax for type {kind}")
    if isinstance(exc, apsw.MismatchError) or "datatype mismatch" in message:
        return SqlError("42804", "datatype mismatch")
    m = _NO_TABLE.search(message)
    if m:
        return SqlError("42P01", f'relation "{m.group(1)}" does not exist')
    m = _NO_COLUMN.search(message)
    if m:
        return SqlError("42703", f'column "{m.group(1)}" does not exist')
    m = _NO_FUNCTION.search(message)
    if m:
        return SqlError("42883", f"function {m.group(1)} does not exist")
    m = _WRONG_ARGUMENTS.search(message)
    if m:  # a built-in called with an argument count none of its forms takes
        name = m.group(1).lower().removeprefix("pg_") if m.group(1).isupper() else m.group(1)
        return SqlError("42883", f"function {name} with these arguments does not exist",
                        hint="No function matches the given name and argument types. You might "
                             "need to add explicit type casts.")
    m = _TABLE_EXISTS.search(message)
    if m:
        return SqlError("42P07", f'relation "{m.group(1)}" already exists')
    if "integer overflow" in message:
        return SqlError("22003", "bigint out of range")
    if "too many SQL variables" in message:
        return SqlError("54000", "too many parameters")
    if isinstance(exc, apsw.SQLError) and "syntax error" in message:
        return SqlError("42601", message)
    if isinstance(exc, apsw.ConstraintError):
        return SqlError("23000", message)
    return SqlError("XX000", message or type(exc).__name__)


def error_fields(err: SqlError) -> dict[str, Any]:
    """The ErrorResponse fields of an error, for logging and tests."""
    return {"C": err.sqlstate, "M": err.message, "D": err.detail, "H": err.hint, "P": err.position}


_DIAGNOSTIC_PATTERNS: dict[str, re.Pattern[str]] = {
    "23502": re.compile(r'null value in column "(?P<c>[^"]+)" of relation "(?P<t>[^"]+)"'),
    "23514": re.compile(r'new row for relation "(?P<t>[^"]+)" violates check constraint "(?P<n>[^"]+)"'),
    "23505": re.compile(r'violates unique constraint "(?P<n>[^"]+)"'),
    "23503": re.compile(r'on table "(?P<t>[^"]+)" violates foreign key constraint "(?P<n>[^"]+)"'
                        r'(?: on table "(?P<u>[^"]+)")?'),
}


def diagnostic_fields(exc: SqlError) -> dict[str, str]:
    """ErrorResponse fields s/t/c/n (schema, table, column, constraint) for integrity errors,
    which drivers expose (psycopg ``diag.constraint_name``) and applications branch on.

    They are read back from PostgreSQL's own message texts, which Strata reproduces exactly, so
    every raise site (SQLite errors, triggers, DDL checks) gets them without carrying them."""
    pattern = _DIAGNOSTIC_PATTERNS.get(exc.sqlstate)
    match = pattern.search(exc.message) if pattern else None
    if match is None:
        return {}
    found = match.groupdict()
    table = found.get("u") or found.get("t") or exc.table  # a delete's violation: the referencing table
    fields = {"s": "public"} if table else {}
    if table:
        fields["t"] = table
    if found.get("c"):
        fields["c"] = found["c"]
    if found.get("n"):
        fields["n"] = found["n"]
    return fields
