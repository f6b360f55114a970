"""A client's socket lent by the proxy for a write transaction (decision 0017).

The proxy sends the client's descriptor on the side socket (``DescriptorInbox``) and a
HANDOFF message on its server connection; from then on the connection's ``WireProtocol``
writes to the client's socket and takes its input from there, through ``Lent.feed``: each
whole message is checked (only what the proxy would have relayed without recording
anything: Bind/Describe/Execute/Close of the unnamed portal, Binds and Describes of the
statement names the HANDOFF mapped, renamed to the server's names, Parses of the unnamed
statement holding a plain statement and its Binds and Describes after such a Parse (the
last one's body goes back in the HANDBACK: the proxy keeps the unnamed statement's text),
Sync, Flush, and simple Queries of plain statements). The first message that does not pass stops the feed. The
socket goes back (HANDBACK on the proxy's connection, then the wire writes to the proxy
again) once everything fed is answered and the transaction ended, the feed stopped, or the
client closed its end. A transaction's end keeps the socket for ``--lend-linger-ms`` more
(``handoff.LEND_LINGER_MS``): the client's next transaction, if it begins by then, runs on
the same lending (up to ``handoff.LEND_MAX_S`` in all, and while this node takes writes);
each commit's LSN is on the inbox's commit board (``handoff.CommitBoard``) before the
client's answer. Message formats: strata/pgwire/handoff.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import time
from typing import TYPE_CHECKING, cast

from strata.classify import Classifier
from strata.pgwire import handoff
from strata.pgwire import messages as m
from strata.pgwire.unixsock import SOCKET_FILE_MODE, claim_socket_path

if TYPE_CHECKING:
    from compute.pgwire.server import Connection
    from compute.session import Session

log = logging.getLogger("strata.compute.lent")

DESCRIPTOR_WAIT_S = 2.0
"""Bound on a HANDOFF's descriptor arriving on the side socket after the message."""
MAX_WAITING_DESCRIPTORS = 1024
"""Descriptors received and not yet claimed by a HANDOFF (more: the oldest is closed)."""
READ_CHUNK_BYTES = 256 * 1024
"""Largest read from a lent client socket at once."""
HANDBACK_FLUSH_WAIT_S = 0.001
"""Poll interval (seconds) while the client's socket still has unsent answers at hand-back."""
MAX_HANDBACK_FLUSH_POLLS = 5_000
"""Polls before a client that takes no bytes is cut off (5 s)."""

_I32 = struct.Struct("!i")
_RFQ_HEAD = b"Z\x00\x00\x00\x05"
_classifier = Classifier()  # its caches fill only on a lent socket's Queries


