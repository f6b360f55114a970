"""Unix-domain sockets for the PostgreSQL protocol, named as PostgreSQL names them.

A compute started with a socket directory listens on ``DIR/.s.PGSQL.<port>`` beside its TCP
port, so ``psql -h DIR -p PORT`` reaches it, and a proxy on the same machine talks to it
without the loopback TCP stack (about 10 µs less CPU per round trip on each side, measured in
docs/performance.md "Proxy to compute over Unix sockets"). A connection over such a socket is
local, as PostgreSQL's ``local`` pg_hba lines: no TLS is offered on it (SSLRequest is answered
``N``), and the socket file is made owner-only, so only the cluster's own OS user can connect;
authentication is the same as over TCP.
"""

from __future__ import annotations

import errno
import os
import socket
import stat

MAX_SOCKET_PATH_BYTES = 107
"""Longest Unix socket path (bytes) Linux accepts in ``sun_path`` (108 with the NUL)."""

SOCKET_FILE_MODE = 0o700
"""Owner-only: the socket directory's user is the only local user that may connect."""


class SocketPathError(ValueError):
    """A socket path that cannot be used: too long, or a live server already owns it."""


class SocketInUseError(SocketPathError):
    """A live server answers on the socket path."""


def socket_path(directory: str, port: int) -> str:
    """``directory/.s.PGSQL.<port>``, refused (SocketPathError) beyond MAX_SOCKET_PATH_BYTES."""
    path = os.path.join(directory, f".s.PGSQL.{port}")
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        raise SocketPathError(f"Unix socket path {path!r} is longer than "
                              f"{MAX_SOCKET_PATH_BYTES} bytes; use a shorter socket directory")
    return path


def claim_socket_path(path: str) -> None:
    """Make ``path`` free to bind: remove a socket file no server answers on (a crashed
    compute's), refuse one a live server owns or a file that is not a socket."""
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise SocketPathError(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError as exc:
        if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise SocketPathError(f"cannot check {path}: {exc}") from None
        os.unlink(path)  # stale: nobody listens
        return
    finally:
        probe.close()
    raise SocketInUseError(f"another server is listening on {path}")


def is_unix_transport(sockname: object) -> bool:
    """Whether a transport's ``sockname`` extra info is a Unix socket's (a path, str or bytes)."""
    return isinstance(sockname, (str, bytes))
