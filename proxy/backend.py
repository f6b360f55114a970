"""Connections from the proxy to computes: one server connection, the per-compute state the
router needs (role, health, replay LSN, outstanding queries), and the pool.

A server connection starts with ``user``, ``database`` and ``strata.proxy_secret`` and no
password (the compute trusts the proxy's secret; the proxy authenticated the client). The
compute then reports LSNs as ParameterStatus messages, which are consumed here and never
reach a client: ``strata.commit_lsn`` (a commit this connection made: it raises the proxy's
:class:`CommitWatermark`) and
``strata.replay_lsn`` (what the node has made readable).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import struct
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path

from strata.busypoll import BusyPoll
from strata.pgwire import frontend as fe
from strata.pgwire.messages import ProtocolViolation
from strata.pgwire.unixsock import SocketPathError, socket_path

if typing.TYPE_CHECKING:
    from strata.pgwire.handoff import CommitBoard

log = logging.getLogger("strata.proxy.backend")

COMMIT_LSN_PARAM = "strata.commit_lsn"
REPLAY_LSN_PARAM = "strata.replay_lsn"
MAX_SERVER_MESSAGE_BYTES = 1 << 30
"""Largest message accepted from a compute (a sanity bound, bytes)."""
COMPACT_AFTER_BYTES = 256 * 1024
"""Consumed bytes kept at the head of a connection's buffer before it is compacted."""
PAUSE_READING_BYTES = 4 * 1024 * 1024
"""Unread bytes beyond which a socket is not read until its reader catches up."""
KINDS = [bytes([i]) for i in range(256)]
"""Message type byte -> its one-byte bytes object (no allocation per message)."""
_I32 = struct.Struct("!i")
_COMMIT_LSN_PREFIX = COMMIT_LSN_PARAM.encode() + b"\x00"
_REPLAY_LSN_PREFIX = REPLAY_LSN_PARAM.encode() + b"\x00"


class ServerError(Exception):
    """A compute refused a connection (its ErrorResponse fields) or could not be reached."""

    def __init__(self, sqlstate: str, text: str) -> None:
        super().__init__(text)
        self.sqlstate = sqlstate
        self.text = text


class PoolExhausted(Exception):
    """No server connection became free within the pool timeout (53300)."""


class CommitWatermark:
    """The highest commit LSN any server connection of this proxy reported, or any local
    compute it lends sockets to put on its commit board: a read begun after a commit was
    acknowledged (to any client) must see it, so a replica serves a read only once it has
    replayed this far. A relayed commit's report comes before its ReadyForQuery and the
    relay parses messages in order; a lent commit is on its compute's board
    (``handoff.CommitBoard``) before the compute answers the client. Either way the
    watermark has a commit before its client can go on."""

    def __init__(self) -> None:
        self._lsn = 0
        self.boards: dict[str, CommitBoard] = {}  # by the compute's socket path (proxy/lend.py)

    @property
    def lsn(self) -> int:
        lsn = self._lsn
        for board in self.boards.values():
            on_board = board.read()
            if on_board > lsn:
                lsn = on_board
        self._lsn = lsn
        return lsn

    def note(self, lsn: int) -> None:
        if lsn > self._lsn:
            self._lsn = lsn


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Hosts a compute's address may name for the proxy to reach it through its Unix socket."""


def local_socket(directory: Path | None, address: str) -> str | None:
    """The Unix socket path of a compute at ``address`` when it runs on this machine (a
    loopback host) and computes here put their sockets in ``directory``; None: use TCP."""
    host, _, port = address.rpartition(":")
    if directory is None or host.strip("[]") not in LOOPBACK_HOSTS or not port.isdigit():
        return None
    try:
        return socket_path(str(directory), int(port))
    except SocketPathError:
        return None


@dataclass
class Backend:
    """One compute as the router sees it."""

    address: str
    role: str = "unknown"             # primary | replica | unknown (from pg_is_in_recovery)
    healthy: bool = False
    term: int = 0
    replay_lsn: int = 0
    outstanding: int = 0              # server connections of this compute in use
    in_topology: bool = True
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    poll_now: asyncio.Event = field(default_factory=asyncio.Event)   # a reader waits for replay
    pools: dict[tuple[str, str], Pool] = field(default_factory=dict)
    monitor: asyncio.Task[None] | None = None
    commits: CommitWatermark = field(default_factory=CommitWatermark)  # the proxy's, shared
    unix_path: str | None = None      # the compute's Unix socket when it is on this machine
    busy_poll: BusyPoll | None = None  # the proxy's poller (strata/busypoll.py), for its links

    @property
    def host(self) -> str:
        return self.address.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    def note_replay(self, lsn: int) -> None:
        if lsn > self.replay_lsn:
            self.replay_lsn = lsn
            self.changed.set()

    def notify(self) -> None:
        self.changed.set()


