"""Lending a client's socket to the primary for a write transaction (decision 0017).

Through the proxy each round trip of a write transaction wakes four processes' loops
instead of two, and the database's single writer is held across those round trips: the
proxy cost the cluster ~30% of its TPC-B. So when a plaintext client on a local compute is
inside a transaction, the proxy lends the client's socket to the primary: the descriptor
goes over a side Unix socket (SCM_RIGHTS, ``side_path``), a HANDOFF message on the server
connection says which descriptor and how the client's statement names map to the server
connection's, and the compute reads the client and answers it directly until the
transaction ends, or until a message the proxy must see (it stops before that message).
Then it gives the socket back with a HANDBACK message on the server connection: the
transaction status, the commit LSN, and the client bytes it read but did not take.

This module holds what both sides agree on: the two messages' formats and the side socket.
"""

from __future__ import annotations

import array
import mmap
import os
import re
import socket
import struct

from strata.pgwire.messages import ProtocolViolation
from strata.pgwire.unixsock import MAX_SOCKET_PATH_BYTES

LEND_LINGER_MS = 5.0
"""How long (milliseconds) a lent socket whose transaction ended stays with the compute for
the client's next transaction (``strata compute --lend-linger-ms``): a client that begins
its next one within it runs it on the same lending, without a HANDBACK and a HANDOFF (~0.45
ms of CPU in the proxy and the compute together) and without the proxy's round trip for
the BEGIN. Each commit made meanwhile is on the compute's ``CommitBoard`` before the client
hears of it, so the proxy's read watermark holds."""
MAX_LEND_LINGER_MS = 1000.0
"""The most ``--lend-linger-ms`` may be (milliseconds)."""
LEND_MAX_S = 0.5
"""A lending goes back at the first idle point after this long (seconds), however busy its
client: the proxy then routes its next transaction again (a read-only one to a replica, a
new primary after a switchover) and other clients get a turn at the pooled connection."""

HANDOFF = b"h"
"""Frontend message, proxy-only (refused as DEFERRED_BEGIN is on a connection that did not
prove the proxy's secret). Body: int64 token of the descriptor sent on the side socket,
int16 count, then that many pairs of C strings (client statement name, server statement
name). The compute answers nothing; from the next message on, it reads the client."""

HANDBACK = b"h"
"""Backend message, to the proxy only: the client's socket is the proxy's again. Body: the
transaction status byte (I, T or E), int64 LSN of the session's newest commit (0: none),
int32 count of the transactions that ended on the lending (ReadyForQuery I after T or E),
int32 length of the body of the last Parse of the unnamed statement the compute took from
the client (-1: none; the proxy keeps the unnamed statement's text for later Binds), that
body, then the client bytes read but not taken (raw, as the client sent them)."""

MAX_LENT_NAMES = 1024
"""Statement names a HANDOFF maps at most (a Bind of any other name is handed back)."""

SIDE_SUFFIX = ".handoff"
"""The side socket is the compute's PostgreSQL socket path plus this."""

_COPY = re.compile(rb"\s*copy\b", re.IGNORECASE)
_HEAD = struct.Struct("!qH")
_BACK = struct.Struct("!cqii")
_TOKEN = struct.Struct("!q")


LSN_SUFFIX = ".commit_lsn"
"""The commit board beside a compute's PostgreSQL Unix socket (``CommitBoard``)."""
_BOARD = struct.Struct("=Q")


class CommitBoard:
    """The newest commit LSN a local compute acknowledged on a lent socket, in an 8-byte file
    mapped by the compute (which writes it before the client's answer) and by each proxy that
    lends it sockets (which reads it when it routes a read: decision 0011's watermark). Shared
    memory instead of a message: the proxy is not woken per commit, and it can never read the
    answer's commit before the commit itself. The file is kept across restarts (a proxy's
    mapping stays the file's), owner-only; the value only grows."""

    def __init__(self, path: str, *, writer: bool) -> None:
        flags = (os.O_RDWR | os.O_CREAT) if writer else os.O_RDONLY
        fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
        try:
            if writer:
                os.fchmod(fd, 0o600)
                if os.fstat(fd).st_size < _BOARD.size:
                    os.ftruncate(fd, _BOARD.size)
            elif os.fstat(fd).st_size < _BOARD.size:
                raise OSError(f"{path}: not a commit board")
            access = mmap.ACCESS_WRITE if writer else mmap.ACCESS_READ
            self._map = mmap.mmap(fd, _BOARD.size, access=access)
        finally:
            os.close(fd)
        self.path = path
        self._published = self.read() if writer else 0

    def read(self) -> int:
        return int(_BOARD.unpack_from(self._map)[0])

    def publish(self, lsn: int) -> None:
        """Raise the board to ``lsn`` (the compute's loop thread only)."""
        if lsn > self._published:
            self._published = lsn
            _BOARD.pack_into(self._map, 0, lsn)

    def close(self) -> None:
        self._map.close()


