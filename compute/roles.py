"""Login verifiers of roles made with CREATE ROLE/USER … PASSWORD (the database's
``__strata_roles`` table), for the compute's SCRAM-SHA-256 authentication.

The users file (``--password-file``, written by the control plane) wins on a name in both:
the control plane's logins (``strata_control``, the first user) cannot be replaced by SQL.
"""

from __future__ import annotations

from typing import Any

import apsw

ROLE_VERIFIER_SQL = ("SELECT password FROM __strata_roles WHERE name = ? AND canlogin "
                     "AND password LIKE 'SCRAM-SHA-256$%'")


def role_verifier(conn: Any, user: str) -> str | None:
    """The role's SCRAM verifier if it may log in with a password, else None (one small read)."""
    try:
        rows = conn.execute(ROLE_VERIFIER_SQL, (user,)).fetchall()
    except apsw.SQLError:  # a database bootstrapped before roles existed (a replica not yet caught up)
        return None
    return str(rows[0][0]) if rows else None
