"""Whether a session is a superuser, and what a session that is not one may not run.

``Session.superuser`` is decided once, at login (``login_role``): a users-file login (the control
plane's users, the first user; anyone under trust without a role row of its own) or a role with
``super`` is a superuser, and nothing below runs for it: its ``checker`` is None, the fast lanes
stay open. Any other role gets a ``compute.sql.privileges.Checker`` that every SQLite step of its
statements goes through (``transaction.steps_work``, cursors, COPY FROM, PL/pgSQL), and the fast
lanes send its statements to the general path. Statements whose checks are not by relation
(role and database DDL, objects without a stored owner) are refused here before they run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import apsw

from compute.roles import connection_limit
from compute.sql import ROLES
from compute.sql.api import Kind, SqlError, Translation
from compute.sql.privileges import PLAIN_ROLES, Checker
from compute.transaction import bindable

if TYPE_CHECKING:
    from compute.engine import Database

# DDL whose steps the Checker judges by the relations they touch (ownership, CREATE in the schema)
_CHECKED_DDL = frozenset({"CREATE TABLE", "CREATE TABLE AS", "SELECT", "CREATE VIEW", "CREATE INDEX",
                          "DROP TABLE", "DROP VIEW", "DROP INDEX", "ALTER TABLE", "ALTER INDEX",
                          "TRUNCATE TABLE", "CREATE TRIGGER", "DROP TRIGGER", "CREATE SEQUENCE", "DO"})
# PostgreSQL 15's refusals for a role without CREATEROLE / CREATEDB
_ROLE_DENIED = {"CREATE ROLE": "permission denied to create role", "DROP ROLE": "permission denied to drop role",
                "ALTER ROLE": "permission denied to alter role"}


def _no_result(*_args: object) -> None:
    return None


def _no(*_args: object) -> bool:
    return False


class SessionPrivileges:
    """Mixed into Session: the superuser bit and the refusals made before a statement runs."""

    superuser: bool = True
    checker: Checker | None = None  # None: a superuser (no check runs)

    if TYPE_CHECKING:
        user: str
        db: Database
        settings: dict[str, str]
        startup_settings: dict[str, str]

    def login_role(self, users_file: Any) -> int | None:
        """Decide ``superuser`` for the user who just logged in (``users_file``: the server's
        PasswordBook, None under trust); the role's CONNECTION LIMIT if one applies to it."""
        conn = self.db.catalog_conn
        try:
            rows = conn.execute(f"SELECT super FROM {ROLES} WHERE name = ?", (self.user,)).fetchall()
        except apsw.SQLError:  # a database bootstrapped before roles existed
            rows = []
        if users_file is not None and users_file.knows(self.user):
            superuser = True
        else:
            superuser = bool(rows[0][0]) if rows else users_file is None
        key = (self.db.name, self.user)
        if superuser:
            PLAIN_ROLES.pop(key, None)
        else:
            self.superuser = False
            self.checker = PLAIN_ROLES[key] = Checker(self.user, self.db.access_sets)
            self.settings["is_superuser"] = self.startup_settings["is_superuser"] = "off"
            # the fast lanes are closed to this session: its statements take the general path,
            # where every step is checked (instance attributes: a superuser's lookups are as before)
            for lane, closed in (("_fast_read", _no_result), ("_fast_gate", _no), ("auto_write_ready", _no)):
                setattr(self, lane, closed)
        return connection_limit(conn, self.user)

    def privilege_gate(self, tr: Translation, params: tuple[Any, ...]) -> tuple[Any, ...]:
        """Refuse, for a session that is not a superuser, what its steps' checks cannot judge;
        else ``bindable(tr, params)`` (``Session.execute`` calls this instead)."""
        tag = tr.tag
        if tr.kind is Kind.CREATE_DATABASE:
            raise SqlError("42501", "permission denied to create database")
        if tr.kind is Kind.DROP_DATABASE:
            raise SqlError("42501", f"must be owner of database {tr.name}")
        denied = _ROLE_DENIED.get(tag)
        if denied is not None:
            raise SqlError("42501", denied)
        if tag == "CREATE SCHEMA":
            raise SqlError("42501", f"permission denied for database {self.db.name}")
        if tr.is_ddl and tag not in _CHECKED_DDL:
            raise SqlError("0A000", f"{tag} is not supported for a role that is not a superuser: "
                                    "the owners of such objects are not stored")
        if tag == "CREATE SEQUENCE" and self.checker is not None:
            self.checker.creating(self.db.catalog_conn, "public")
        if tr.altered_table and self.checker is not None:
            self.checker.check(self.db.catalog_conn, (("own", tr.altered_table, None),), False)
        return bindable(tr, params)

    def copy_rows_in(self, conn: Any, insert_sql: str, rows: list[tuple[Any, ...]]) -> None:
        """A batch of COPY FROM STDIN's rows; a session that is not a superuser needs INSERT on
        the table (checked per batch: a REVOKE in the middle of a COPY is seen by the next)."""
        if self.checker is not None:
            self.checker.step(conn, insert_sql)
        conn.executemany(insert_sql, rows)
