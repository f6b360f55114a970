"""Login verifiers of roles made with CREATE ROLE/USER … PASSWORD (the database's
``__strata_roles`` table), for the compute's SCRAM-SHA-256 authentication.

The users file (``--password-file``, written by the control plane) wins on a name in both:
the control plane's logins (``strata_control``, the first user) cannot be replaced by SQL.
"""

from __future__ import annotations

import datetime
from typing import Any

import apsw

from compute import pgtypes
from compute.sql import ROLES
from compute.sqlstate import SqlError

ROLE_VERIFIER_SQL = (f"SELECT password, validuntil FROM {ROLES} WHERE name = ? AND canlogin "
                     "AND password LIKE 'SCRAM-SHA-256$%'")


def role_verifier(conn: Any, user: str, now: datetime.datetime | None = None) -> str | None:
    """The role's SCRAM verifier if it may log in with a password now, else None (one small
    read). A password past its ``VALID UNTIL`` fails the login as PostgreSQL's does (28P01)."""
    try:
        rows = conn.execute(ROLE_VERIFIER_SQL, (user,)).fetchall()
    except apsw.SQLError:  # a database bootstrapped before roles existed (a replica not yet caught up)
        return None
    if not rows:
        return None
    password, valid_until = rows[0]
    if valid_until is not None and expired(str(valid_until), now or datetime.datetime.now(datetime.UTC)):
        return None
    return str(password)


def connection_limit(conn: Any, user: str) -> int | None:
    """The role's CONNECTION LIMIT if one applies to it (not a superuser, not -1), else None."""
    try:
        rows = conn.execute(f"SELECT connlimit FROM {ROLES} WHERE name = ? AND NOT super "
                            "AND connlimit >= 0", (user,)).fetchall()
    except apsw.SQLError:  # a database bootstrapped before roles existed
        return None
    return int(rows[0][0]) if rows else None


def expired(valid_until: str, now: datetime.datetime) -> bool:
    """Whether a VALID UNTIL value (as the role was given it; a zone-less time is UTC) is past."""
    try:
        stored = pgtypes.parse_timestamptz(valid_until, "UTC")
    except SqlError:  # not a time: refuse rather than let an unreadable expiry pass
        return True
    if stored == "infinity":
        return False
    if stored == "-infinity" or stored[:1] == "/":  # BC
        return True
    if stored[:1] == ":":  # after year 9999
        return False
    return pgtypes.timestamptz_from_storage(stored) <= now
