"""A connection's bytes: an asyncio.Protocol with a byte buffer that messages are cut from.

StreamReader costs a coroutine, a future and two copies per ``readexactly``; a pipelined
Bind/Execute/Sync took six of them. Here ``data_received`` appends to one bytearray and
``take_message`` cuts whole messages out of it synchronously: the connection's loop handles
everything that arrived before it waits again. It also offers what the startup code uses of
a StreamReader/StreamWriter pair (``readexactly``, ``write``, ``drain``, ``start_tls``).
"""

from __future__ import annotations

import asyncio
import ssl
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from strata.busypoll import BusyPoll

if TYPE_CHECKING:
    from compute.pgwire.lent import Lent

READ_PAUSE_BYTES = 1 << 20
"""Buffered unread input (bytes) at which reading from the socket pauses (resumed below it),
on top of the one message being collected, whose size the caller bounds."""
_LENGTH = struct.Struct("!i")


class BadLength(Exception):
    """A message header with a length the caller's limit refuses (the stream is unusable)."""

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length


class WireProtocol(asyncio.Protocol):
    """Buffers a socket's input; ``on_connect`` starts the connection's task."""

    def __init__(self, on_connect: Callable[[WireProtocol], None],
                 busy_poll: BusyPoll | None = None) -> None:
        self.buf = bytearray()
        self._busy_poll = busy_poll
        """The server's poller, told of every input and every answer written
        (strata/busypoll.py)."""
        self.transport: asyncio.Transport | None = None
        self._on_connect = on_connect
        self._waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._eof = False
        self._paused_reading = False
        self._paused_writing = False
        self._want = 0  # bytes the pending read needs: reading is never paused below this
        self.on_batch: Callable[[bytearray], bool] | None = None
        """Tried on input while the reader waits: True when it answered and emptied the buffer
        (compute/pgwire/fastbatch.py, fastquery.py); the waiting reader is then not woken."""
        self.held = False
        """An answer is still to come from outside the loop (a COMMIT waiting for its fsync,
        compute/pgwire/fastcommit.py): input and the end of the stream are only buffered,
        neither ``on_batch`` nor the waiting reader sees them until ``release``."""
        self.lent: Lent | None = None
        """While the proxy lends the client's socket (compute/pgwire/lent.py): ``transport``
        is the client's, input comes through the Lent, which watches what is written."""

    # ---- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # uvloop's transports are not asyncio.Transport subclasses
            self.transport = cast(asyncio.Transport, transport)
            self._on_connect(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self._busy_poll is not None:
            self._busy_poll.input()
        if self.held:
            self._bound_input()
            return
        if self._waiter is not None and self.on_batch is not None and self.on_batch(self.buf):
            return
        self._bound_input()
        self._wake()

    def _bound_input(self) -> None:
        if len(self.buf) > max(READ_PAUSE_BYTES, self._want) and not self._paused_reading \
                and self.transport is not None:
            self._paused_reading = True
            self.transport.pause_reading()

    def hold(self) -> None:
        """Buffer input and the end of the stream without acting on them (``held``)."""
        self.held = True

    def release(self) -> None:
        """The held answer went out: what arrived meanwhile is handled as it would have been
        on arrival (a callback lane, else the waiting reader is woken)."""
        if not self.held:
            return
        self.held = False
        if self._eof:
            self._wake()
        elif self.buf and not (self._waiter is not None and self.on_batch is not None
                               and self.on_batch(self.buf)):
            self._wake()
        if self.lent is not None:
            self.lent.settled()

    def eof_received(self) -> bool:
        self._eof = True
        if not self.held:
            self._wake()
        return True  # half-closed: answers already queued still go out (as StreamReaderProtocol)

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if not self.held:
            self._wake()
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionResetError("connection lost"))

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def wake(self) -> None:
        """Wake the waiting reader (it finds nothing new, or the end of the stream)."""
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- reading

    def take_message(self, limit: int) -> tuple[bytes, bytes] | None:
        """The next whole message (type byte, body) if it has arrived, else None. A length
        below 4 or a body over ``limit`` bytes raises BadLength as soon as the header is in."""
        buf = self.buf
        have = len(buf)
        if have < 5:
            return None
        length = _LENGTH.unpack_from(buf, 1)[0]
        if length < 4 or length - 4 > limit:
            raise BadLength(length)
        end = length + 1
        if have < end:
            self._want = end
            return None
        kind = bytes(buf[0:1])
        body = bytes(buf[5:end])
        del buf[:end]
        if self._paused_reading and len(buf) <= READ_PAUSE_BYTES:
            self._resume_reading()
        return kind, body

    def _resume_reading(self) -> None:
        self._paused_reading = False
        if self.transport is not None:
            self.transport.resume_reading()

    async def wait_readable(self) -> None:
        """Until more bytes arrive (IncompleteReadError at end of stream)."""
        if self._eof:
            raise asyncio.IncompleteReadError(bytes(self.buf), None)
        if self._paused_reading:  # the caller needs more than is buffered: read on
            self._resume_reading()
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        await waiter

    async def read_message(self, limit: int) -> tuple[bytes, bytes]:
        while True:
            message = self.take_message(limit)
            if message is not None:
                self._want = 0
                return message
            await self.wait_readable()

    async def readexactly(self, n: int) -> bytes:
        self._want = n
        while len(self.buf) < n:
            await self.wait_readable()
        self._want = 0
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    # ---- writing

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():  # uvloop raises RuntimeError there
            raise ConnectionResetError("connection closed")
        transport.write(data)
        if self._busy_poll is not None:  # the client's next message follows an answer
            self._busy_poll.input()
        if self.lent is not None:
            self.lent.wrote(data)

    async def drain(self) -> None:
        if self.transport is not None and self.transport.is_closing():
            raise ConnectionResetError("connection closed")
        if not self._paused_writing:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._drain_waiter = waiter
        await waiter

    def write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Switch the connection to TLS (after answering SSLRequest with 'S')."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(self.transport, self, context, server_side=True)
        assert transport is not None
        self.transport = transport

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default) if self.transport is not None else default

    def close(self) -> None:
        if self.lent is not None:
            self.lent.close()
        elif self.transport is not None:
            self.transport.close()