class Link(asyncio.Protocol):
    """A socket's events, straight into its connection's byte buffer: no StreamReader
    between (its own buffer, a copy per read, a coroutine per read). Used for computes and,
    once the startup packet is read, for clients."""

    def __init__(self, buf: bytearray, busy_poll: BusyPoll | None) -> None:
        self.buf = buf
        self.busy_poll = busy_poll
        """The proxy's poller, told of every input (strata/busypoll.py); None: no polling."""
        self.transport: asyncio.Transport | None = None
        self.eof = False
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._read_paused = False
        self._write_paused = False
        self._drained: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # kept: get_running_loop() is a getpid()
        self.hook: typing.Callable[[], bool] | None = None
        """Called at once when bytes arrive or the connection ends; True: it took care of
        that, do not wake the reader (the client fast lane relays from here)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        poll = self.busy_poll
        if poll is not None:
            poll.input()
        hook = self.hook
        if hook is not None and hook():
            if len(self.buf) > PAUSE_READING_BYTES and not self._read_paused and self.transport is not None:
                self._read_paused = True  # held for the reader, who resumes when it reads
                self.transport.pause_reading()
            return
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        elif len(self.buf) > PAUSE_READING_BYTES and not self._read_paused and self.transport is not None:
            self._read_paused = True  # nobody is reading (a slow peer): stop taking more
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        if self.hook is None or not self.hook():
            self.wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        if self.hook is None or not self.hook():
            self.wake()
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_exception(exc or ConnectionResetError("the peer closed the connection"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def wake(self) -> None:
        """Let the reader waiting in ``more`` go on."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def more(self) -> None:
        """Wait until bytes arrive (or the connection ends: IncompleteReadError)."""
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()
        if self.eof:
            raise asyncio.IncompleteReadError(b"", None)
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None

    async def drain(self) -> None:
        if self.eof:
            raise ConnectionResetError("the peer closed the connection")
        if self._write_paused:
            if self._drained is None:
                self._drained = asyncio.get_running_loop().create_future()
            await self._drained


