"""SqlError: a PostgreSQL error (SQLSTATE, message, fields) raised anywhere in the compute.

A leaf module, so the codecs (compute/pgtypes), settings and date input can raise PostgreSQL
errors without importing the SQL package; ``compute.sql.api`` re-exports it as part of the
translation contract.
"""

from __future__ import annotations


class SqlError(Exception):
    """A PostgreSQL error to report: SQLSTATE, message, optional detail/hint/position."""

    def __init__(
        self,
        sqlstate: str,
        message: str,
        *,
        detail: str | None = None,
        hint: str | None = None,
        position: int | None = None,
        severity: str = "ERROR",
        table: str | None = None,
    ) -> None:
        super().__init__(message)
        self.table = table  # the relation, when the message does not name it (23505)
        self.sqlstate = sqlstate
        self.message = message
        self.detail = detail
        self.hint = hint
        self.position = position
        self.severity = severity