class DescriptorInbox:
    """The compute's side socket: client descriptors the proxy sends, each with a token."""

    def __init__(self, path: str, board_path: str) -> None:
        self.path = path
        self.board = handoff.CommitBoard(board_path, writer=True)  # lent commits' LSNs, for the proxy
        self.fds: dict[int, int] = {}
        self._waiters: dict[int, asyncio.Future[int]] = {}
        self._peers: set[socket.socket] = set()
        claim_socket_path(path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._listener.bind(path)
        os.chmod(path, SOCKET_FILE_MODE)
        self._listener.listen(16)
        self._listener.setblocking(False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._listener.fileno(), self._accept)

    def _accept(self) -> None:
        try:
            peer, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        creds = peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        if struct.unpack("3i", creds)[1] != os.getuid():  # only the cluster's own user
            peer.close()
            return
        peer.setblocking(False)
        self._peers.add(peer)
        self._loop.add_reader(peer.fileno(), self._receive, peer)

    def _receive(self, peer: socket.socket) -> None:
        while True:
            try:
                got = handoff.receive_descriptor(peer)
            except (EOFError, m.ProtocolViolation, OSError):
                self._drop(peer)
                return
            if got is None:
                return
            token, fd = got
            waiter = self._waiters.pop(token, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(fd)
                continue
            if len(self.fds) >= MAX_WAITING_DESCRIPTORS:
                os.close(self.fds.pop(next(iter(self.fds))))
            self.fds[token] = fd
            # unclaimed (the proxy's HANDOFF never came): closed, or the client would never
            # see its connection end
            self._loop.call_later(DESCRIPTOR_WAIT_S, self._expire, token)

    def _expire(self, token: int) -> None:
        fd = self.fds.pop(token, None)
        if fd is not None:
            os.close(fd)

    def _drop(self, peer: socket.socket) -> None:
        self._loop.remove_reader(peer.fileno())
        self._peers.discard(peer)
        peer.close()

    def claim(self, token: int) -> int | None:
        """The descriptor sent with ``token`` if it is here (the side sockets are read once
        more first if not); None otherwise."""
        fd = self.fds.pop(token, None)
        if fd is None:
            for peer in list(self._peers):
                self._receive(peer)
            fd = self.fds.pop(token, None)
        return fd

    async def take(self, token: int) -> int:
        """The descriptor sent with ``token`` (TimeoutError after DESCRIPTOR_WAIT_S)."""
        fd = self.claim(token)
        if fd is not None:
            return fd
        waiter: asyncio.Future[int] = self._loop.create_future()
        self._waiters[token] = waiter
        try:
            return await asyncio.wait_for(waiter, DESCRIPTOR_WAIT_S)
        finally:
            self._waiters.pop(token, None)

    def close(self) -> None:
        for peer in list(self._peers):
            self._drop(peer)
        self._loop.remove_reader(self._listener.fileno())
        self._listener.close()
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()
        self.board.close()  # the file stays: a proxy's mapping of it stays valid
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class FdTransport:
    """The lent descriptor as the little of a transport the wire uses: reads from a loop
    reader straight into ``Lent.feed``, writes with ``os.write`` (the rest buffered behind a
    loop writer). Not a uvloop transport: wrapping the descriptor in one and closing it cost
    ~40 µs per transaction, more than the rest of the lending."""

    def __init__(self, fd: int, lent: Lent) -> None:
        self.fd = fd
        self.lent = lent
        os.set_blocking(fd, False)  # the proxy's socket is already; the flag is shared
        self._loop = asyncio.get_running_loop()
        self._out = bytearray()
        self._reading = False
        self._closed = False

    def start(self) -> None:
        self.resume_reading()

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, READ_CHUNK_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.pause_reading()
            self.lent.client_gone()
            return
        self.lent.feed(data)

    def write(self, data: bytes) -> None:
        if self._closed:
            raise ConnectionResetError("the lent client socket is closed")
        if self._out:
            self._out += data
            return
        try:
            sent = os.write(self.fd, data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._loop.call_soon(self.lent.client_gone)  # as a reader would see it
            return
        if sent < len(data):
            self._out += data[sent:]
            self._loop.add_writer(self.fd, self._writable)

    def _writable(self) -> None:
        try:
            sent = os.write(self.fd, self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._out.clear()
            self._loop.remove_writer(self.fd)
            self.lent.client_gone()
            return
        del self._out[:sent]
        if not self._out:
            self._loop.remove_writer(self.fd)

    def get_write_buffer_size(self) -> int:
        return len(self._out)

    def is_closing(self) -> bool:
        return self._closed

    def pause_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self.fd)

    def resume_reading(self) -> None:
        if not self._reading and not self._closed:
            self._reading = True
            self._loop.add_reader(self.fd, self._readable)

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def close(self) -> None:
        """Our copy of the descriptor goes (unsent bytes with it: the hand-back waits for
        them; a session that ends meanwhile loses them, as its connection goes anyway)."""
        if self._closed:
            return
        self.pause_reading()
        if self._out:
            self._out.clear()
            self._loop.remove_writer(self.fd)
        self._closed = True
        os.close(self.fd)


class Lent:
    """One lending of a client's socket to a connection (see the module docstring)."""

    def __init__(self, conn: Connection, names: dict[bytes, bytes]) -> None:
        self.conn = conn
        self.wire = conn.wire
        self.names = names
        self.proxy_transport = self.wire.transport
        self.client: FdTransport | None = None
        self.pending = bytearray()  # client bytes read and not fed
        self.stopped = False        # a message the proxy must see is first in ``pending``
        self.gone = False           # the client closed its end
        self.answered = False       # the last write ended with ReadyForQuery, nothing fed since
        self.status = b"T"
        self.unnamed: bytes | None = None  # the last unnamed Parse taken (its body): HANDBACK
        self.done = False
        self._polls = 0
        self._started = time.monotonic()
        self._linger: asyncio.TimerHandle | None = None  # idle after a transaction (settled)
        self._lingered = False  # the linger ran out: hand back at the next idle point
        self.ended = 0  # transactions that ended on this lending (for the HANDBACK)

    def attach(self, transport: FdTransport) -> None:
        """From here on the wire writes to the client and reads it."""
        self.client = transport
        self.wire.transport = cast(asyncio.Transport, transport)
        self.wire.lent = self
        self.conn.report_lsns = False  # LSN reports are the proxy's: they go in the HANDBACK

    # ---- input

    def feed(self, data: bytes) -> None:
        """Client bytes: pass on every whole message the proxy lets the compute take."""
        pending = self.pending
        pending += data
        if self.stopped or self.done:
            return
        if self._linger is not None and not self._may_linger():
            # a new transaction on a lingering lending that may not go on (this node stopped
            # taking writes, or LEND_MAX_S passed): it goes back unread, for the proxy to route
            self._stop_lingering()
            self.stopped = True
            if self.client is not None:
                self.client.pause_reading()
            self.settled()
            return
        out = bytearray()
        pos = 0
        size = len(pending)
        limit = self.conn.message_limit()
        while size - pos >= 5:
            length = _I32.unpack_from(pending, pos + 1)[0]
            end = pos + 1 + length
            if length < 4 or length - 4 > limit:  # the proxy reports it
                self.stopped = True
                break
            if end > size:
                break
            passed = self._pass(pending[pos], bytes(pending[pos + 5:end]))
            if passed is False:
                self.stopped = True
                break
            out += pending[pos:end] if passed is True else passed
            pos = end
        del pending[:pos]
        if self.stopped and self.client is not None:
            self.client.pause_reading()
        if out:
            self.answered = False
            self._stop_lingering()  # the client's next transaction, on this lending
            self.wire.data_received(bytes(out))
        if self.stopped:
            self.settled()

    def _pass(self, kind: int, body: bytes) -> bytes | bool:
        """True: pass the message as it is; bytes: pass this instead (a statement renamed);
        False: stop, the proxy must see this one."""
        if kind in (0x53, 0x48):               # Sync, Flush
            return True
        if kind == 0x45:                       # Execute: of the unnamed portal only
            return body[:1] == b"\x00"
        if kind == 0x43:                       # Close: of the unnamed portal only
            return body == b"P\x00"
        if kind == 0x44:                       # Describe
            if body == b"P\x00":
                return True
            if body == b"S\x00":                # the unnamed statement, parsed while lent
                return self.unnamed is not None
            server = self.names.get(body[1:-1]) if body[:1] == b"S" and body[-1:] == b"\x00" else None
            return False if server is None else m.message(b"D", b"S" + server + b"\x00")
        if kind == 0x42:                       # Bind: unnamed portal, a mapped or unnamed statement
            if body[:1] != b"\x00":
                return False
            end = body.find(b"\x00", 1)
            if end == 1:                       # the unnamed statement, parsed while lent
                return self.unnamed is not None
            server = self.names.get(body[1:end]) if end > 1 else None
            return False if server is None else m.message(b"B", b"\x00" + server + body[end:])
        if kind == 0x50:                       # Parse: of the unnamed statement, plain
            end = body.find(b"\x00", 1)
            if body[:1] != b"\x00" or end < 0 or handoff.copy_query(body[1:end]):
                return False
            try:
                sql = body[1:end].decode()
            except UnicodeDecodeError:
                return False
            if not _classifier.plain(sql):
                return False
            self.unnamed = body
            return True
        if kind == 0x51:                       # Query: plain statements only
            try:
                sql = body[:-1].decode()
            except UnicodeDecodeError:
                return False
            if body[-1:] != b"\x00" or "\x00" in sql or handoff.copy_query(body):
                return False
            return _classifier.plain(sql)
        return False

    def client_gone(self) -> None:
        """The client closed its end: the session ends as on a direct connection (the
        proxy sees its server connection close and drops the client)."""
        if not self.gone and not self.done:
            self.gone = True
            self.stopped = True
            self.wire.eof_received()

    # ---- output

    def wrote(self, data: bytes) -> None:
        """The wire wrote ``data`` to the client: at a ReadyForQuery, maybe hand back."""
        if data[-6:-1] == _RFQ_HEAD:
            self.answered = True
            status = data[-1:]
            if status == b"I" and self.status != b"I":
                self.ended += 1
            self.status = status
            self.settled()

    def settled(self) -> None:
        """Hand back if everything fed is answered and the lending is over."""
        if self.done or self.gone:
            return
        wire = self.wire
        if wire.held or wire.buf or not self.answered or not (self.stopped or self.status == b"I"):
            return
        if not self.stopped and self._may_linger():
            if self._linger is None:
                self._linger = asyncio.get_running_loop().call_later(
                    self.conn.server.config.lend_linger_ms / 1000, self._linger_over)
            return
        client = self.client
        if client is not None and client.get_write_buffer_size() > 0:
            self._polls += 1
            if self._polls > MAX_HANDBACK_FLUSH_POLLS:  # a client that takes no bytes
                self.client_gone()
                return
            asyncio.get_running_loop().call_later(HANDBACK_FLUSH_WAIT_S, self.settled)
            return
        self.hand_back()

    def _may_linger(self) -> bool:
        """Whether the lending may wait for the client's next transaction: lingering is on,
        the lending is younger than ``LEND_MAX_S``, and this node still takes writes (a
        fenced or demoted primary gives the socket back, and the proxy routes the next
        transaction to the new one)."""
        if self._lingered or self.conn.server.config.lend_linger_ms <= 0:
            return False
        if time.monotonic() - self._started > handoff.LEND_MAX_S:
            return False
        session = self.conn.session
        return session is not None and self.conn.server.engine.writable_now(session.db)

    def _linger_over(self) -> None:
        """No transaction came within the linger: the socket goes back (``settled``)."""
        self._linger = None
        self._lingered = True
        self.settled()

    def publish_commit(self, session: Session) -> None:
        """Before an answer goes out: the session's newest commit on the inbox's commit board
        (the proxy's read watermark has it before the client hears of it)."""
        conn = self.conn
        lsn = session.last_commit_lsn
        if lsn > conn.reported_commit_lsn:
            conn.reported_commit_lsn = lsn
            inbox = conn.server.inbox
            assert inbox is not None, "a lent socket without the inbox it came through"
            inbox.board.publish(lsn)

    def _stop_lingering(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None

    def close(self) -> None:
        """The connection ends while lent: both sockets close (the proxy then drops the
        client, as PostgreSQL's client sees its backend go)."""
        self.done = True
        self._stop_lingering()
        for transport in (self.client, self.proxy_transport):
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.close()

    def hand_back(self) -> None:
        """The socket goes back to the proxy with what it needs to go on."""
        self.done = True
        self._stop_lingering()
        wire, conn = self.wire, self.conn
        wire.lent = None
        wire.transport = self.proxy_transport
        conn.report_lsns = True
        session = conn.session
        lsn = session.last_commit_lsn if session is not None else 0
        conn.reported_commit_lsn = max(conn.reported_commit_lsn, lsn)
        client = self.client
        if client is not None:
            client.close()  # our descriptor only: the proxy's keeps the connection open
        frame = handoff.handback_frame(self.status, lsn, self.ended, self.unnamed, bytes(self.pending))
        self.pending.clear()
        with contextlib.suppress(ConnectionError):
            wire.write(frame)


async def lend(conn: Connection, body: bytes) -> None:
    """A HANDOFF message: take the client's descriptor and read and answer the client."""
    inbox = conn.server.inbox
    try:
        token, names = handoff.parse_handoff(body)
        if inbox is None:
            raise m.ProtocolViolation("this compute has no hand-off socket")
        fd = await inbox.take(token)
    except (m.ProtocolViolation, TimeoutError) as exc:  # the proxy drops its client on this
        await conn.fatal("08P01", f"hand-off failed: {exc or 'the descriptor did not arrive'}")
        return
    _start(conn, names, fd)


def take_handoff(conn: Connection, buf: bytearray) -> bool:
    """The socket callback's HANDOFF at the head of ``buf`` (a connection idle with everything
    sent): when the descriptor is here, lend at once and cut the message out, and what
    follows goes to the callback lanes as usual. False: the loop's ``lend`` does it."""
    inbox = conn.server.inbox
    if inbox is None or not conn.via_proxy or len(buf) < 5:
        return False
    end = 1 + int.from_bytes(buf[1:5], "big")
    if end > len(buf) or end < 5:
        return False
    try:
        token, names = handoff.parse_handoff(bytes(buf[5:end]))
    except m.ProtocolViolation:
        return False  # the loop reports it
    fd = inbox.claim(token)
    if fd is None:
        return False
    del buf[:end]
    _start(conn, names, fd)
    return True


def _start(conn: Connection, names: dict[bytes, bytes], fd: int) -> None:
    lent = Lent(conn, names)
    transport = FdTransport(fd, lent)
    lent.attach(transport)
    transport.start()