class ServerConn:
    """One PostgreSQL connection to a compute, with what the proxy put on it."""

    def __init__(self, backend: Backend, database: str, user: str, link: Link) -> None:
        self.backend = backend
        self.database = database
        self.user = user
        self.link = link
        self.pid = 0
        self.secret = 0
        self.params: dict[str, str] = {}
        self.prepared: set[str] = set()          # server-side statement names parsed here
        self.applied: dict[str, str] = {}        # session settings replayed here: name -> SET text
        self.unnamed_owner: tuple[int, int] | None = None  # (client id, Parse seq) of the unnamed stmt
        self._buf = link.buf                     # filled by the link, cut here
        self._pos = 0
        self.last_status = b"I"                  # of the last ReadyForQuery relay_some passed
        self.broken = False
        self.last_used = time.monotonic()
        self.local = False                       # over the compute's Unix socket (sockets may be lent)

    @classmethod
    async def connect(cls, backend: Backend, database: str, user: str, secret: str | None,
                      timeout_s: float, extra: dict[str, str] | None = None) -> ServerConn:
        link = Link(bytearray(), backend.busy_poll)
        loop = asyncio.get_running_loop()
        local = backend.unix_path is not None and os.path.exists(backend.unix_path)
        try:
            if local:
                assert backend.unix_path is not None
                await asyncio.wait_for(loop.create_unix_connection(lambda: link, backend.unix_path),
                                       timeout_s)
            else:
                await asyncio.wait_for(loop.create_connection(lambda: link, backend.host, backend.port),
                                       timeout_s)
        except (OSError, TimeoutError) as exc:
            raise ServerError("08006", f"could not connect to compute {backend.address}: {exc}") from None
        conn = cls(backend, database, user, link)
        conn.local = local
        params = {"user": user, "database": database}
        if secret is not None:
            params["strata.proxy_secret"] = secret
        params.update(extra or {})
        try:
            conn.write(fe.startup_message(params))
            await asyncio.wait_for(conn._finish_startup(), timeout_s)
        except ServerError:
            conn.close()
            raise
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ProtocolViolation) as exc:
            conn.close()
            raise ServerError("08006", f"compute {backend.address} failed during startup: "
                                       f"{type(exc).__name__}: {exc}") from None
        return conn

    async def _finish_startup(self) -> None:
        while True:
            kind, body = await self.read()
            if kind == b"R":
                code = int.from_bytes(body[:4], "big", signed=True)
                if code != 0:
                    raise ServerError("28000", f"compute {self.backend.address} asked for a password "
                                               "(start it with the proxy's --proxy-secret-file)")
            elif kind == b"K":
                self.pid = int.from_bytes(body[0:4], "big", signed=True)
                self.secret = int.from_bytes(body[4:8], "big", signed=True)
            elif kind == b"E":
                f = fe.parse_error_fields(body)
                self.broken = True
                raise ServerError(f.get("C", "08006"), f.get("M", "compute refused the connection"))
            elif kind == b"Z":
                return

    def has_message(self) -> bool:
        """A whole message is buffered (reading it will not wait for the network)."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 5:
            return False
        return len(buf) - pos >= 1 + _I32.unpack_from(buf, pos + 1)[0]

    async def fill(self) -> None:
        """Wait for more bytes from the compute, unless a whole message is buffered already
        (the link appends whenever the loop runs)."""
        if self.has_message():
            return
        try:
            await self.link.more()
        except BaseException:
            self.broken = True
            raise

    def _cut(self) -> int:
        """End offset of the whole message at ``_pos``, or -1 if it is not all buffered."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 5:
            return -1
        length = _I32.unpack_from(buf, pos + 1)[0]
        if length < 4 or length - 4 > MAX_SERVER_MESSAGE_BYTES:
            self.broken = True
            raise ProtocolViolation(f"invalid message length {length} from the compute")
        end = pos + 1 + length
        return end if end <= len(buf) else -1

    def _advance(self, end: int) -> None:
        if end == len(self._buf):
            self._buf.clear()
            end = 0
        elif end > COMPACT_AFTER_BYTES:
            del self._buf[:end]
            end = 0
        self._pos = end

    def consumed(self, body: bytes) -> bool:
        """Take a ParameterStatus: the strata.* LSN reports are the proxy's (True: do not
        relay), the others are remembered as this connection's parameters."""
        # the compute's reports first, without decoding: name, NUL, ASCII digits, NUL
        if body[-1:] == b"\x00":
            if body.startswith(_COMMIT_LSN_PREFIX):
                digits = body[len(_COMMIT_LSN_PREFIX):-1]
                if digits.isdigit():
                    self.backend.commits.note(int(digits))
                    return True
            elif body.startswith(_REPLAY_LSN_PREFIX):
                digits = body[len(_REPLAY_LSN_PREFIX):-1]
                if digits.isdigit():
                    self.backend.note_replay(int(digits))
                    return True
        name, value = fe.parse_parameter_status(body)
        if name == COMMIT_LSN_PARAM and value.isdigit():
            self.backend.commits.note(int(value))
            return True
        if name == REPLAY_LSN_PARAM and value.isdigit():
            self.backend.note_replay(int(value))
            return True
        self.params[name] = value
        return False

    async def read(self) -> tuple[bytes, bytes]:
        """The next message's (kind, body), with the strata.* LSN reports consumed."""
        kind, frame = await self.read_frame()
        return kind, frame[5:]

    async def first_value(self, query: bytes) -> tuple[bytes | None, str | None]:
        """Send a simple ``query`` (a Query message) and read to its ReadyForQuery: the first
        column of its first row (None: no row, or NULL) and the error's message, if any."""
        self.write(query)
        value: bytes | None = None
        error: str | None = None
        rows = 0
        while True:
            kind, body = await self.read()
            if kind == b"D":
                rows += 1
                if rows == 1:
                    n = int.from_bytes(body[2:6], "big", signed=True)
                    value = body[6:6 + n] if n >= 0 else None
            elif kind == b"E":
                error = fe.parse_error_fields(body).get("M", "error")
            elif kind == b"Z":
                return value, error

    async def read_frame(self) -> tuple[bytes, bytes]:
        """The next message as (kind, its whole frame) to relay as is; LSN reports consumed."""
        while True:
            end = self._cut()
            if end < 0:
                await self.fill()
                continue
            pos = self._pos
            kind = KINDS[self._buf[pos]]
            frame = bytes(self._buf[pos:end])
            self._advance(end)
            if kind == b"S" and self.consumed(frame[5:]):
                continue
            return kind, frame

    def take_frame(self) -> tuple[bytes, bytes] | None:
        """The next whole message as (kind, body) without waiting, LSN reports not looked at;
        None if it is not all buffered."""
        end = self._cut()
        if end < 0:
            return None
        pos = self._pos
        kind = KINDS[self._buf[pos]]
        body = bytes(self._buf[pos + 5:end])
        self._advance(end)
        return kind, body

    def relay_some(self, out: list[bytes]) -> tuple[bytes, bool]:
        """Move the whole buffered messages to ``out`` as raw bytes (one slice per run of
        messages, nothing parsed but the message type), stopping after a ReadyForQuery or a
        CopyInResponse or when no whole message is left. Returns (b"Z", b"G" or b"" for
        where it stopped, whether an ErrorResponse passed); the ReadyForQuery's status is in
        ``last_status``. LSN reports are consumed as in ``read``."""
        buf = self._buf
        start = pos = self._pos
        error = False
        stop = b""
        size = len(buf)
        unpack = _I32.unpack_from
        while size - pos >= 5:  # ``_cut``, inlined (a call per message)
            length = unpack(buf, pos + 1)[0]
            if length < 4 or length - 4 > MAX_SERVER_MESSAGE_BYTES:
                self.broken = True
                raise ProtocolViolation(f"invalid message length {length} from the compute")
            end = pos + 1 + length
            if end > size:
                break
            kind = buf[pos]
            if kind == 0x5A:    # Z ReadyForQuery
                self.last_status = KINDS[buf[pos + 5]]
                stop = b"Z"
            elif kind == 0x45:  # E ErrorResponse
                error = True
            elif kind == 0x47:  # G CopyInResponse
                stop = b"G"
            elif kind == 0x53 and self.consumed(bytes(buf[pos + 5:end])):  # S
                if pos > start:
                    out.append(bytes(buf[start:pos]))
                start = end
            pos = self._pos = end
            if stop:
                break
        if pos > start:
            out.append(bytes(buf[start:pos]))
        self._advance(pos)
        return stop, error

    def write(self, data: bytes) -> None:
        transport = self.link.transport
        if transport is None or transport.is_closing():
            self.broken = True
            raise ConnectionResetError(f"the connection to compute {self.backend.address} is closed")
        transport.write(data)

    def write_buffer_size(self) -> int:
        transport = self.link.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def closed(self) -> bool:
        """The compute closed it (or it was closed here), with nothing left to read."""
        transport = self.link.transport
        return transport is None or transport.is_closing() or self.link.eof

    async def drain(self) -> None:
        try:
            await self.link.drain()
        except BaseException:
            self.broken = True
            raise

    def close(self) -> None:
        self.broken = True
        transport = self.link.transport
        if transport is None:
            return
        with contextlib.suppress(Exception):
            if not transport.is_closing():
                transport.write(fe.TERMINATE)
        with contextlib.suppress(Exception):
            transport.close()


