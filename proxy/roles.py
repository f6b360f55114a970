"""Logins of roles made with CREATE ROLE … LOGIN PASSWORD, through the proxy.

The proxy authenticates its clients itself (SCRAM-SHA-256 against the users file the control
plane writes) and then connects to computes by its secret, under the client's name. A role
made in SQL is not in that file: its verifier lives in the database's own ``__strata_roles``
table (compute/roles.py), which a compute checks when a client logs in to it directly. So
that such a role can log in through the cluster's one endpoint too, the proxy asks a compute
for the verifier, as PgBouncer's ``auth_query`` does: ``pg_shadow`` of the client's database
(roles are per database), on a fresh connection of its own as ``LOOKUP_USER`` (a reserved
users-file login: a superuser), primary first, else a replica (roles replicate with the data).

What the compute's own check refuses, this refuses too (the same rows: a SCRAM verifier, the
role may log in, its ``VALID UNTIL`` not passed, evaluated by the compute at UTC, its
default), and the users file wins on a name in both. Nothing is cached: a DROP ROLE or a new
password holds for the next login. Lookups are bounded: at most ``MAX_LOOKUPS`` at once (an
unauthenticated client can cause one, so a flood of bad logins costs at most that many
compute connections), each within the server connect timeout.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from proxy.backend import ServerConn, ServerError
from strata.pgwire import frontend as fe
from strata.pgwire.messages import ProtocolViolation

if TYPE_CHECKING:
    from proxy.server import ProxyServer

log = logging.getLogger("strata.proxy.roles")

LOOKUP_USER = "strata_control"
"""Whom the proxy connects as to read a role's verifier: the control plane's reserved login
(always in the users file, never a SQL role)."""
MAX_LOOKUPS = 4
"""Verifier lookups in flight at once (connections to computes); more wait their turn."""


class LookupUnavailable(Exception):
    """No compute could be asked (none healthy, or it did not answer in time)."""


def verifier_query(user: str) -> str:
    """The verifier of ``user`` if it may log in with a password now, else no row: the rows
    compute/roles.py ``role_verifier`` takes (``pg_shadow`` lists only LOGIN roles); a
    ``VALID UNTIL`` the compute cannot read as a time fails the query, and the login."""
    name = "'" + user.replace("'", "''") + "'"
    return ("SELECT passwd FROM pg_shadow WHERE usename = " + name +
            " AND passwd LIKE 'SCRAM-SHA-256$%' AND (valuntil IS NULL OR "
            "CAST(valuntil AS timestamptz) > now())")


class RoleVerifiers:
    """Looks up SQL roles' verifiers on a compute (one per proxy)."""

    def __init__(self, server: ProxyServer) -> None:
        self.server = server
        self._slots = asyncio.Semaphore(MAX_LOOKUPS)

    async def verifier(self, database: str, user: str) -> str | None:
        """``user``'s SCRAM verifier in ``database``, or None (no such login role, no such
        database). LookupUnavailable when no compute could answer."""
        server = self.server
        primary = server.current_primary
        backends = ([primary] if primary is not None and primary.healthy else []) + server.replicas()
        if not backends:
            raise LookupUnavailable("the proxy has no healthy compute to check the role's password")
        timeout_s = server.config.server_connect_timeout_s
        async with self._slots:
            try:
                conn = await ServerConn.connect(backends[0], database, LOOKUP_USER, server.secret,
                                                timeout_s)
            except ServerError as exc:
                if exc.sqlstate == "3D000":  # no such database: no such role in it
                    return None
                raise LookupUnavailable(str(exc)) from None
            try:
                async with asyncio.timeout(timeout_s):
                    value, error = await conn.first_value(fe.query(verifier_query(user)))
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ProtocolViolation) as exc:
                raise LookupUnavailable(f"compute {backends[0].address} did not answer the role "
                                        f"lookup: {type(exc).__name__}") from None
            finally:
                conn.close()
        if error is not None:  # e.g. a VALID UNTIL the compute cannot read as a time: no login
            log.info("role lookup for %s failed: %s", user, error)
            return None
        return None if value is None else value.decode()

