"""Database users of a cluster: names and SCRAM-SHA-256 verifiers, held by the control plane.

The control plane is the only writer of ``<dir>/users`` (mode 0600): one
``name:SCRAM-SHA-256$iterations:salt$stored_key:server_key`` line per user, the format
``strata.pgwire.auth.PasswordBook`` reads. The proxy re-reads it when it changes, so a user
created with ``strata user create`` (or ``POST /v1/users``) can log in within its poll
interval (0.1 s); computes read
it at start (clients normally reach them through the proxy, which computes trust by its
secret). Passwords themselves are never stored: only verifiers, as PostgreSQL does.

Names starting with ``strata_`` are reserved: ``strata_control`` is the control plane's own
login to computes (status polls, ``pg_promote``), with its password in
``<dir>/control-password``.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from pathlib import Path
from urllib.parse import quote

from control.errors import Conflict, InvalidRequest, NotFound
from control.spec import ClusterSpec
from control.state import ClusterDir, write_atomic
from strata.pgwire.auth import ScramVerifier
from strata.pgwire.unixsock import socket_path

USERS_FILE = "users"
CONTROL_PASSWORD_FILE = "control-password"
PROXY_SECRET_FILE = "proxy-secret"
USER_PASSWORD_FILE = "password"
"""The first user's generated password (``strata up`` prints the DSN that carries it)."""
CONTROL_USER = "strata_control"
FIRST_USER = "postgres"
TOPOLOGY_FILE = "topology.json"
"""Where the proxy learns the computes: {"primary": "h:p", "replicas": ["h:p", ...]}."""
RESERVED_PREFIX = "strata_"
MAX_USERS = 1000
"""Users per cluster (the file is read whole by every proxy and compute)."""
MAX_PASSWORD_BYTES = 1024
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
"""PostgreSQL identifiers up to NAMEDATALEN - 1 = 63 bytes, unquoted form only."""


def new_secret() -> str:
    """A random password or shared secret (URL-safe, 32 bytes of entropy)."""
    return secrets.token_urlsafe(32)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (secrets, verifiers), atomically."""
    write_atomic(path, text.encode(), mode=0o600)


class UserBook:
    """The users file: create, list, delete (thread-safe within one process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        users: dict[str, str] = {}
        if not self.path.exists():
            return users
        for line in self.path.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, _, verifier = line.partition(":")
            users[name] = verifier
        return users

    def _write(self, users: dict[str, str]) -> None:
        write_private(self.path, "".join(f"{n}:{v}\n" for n, v in sorted(users.items())))

    def names(self, include_reserved: bool = False) -> list[str]:
        with self._lock:
            return sorted(n for n in self._read() if include_reserved or not n.startswith(RESERVED_PREFIX))

    def create(self, name: str, password: str, *, reserved_ok: bool = False, replace: bool = False) -> None:
        """Add a user (Conflict if it exists, unless ``replace``: then set its password)."""
        check_name(name, reserved_ok=reserved_ok)
        if not password:
            raise InvalidRequest("password must not be empty")
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            raise InvalidRequest(f"password longer than {MAX_PASSWORD_BYTES} bytes")
        verifier = ScramVerifier.from_password(password).text()
        with self._lock:
            users = self._read()
            if name in users and not replace:
                raise Conflict(f'role "{name}" already exists')
            if name not in users and len(users) >= MAX_USERS:
                raise Conflict(f"at most {MAX_USERS} users")
            users[name] = verifier
            self._write(users)

    def delete(self, name: str) -> None:
        check_name(name)
        with self._lock:
            users = self._read()
            if name not in users:
                raise NotFound(f'role "{name}" does not exist')
            del users[name]
            self._write(users)


def check_name(name: str, reserved_ok: bool = False) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidRequest(f"invalid user name {name!r}: 1..63 characters of [A-Za-z0-9_], "
                             "not starting with a digit")
    if name.startswith(RESERVED_PREFIX) and not reserved_ok:
        raise InvalidRequest(f"user names starting with {RESERVED_PREFIX!r} are reserved")


def ensure_credentials(cdir: ClusterDir, spec: ClusterSpec) -> None:
    """On every start (idempotent): the proxy's secret, the control plane's own login and,
    with ``auth=scram``, the first user ``postgres`` with a generated password."""
    path = cdir.path
    if not (path / PROXY_SECRET_FILE).exists():
        write_private(path / PROXY_SECRET_FILE, new_secret() + "\n")
    book = UserBook(path / USERS_FILE)
    if not (path / CONTROL_PASSWORD_FILE).exists() or CONTROL_USER not in book.names(include_reserved=True):
        password = new_secret()
        book.create(CONTROL_USER, password, reserved_ok=True, replace=True)
        write_private(path / CONTROL_PASSWORD_FILE, password + "\n")
    if spec.auth == "scram" and not (path / USER_PASSWORD_FILE).exists():
        password = new_secret()
        book.create(FIRST_USER, password, replace=True)
        write_private(path / USER_PASSWORD_FILE, password + "\n")


def control_login(cdir: ClusterDir) -> tuple[str, str]:
    """(user, password) the control plane logs in to computes with."""
    return CONTROL_USER, (cdir.path / CONTROL_PASSWORD_FILE).read_text().strip()


def _login(cdir: ClusterDir, spec: ClusterSpec) -> str:
    """The first user, with scram its generated password (whoever can read the cluster dir has it)."""
    if spec.auth == "scram":
        try:
            password = (cdir.path / USER_PASSWORD_FILE).read_text().strip()
            return f"{FIRST_USER}:{quote(password, safe='')}"
        except FileNotFoundError:
            pass
    return FIRST_USER


def cluster_dsn(cdir: ClusterDir, spec: ClusterSpec, address: str | None = None) -> str:
    """A DSN for the first user: through the proxy unless ``address`` names a compute."""
    return f"postgresql://{_login(cdir, spec)}@{address or spec.proxy_address}/postgres"


def local_dsn(cdir: ClusterDir, spec: ClusterSpec) -> str:
    """A DSN through the proxy's Unix socket (``psql -h DIR``: no TCP, no TLS, and write
    transactions lent to the primary), or "" while there is no such socket."""
    directory = cdir.socket_dir()
    if directory is None or not os.path.exists(socket_path(directory, spec.proxy_port)):
        return ""
    return (f"postgresql://{_login(cdir, spec)}@/postgres"
            f"?host={quote(directory, safe='/')}&port={spec.proxy_port}")