def board_path(socket_path: str) -> str:
    """The commit board beside a compute's PostgreSQL Unix socket."""
    return socket_path + LSN_SUFFIX


def side_path(socket_path: str) -> str | None:
    """The side socket beside a compute's PostgreSQL Unix socket; None if too long."""
    path = socket_path + SIDE_SUFFIX
    return path if len(os.fsencode(path)) <= MAX_SOCKET_PATH_BYTES else None


def copy_query(body: bytes) -> bool:
    """Whether a Query message's body starts with COPY (its CopyData is not lent: the proxy
    relays a COPY)."""
    return _COPY.match(body) is not None


def handoff_body(token: int, names: dict[str, str]) -> bytes:
    """The HANDOFF message's body (``names``: client name -> server name)."""
    assert len(names) <= MAX_LENT_NAMES
    parts = [_HEAD.pack(token, len(names))]
    for client, server in names.items():
        parts.append(client.encode() + b"\x00" + server.encode() + b"\x00")
    return b"".join(parts)


def parse_handoff(body: bytes) -> tuple[int, dict[bytes, bytes]]:
    """(token, {client name: server name}) as bytes without NULs; ProtocolViolation if bad."""
    if len(body) < _HEAD.size:
        raise ProtocolViolation("malformed hand-off message")
    token, count = _HEAD.unpack_from(body)
    if count > MAX_LENT_NAMES:
        raise ProtocolViolation("hand-off message maps too many statement names")
    names: dict[bytes, bytes] = {}
    pos = _HEAD.size
    for _ in range(count):
        a = body.find(b"\x00", pos)
        b = body.find(b"\x00", a + 1) if a >= 0 else -1
        if b < 0:
            raise ProtocolViolation("malformed hand-off message")
        names[body[pos:a]] = body[a + 1:b]
        pos = b + 1
    if pos != len(body):
        raise ProtocolViolation("malformed hand-off message")
    return token, names


def handback_frame(status: bytes, commit_lsn: int, ended: int, unnamed_parse: bytes | None,
                   leftover: bytes) -> bytes:
    """The whole HANDBACK message (``ended``: transactions that ended on the lending;
    ``unnamed_parse``: a Parse message's body, or None)."""
    if unnamed_parse is None:
        body = _BACK.pack(status, commit_lsn, ended, -1) + leftover
    else:
        body = _BACK.pack(status, commit_lsn, ended, len(unnamed_parse)) + unnamed_parse + leftover
    return HANDBACK + struct.pack("!i", len(body) + 4) + body


def parse_handback(body: bytes) -> tuple[bytes, int, int, bytes | None, bytes]:
    """(status, commit LSN, transactions ended, unnamed Parse body or None, leftover client
    bytes); ProtocolViolation if bad."""
    if len(body) < _BACK.size or body[:1] not in (b"I", b"T", b"E"):
        raise ProtocolViolation("malformed hand-back message")
    status, lsn, ended, n = _BACK.unpack_from(body)
    if n < -1 or ended < 0 or _BACK.size + max(n, 0) > len(body):
        raise ProtocolViolation("malformed hand-back message")
    if n < 0:
        return status, lsn, ended, None, body[_BACK.size:]
    end = _BACK.size + n
    return status, lsn, ended, body[_BACK.size:end], body[end:]


def send_descriptor(side: socket.socket, token: int, fd: int) -> bool:
    """Send ``fd`` with ``token`` on the (non-blocking, SOCK_SEQPACKET) side socket; False if
    it cannot go at once (the caller relays instead)."""
    try:
        sent = side.sendmsg([_TOKEN.pack(token)],
                            [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
    except (BlockingIOError, InterruptedError):
        return False
    return sent == _TOKEN.size


def receive_descriptor(side: socket.socket) -> tuple[int, int] | None:
    """(token, fd) of the next message on the side socket, None when none is waiting;
    EOFError when the peer closed it; ProtocolViolation (descriptors closed) if malformed."""
    fds = array.array("i")
    try:
        data, ancillary, flags, _ = side.recvmsg(_TOKEN.size, socket.CMSG_SPACE(4 * 4))
    except (BlockingIOError, InterruptedError):
        return None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    if not data and not fds:
        raise EOFError
    if len(data) != _TOKEN.size or len(fds) != 1 or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        for fd in fds:
            os.close(fd)
        raise ProtocolViolation("malformed descriptor message on the hand-off socket")
    return _TOKEN.unpack(data)[0], fds[0]