class Pool:
    """Server connections of one (database, user) on one compute: at most ``size``, the rest
    of the demand waits (FIFO) up to the pool timeout."""

    def __init__(self, backend: Backend, database: str, user: str, size: int,
                 secret: str | None, connect_timeout_s: float) -> None:
        self.backend = backend
        self.database = database
        self.user = user
        self.size = size
        self.secret = secret
        self.connect_timeout_s = connect_timeout_s
        self.idle: list[ServerConn] = []
        self.total = 0
        self.in_use = 0
        self.waiters: collections.deque[asyncio.Future[ServerConn | None]] = collections.deque()

    def take_idle(self) -> ServerConn | None:
        """A pooled connection that is still usable, taken; None if there is none."""
        while self.idle:
            conn = self.idle.pop()
            if conn.broken or conn.closed() or conn.has_message():
                self._drop(conn)  # closed by the compute while idle (e.g. it died)
                continue
            self._take()
            return conn
        return None

    async def acquire(self, timeout_s: float) -> ServerConn:
        deadline = time.monotonic() + timeout_s
        while True:
            conn = self.take_idle()
            if conn is not None:
                return conn
            if self.total < self.size:
                self.total += 1
                try:
                    conn = await ServerConn.connect(self.backend, self.database, self.user,
                                                    self.secret, self.connect_timeout_s)
                except BaseException:
                    self.total -= 1
                    self._wake()
                    raise
                self._take()
                return conn
            left = deadline - time.monotonic()
            if left <= 0:
                raise PoolExhausted()
            fut: asyncio.Future[ServerConn | None] = asyncio.get_running_loop().create_future()
            self.waiters.append(fut)
            try:
                got = await asyncio.wait_for(fut, left)
            except TimeoutError:
                raise PoolExhausted() from None
            finally:
                with contextlib.suppress(ValueError):
                    self.waiters.remove(fut)
            if got is not None:
                self._take()
                return got

    def _take(self) -> None:
        self.in_use += 1
        self.backend.outstanding += 1

    def release(self, conn: ServerConn) -> None:
        self.in_use -= 1
        self.backend.outstanding -= 1
        conn.last_used = time.monotonic()
        if conn.broken or conn.closed() or not self.backend.healthy:
            conn.close()
            self._drop(conn)
            return
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        self.idle.append(conn)

    def _drop(self, conn: ServerConn) -> None:
        conn.close()
        self.total -= 1
        self._wake()

    def _wake(self) -> None:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def close_idle(self) -> None:
        while self.idle:
            self._drop(self.idle.pop())
