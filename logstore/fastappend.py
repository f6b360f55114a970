"""The fast append stream: AppendStream over a plain TCP connection instead of gRPC.

Why: with grpc.aio every message crosses three threads on each side (grpc core's I/O
thread, the aio poller, the event loop); on a 2-core machine those hops, not the disk,
were the commit latency (docs/logstore.md, "Performance"). Here a message is read and
acknowledged on the event loop itself: one ``recv`` and one ``send`` per message.

Same messages, same rules: a request is a serialized ``AppendRequest``, an ack a
serialized ``AppendResponse``; the acceptor handles them exactly like AppendStream
(``Acceptor.append_write`` in arrival order, an ack only after the fdatasync covering the
append, in order, checked by ``Acceptor.ack_state``); the first error ends the stream after
the acks before it.

Wire format: the client first sends ``MAGIC``; then both sides send frames
``<u32 body length, u8 kind>`` + body. Client kinds: APPEND. Server kinds: ACK, ERROR
(body ``<u32 status code, u64 promised term>`` + UTF-8 message; the server closes after it).

Mutual TLS like the acceptor's gRPC server: an acceptor started with ``--internal-tls-dir``
serves the stream over TLS with the same files (``server_ssl_context``: a client certificate
signed by the cluster CA is required, and its role must be one ROLE_TABLE allows for
AppendStream, else an ERROR frame PERMISSION_DENIED); the proposer presents its own
certificate and checks the acceptor's against the cluster CA and the host it dialed, as
gRPC's channel does (``client_ssl_context``). The port is advertised in the trailing
metadata of ``Vote`` under a key that says which: ``FAST_APPEND_TLS_PORT_KEY`` (TLS) or
``FAST_APPEND_PORT_KEY`` (plaintext). A proposer with TLS uses only the TLS key, one
without only the plaintext key, so a plaintext stream is never used in a cluster running
mTLS. A proposer that cannot connect (or handshake) falls back to gRPC for ``FALLBACK_S``.

A Unix socket beside it (decision 0018): an acceptor serving the stream also listens on
``UNIX_SOCKET_NAME`` in its data directory, same frames and the same handler, without TLS.
The socket file is made owner-only (0600) before it is bound, and each side checks the
other's uid (``SO_PEERCRED``) is its own: only a process of the acceptor's OS user can
append there, the same set that can read the compute's private key and append over mTLS.
A socket file nobody answers on (an acceptor killed with SIGKILL) is replaced at start; a
live one (another acceptor on this data directory) is refused. Vote advertises the path
(``FAST_APPEND_UNIX_KEY``); a proposer uses it only when told this acceptor is on its
machine (``logstore.transport.UNIX_SOCKETS_ENV``, which `strata up` sets) and the path
told matches the one advertised; if it cannot connect it uses the TCP stream (or gRPC)
for ``FALLBACK_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import struct
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import grpc
from google.protobuf.message import DecodeError

from logstore.errors import FencedError, InvalidRequestError, LogstoreError, TransportError
from strata.pgwire.unixsock import SocketInUseError, SocketPathError, claim_socket_path
from strata.proto import logstore_pb2 as pb
from strata.tls import ROLE_URI_PREFIX, ROLES, TlsFiles

if TYPE_CHECKING:
    from logstore.acceptor import Acceptor

log = logging.getLogger("logstore.fastappend")

MAGIC = b"STRATA-APPEND/1\n"
HEADER = struct.Struct("<IB")
ERROR_HEAD = struct.Struct("<IQ")
KIND_APPEND = 1
KIND_ACK = 2
KIND_ERROR = 3
MAX_FRAME_BYTES = 4 << 20
"""Largest message body, as gRPC's limit (proposer batches are at most 1 MiB)."""
MAX_PENDING_ACKS = 64
"""Appends written but not yet acknowledged on one connection; reading pauses beyond."""
MAX_ERROR_BYTES = 4096
"""An error message is cut to this many bytes."""
BULK_READ_BYTES = 64 << 10
"""A read at least this big suggests more appends are already waiting (``Acceptor._flusher``)."""
DRAINED_READ_BYTES = 200_000
"""A read smaller than this emptied the socket: the loop reads up to 256,000 bytes (uvloop;
asyncio 262,144) at a time and reads again at once only after a full read. After such a
read that leaves no partial message, the group commit runs at once (``Acceptor.sync_now``):
nothing more is waiting to join it. (Over TLS a read is decrypted first; a full read gives a
little less plaintext, still above this.)"""
JOIN_MAX_BYTES = 16 << 10
"""A request body up to this size is sent in one buffer with its frame header (one TLS
record: TLS records carry at most 16 KiB); a bigger one as two buffers (no copy)."""
CONNECT_TIMEOUT_S = 2.0
FALLBACK_S = 30.0
"""After a failed connect, the proposer uses gRPC AppendStream to that acceptor this long."""
TLS_HANDSHAKE_TIMEOUT_S = 5.0
"""A peer that has not finished the TLS handshake by then is dropped (both sides)."""
FAST_APPEND_PORT_KEY = "strata-fast-append-port"
"""Vote trailing metadata: the plaintext fast append port."""
FAST_APPEND_TLS_PORT_KEY = "strata-fast-append-tls-port"
"""Vote trailing metadata: the mutual-TLS fast append port."""
FAST_APPEND_UNIX_KEY = "strata-fast-append-unix"
"""Vote trailing metadata: the path of the acceptor's fast append Unix socket."""
UNIX_SOCKET_NAME = "fastappend.sock"
"""The fast append Unix socket's file name in an acceptor's data directory."""
MAX_UNIX_PATH_BYTES = 107
"""Longest Unix socket path Linux takes (sun_path is 108 bytes with the terminating NUL)."""
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid

_CODES = {c.value[0]: c for c in grpc.StatusCode}


def error_frame(code: grpc.StatusCode, message: str, promised: int) -> bytes:
    body = ERROR_HEAD.pack(code.value[0], promised) + message.encode()[:MAX_ERROR_BYTES]
    return HEADER.pack(len(body), KIND_ERROR) + body


# ---- mutual TLS -------------------------------------------------------------------------


def server_ssl_context(files: TlsFiles) -> ssl.SSLContext:
    """What ``strata.tls.server_credentials`` asks of gRPC: this acceptor's certificate, and
    a client certificate signed by the cluster CA required of every peer."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(files.cert, files.key)
    ctx.load_verify_locations(cafile=str(files.ca))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


_client_contexts: dict[TlsFiles, ssl.SSLContext] = {}
MAX_CLIENT_CONTEXTS = 8
"""Client contexts kept (one per identity; a process has one or two)."""


def client_ssl_context(files: TlsFiles) -> ssl.SSLContext:
    """What ``strata.tls.channel_credentials`` gives gRPC: trust only the cluster CA, check
    the acceptor's name (the dialed host against its SANs), present this certificate."""
    ctx = _client_contexts.get(files)
    if ctx is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_verify_locations(cafile=str(files.ca))
        ctx.load_cert_chain(files.cert, files.key)
        if len(_client_contexts) >= MAX_CLIENT_CONTEXTS:
            _client_contexts.clear()
        _client_contexts[files] = ctx
    return ctx


def peer_role_of(peercert: Any) -> str:
    """The role in a verified peer certificate (``SSLObject.getpeercert()``), or ""."""
    for kind, value in (peercert or {}).get("subjectAltName", ()):
        if kind == "URI" and value.startswith(ROLE_URI_PREFIX) and value[len(ROLE_URI_PREFIX):] in ROLES:
            return str(value[len(ROLE_URI_PREFIX):])
    return ""


# ---- Unix socket ------------------------------------------------------------------------


class UnixSocketError(OSError):
    """The fast append socket path cannot be used (in use, not a socket, too long)."""


def unix_socket_path(data_dir: Path | str) -> Path | None:
    """Where an acceptor with this data directory listens (absolute); None if the path is
    too long for a Unix socket (that acceptor serves TCP only)."""
    path = Path(data_dir).absolute() / UNIX_SOCKET_NAME
    return path if len(os.fsencode(path)) <= MAX_UNIX_PATH_BYTES else None


def peer_uid(transport: asyncio.BaseTransport) -> int | None:
    """The uid of the process at the other end of a Unix socket transport (None if unknown)."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    try:
        return int(_PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))[1])
    except OSError:
        return None


def _clear_stale_socket(path: Path) -> None:
    """Remove a socket file nobody listens on (left by an acceptor that died without closing
    it); refuse anything else at ``path`` (``strata.pgwire.unixsock.claim_socket_path``, as
    the compute does for its own socket)."""
    try:
        claim_socket_path(str(path))
    except SocketInUseError:
        raise UnixSocketError(f"{path} is in use: another acceptor serves this data "
                              "directory") from None
    except SocketPathError as exc:
        raise UnixSocketError(str(exc)) from None


def bind_owner_only(path: Path) -> socket.socket:
    """A listening-ready Unix socket bound at ``path`` with mode 0600 from its creation (the
    mode of the socket inode is set before bind, so no other user can connect in between)."""
    _clear_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.fchmod(sock.fileno(), 0o600)
        sock.bind(str(path))
        os.chmod(path, 0o600)  # whatever the kernel did with the umask
    except BaseException:
        sock.close()
        raise
    return sock


# ---- acceptor side ----------------------------------------------------------------------

CheckFn = Callable[[pb.AppendRequest], list[tuple[bytes, int]]]
ResolveFn = Callable[[str, str], "Acceptor"]
StatusFn = Callable[[LogstoreError], grpc.StatusCode]


class _AppendProtocol(asyncio.Protocol):
    """One client connection. Messages are parsed and written in ``data_received`` (no
    task, no stream buffer in between); acks are sent in order from the flusher's
    callback right after the fdatasync (``Acceptor.on_durable``)."""

    def __init__(self, server: FastAppendServer, local: bool = False) -> None:
        self.server = server
        self.local = local  # over the Unix socket: the peer's uid decides, not a certificate
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.greeted = False
        # (log, term, end LSN, durable yet) or the error that ends the stream
        self.pending: deque[list[Any] | LogstoreError] = deque()
        self.paused = False
        self.done = False
        self.bulk = False  # the last read filled a large buffer: more is probably waiting
        self.written: list[Acceptor] = []  # logs appended to in this data_received, not yet synced
        self.unsynced: list[list[Any]] = []
        """The pending items of this data_received's appends: once it has synced (or woken the
        flusher), each is marked durable or waits for the fdatasync covering it (``_watch``)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.server.conns.add(self)
        if self.local:
            uid = peer_uid(transport)
            if uid != os.geteuid():
                self._refuse(f"a process of uid {uid} (only uid {os.geteuid()} may append here)")
            else:
                self.server.unix_connections += 1
        elif self.server.allowed_roles is not None:
            # TLS: the handshake has checked the chain to the cluster CA; the role decides,
            # as ROLE_TABLE does for gRPC AppendStream.
            role = peer_role_of(transport.get_extra_info("peercert"))
            if role not in self.server.allowed_roles:
                who = f"role {role!r}" if role else "a peer without a strata role certificate"
                self._refuse(f"{who}: allowed roles are {', '.join(sorted(self.server.allowed_roles))}")

    def _refuse(self, why: str) -> None:
        assert self.transport is not None
        self.done = True
        self.transport.write(error_frame(grpc.StatusCode.PERMISSION_DENIED,
                                         f"LogStore.AppendStream refused for {why}", 0))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.done = True  # the proposer went away: its unsent acks do not matter
        self.pending.clear()
        self.server.conns.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        self.bulk = len(data) >= BULK_READ_BYTES
        drained = len(data) < DRAINED_READ_BYTES
        if self.buf:  # the rest of a message begun in an earlier read
            self.buf += data
            data = bytes(self.buf)
            self.buf.clear()
        # Messages are parsed from slices of the (immutable) read: no copy per message.
        pos = 0
        if not self.greeted:
            if len(data) < len(MAGIC):
                self.buf += data
                return
            if data[: len(MAGIC)] != MAGIC:
                self.close()
                return
            self.greeted = True
            pos = len(MAGIC)
        written = self.written
        size = len(data)
        try:
            try:
                view = memoryview(data)
                while not self.done and size - pos >= HEADER.size:
                    n, kind = HEADER.unpack_from(data, pos)
                    if kind != KIND_APPEND or n > MAX_FRAME_BYTES:
                        self.fail(InvalidRequestError(f"malformed request message: frame kind {kind}, {n} bytes"))
                        return
                    if size - pos - HEADER.size < n:
                        break
                    body = view[pos + HEADER.size : pos + HEADER.size + n]
                    pos += HEADER.size + n
                    self.append(body)
            finally:
                # Appends written above did not wake the flusher: commit them now if nothing
                # more is waiting to be read, else let the flusher group them.
                whole = drained and pos == size
                try:
                    while written:
                        acc = written.pop()
                        if whole:
                            acc.sync_now()
                        else:
                            acc.flush_soon()
                finally:
                    unsynced = self.unsynced
                    if unsynced:
                        if not self.done:
                            for item in unsynced:
                                self._watch(item)
                        unsynced.clear()
                    # The acks of every append made durable above, in one write.
                    if self.pending:
                        self.drain()
        except Exception:  # a bug must not leave a half-open stream behind
            log.exception("fast append connection failed")
            self.close()
            return
        if pos < size and not self.done:
            self.buf += view[pos:]  # a message not complete yet
        if len(self.pending) >= MAX_PENDING_ACKS and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def append(self, body: bytes | memoryview) -> None:
        try:
            try:
                req = pb.AppendRequest.FromString(body)  # type: ignore[arg-type]  # any buffer
            except DecodeError as exc:
                raise InvalidRequestError(f"malformed request message: {exc}") from None
            recs = self.server.check(req)
            acc = self.server.resolve(req.tenant, req.timeline)
            end = acc.append_write(req.term, req.start_lsn, recs, req.commit_lsn, False)
        except LogstoreError as exc:
            self.fail(exc)
            return
        if acc not in self.written:
            self.written.append(acc)  # data_received commits it (sync_now or flush_soon)
        if self.bulk:
            acc.more_input = True
        item: list[Any] = [acc, req.term, end, None]
        self.pending.append(item)
        self.unsynced.append(item)

    def _watch(self, item: list[Any]) -> None:
        """Mark ``item`` durable if the fdatasync covering it is done (the usual case: a read
        that emptied the socket is committed before this), else ack it when it is (a
        callback from the acceptor's group commit)."""
        acc, _, end, _ = item
        if acc.flush_lsn >= end:
            item[3] = True
            return

        def durable(err: LogstoreError | None) -> None:
            item[3] = err or True
            if err is None:
                last = self.pending[-1] if self.pending else None
                if last is not item and isinstance(last, list) and last[3] is None and last[0] is acc \
                        and last[2] <= acc.flush_lsn:
                    return  # the same group commit covers the last one: its call drains them all
            self.drain()

        if not acc.on_durable(end, durable, False):
            item[3] = True

    def fail(self, exc: LogstoreError) -> None:
        self.pending.append(exc)
        self.drain()

    def drain(self) -> None:
        """Send every ack (or the error) at the head whose fdatasync is done."""
        out: list[bytes] = []
        try:
            while self.pending and not self.done:
                head = self.pending[0]
                if isinstance(head, LogstoreError):
                    self._end_with(out, head)
                    return
                acc, term, end, durable = head
                if durable is None:
                    break
                self.pending.popleft()
                try:
                    if isinstance(durable, LogstoreError):
                        raise durable  # deleted meanwhile
                    flush, commit = acc.ack_state(term)
                except LogstoreError as exc:
                    self._end_with(out, exc)
                    return
                body = pb.AppendResponse(term=term, flush_lsn=flush, commit_lsn=commit, end_lsn=end).SerializeToString()
                out.append(HEADER.pack(len(body), KIND_ACK) + body)
            if out and self.transport is not None:
                # One write of whole frames: over TLS each buffer of a writelines() is its
                # own TLS record (uvloop encrypts them one by one), ~10k instructions each.
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))
            if self.paused and len(self.pending) < MAX_PENDING_ACKS and self.transport is not None:
                self.paused = False
                self.transport.resume_reading()
        except Exception:  # called from the flusher: never let a bug escape there
            log.exception("fast append connection failed")
            self.close()

    def _end_with(self, out: list[bytes], exc: LogstoreError) -> None:
        promised = exc.promised_term if isinstance(exc, FencedError) else 0
        out.append(error_frame(self.server.status(exc), str(exc), promised))
        if self.transport is not None:
            self.transport.write(b"".join(out))
        self.close()

    def close(self) -> None:
        self.done = True
        self.pending.clear()
        if self.transport is not None:
            self.transport.close()  # after what is buffered has been sent


class FastAppendServer:
    """Serves the fast append stream for every log of this acceptor (on its event loop)."""

    def __init__(self, check: CheckFn, resolve: ResolveFn, status: StatusFn, tls: TlsFiles | None = None,
                 allowed_roles: frozenset[str] = frozenset()) -> None:
        """``tls``: serve mutual TLS with these files, and accept only peers whose
        certificate role is in ``allowed_roles``; None: plaintext, no peer checks."""
        self.check = check
        self.resolve = resolve
        self.status = status
        self.tls = tls
        self.allowed_roles = allowed_roles if tls is not None else None
        self._server: asyncio.Server | None = None
        self._unix_server: asyncio.Server | None = None
        self.unix_path: Path | None = None
        self._unix_inode: tuple[int, int] | None = None
        self.unix_connections = 0
        """Connections accepted on the Unix socket since start (metrics, tests)."""
        self.conns: set[_AppendProtocol] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen; return the bound port."""
        loop = asyncio.get_running_loop()
        ctx = server_ssl_context(self.tls) if self.tls is not None else None
        self._server = await loop.create_server(
            lambda: _AppendProtocol(self), host, port, ssl=ctx,
            ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S if ctx is not None else None)
        return int(self._server.sockets[0].getsockname()[1])

    async def start_unix(self, path: Path, sock: socket.socket | None = None) -> None:
        """Also listen on the Unix socket ``path`` (owner-only, no TLS: see the module doc),
        or on ``sock`` already bound there (``bind_owner_only``). Raises UnixSocketError if
        something else is at ``path`` (a live socket, a file)."""
        if sock is None:
            sock = bind_owner_only(path)
        st = os.stat(path)
        try:
            self._unix_server = await asyncio.get_running_loop().create_unix_server(
                lambda: _AppendProtocol(self, local=True), sock=sock)
        except BaseException:
            sock.close()
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        self.unix_path = path
        self._unix_inode = (st.st_dev, st.st_ino)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._unix_server is not None:
            self._unix_server.close()
            self._unlink_unix()
        for conn in list(self.conns):
            conn.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def _unlink_unix(self) -> None:
        """Remove our socket file (not one another process has put there since)."""
        path, inode = self.unix_path, self._unix_inode
        if path is None or inode is None:
            return
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) == inode:
                os.unlink(path)


# ---- proposer side ----------------------------------------------------------------------

_last_serialized: tuple[pb.AppendRequest | None, bytes] = (None, b"")


def _serialized(req: pb.AppendRequest) -> bytes:
    """``req`` serialized; peers in step send the same request object (the proposer builds
    it once and never changes it), so it is serialized once, not once per acceptor. Holds
    one request (a strong reference: its identity cannot be reused meanwhile)."""
    global _last_serialized
    last = _last_serialized  # one read: proposers on other threads may replace it meanwhile
    if last[0] is req:
        return last[1]
    body = req.SerializeToString()
    _last_serialized = (req, body)
    return body


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_RECORD_HEADS: dict[int, bytes] = {}
_CRC = struct.Struct("<I")


def _record_head(n: int) -> bytes:
    """``AppendRequest.records`` tag + length, then ``Record.payload`` tag + length, for a
    payload of ``n`` bytes (cached: a log's records are mostly of a few sizes)."""
    head = _RECORD_HEADS.get(n)
    if head is None:
        inner = b"\x0a" + _varint(n)
        # the Record message: payload (field 1) + crc32c (field 2, fixed32: tag + 4 bytes)
        head = b"\x1a" + _varint(len(inner) + n + 5) + inner
        if len(_RECORD_HEADS) < 4096:
            _RECORD_HEADS[n] = head
    return head


def encode_append(tenant: str, timeline: str, term: int, start_lsn: int, payloads: list[bytes],
                  crcs: list[int], commit_lsn: int) -> bytes:
    """A serialized ``AppendRequest`` built by hand: the same bytes as
    ``pb.AppendRequest(...).SerializeToString()`` (fields in number order, proto3 defaults
    left out; tests/logstore/test_logstore_fastpaths.py compares the two), about 10x
    cheaper for a batch of 8 KiB records: upb spent ~85-100 us building and serializing
    one 128 KiB message of 16 records, this ~10 us. Every record must carry a non-zero
    payload (as appends do)."""
    parts: list[bytes] = []
    head = b""
    if term:
        head += b"\x08" + _varint(term)
    if start_lsn:
        head += b"\x10" + _varint(start_lsn)
    for payload, crc in zip(payloads, crcs, strict=True):
        n = len(payload)
        if crc:
            parts.append(head + _record_head(n))
            parts.append(payload)
            head = b"\x15" + _CRC.pack(crc)
        else:  # proto3 leaves a zero fixed32 out: the Record is 5 bytes shorter
            inner = b"\x0a" + _varint(n)
            parts.append(head + b"\x1a" + _varint(len(inner) + n) + inner)
            parts.append(payload)
            head = b""
    if commit_lsn:
        head += b"\x20" + _varint(commit_lsn)
    if tenant:
        t = tenant.encode()
        head += b"\x2a" + _varint(len(t)) + t
    if timeline:
        t = timeline.encode()
        head += b"\x32" + _varint(len(t)) + t
    parts.append(head)
    return b"".join(parts)


AckFn = Callable[[pb.AppendResponse], None]
ErrorFn = Callable[[LogstoreError], None]


class _ClientProtocol(asyncio.Protocol):
    """The proposer's end of one fast append connection: frames are parsed in
    ``data_received`` and handed to the channel (no stream reader, no task per frame)."""

    def __init__(self, ch: FastAppendChannel) -> None:
        self.ch = ch
        self.buf = bytearray()
        self.paused = False
        self.resumed: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(asyncio.Transport, transport).write(MAGIC)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        ch = self.ch
        while len(buf) - pos >= HEADER.size and not ch.failed:
            n, kind = HEADER.unpack_from(buf, pos)
            if n > MAX_FRAME_BYTES:
                ch.fail(TransportError(f"{ch.addr}: fast append frame of {n} bytes"))
                break
            if len(buf) - pos - HEADER.size < n:
                break
            body = bytes(buf[pos + HEADER.size : pos + HEADER.size + n])
            pos += HEADER.size + n
            ch.frame(kind, body)
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.ch.fail(TransportError(f"{self.ch.addr}: fast append stream ended: {exc or 'closed'}"))
        self.resume_writing()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.resumed is not None and not self.resumed.done():
            self.resumed.set_result(None)
        self.resumed = None


class FastAppendChannel:
    """``AppendChannel`` over the fast append stream (connects on first use); with ``tls``
    (this proposer's certificate) over mutual TLS, the acceptor checked as gRPC does.

    Besides ``send``/``recv`` it offers a direct mode (``open_direct``): ``send_now``
    writes a request from any callback on the loop, and each ack (or the error that ends the
    stream) is handed to a callback from ``data_received``: the proposer then replicates
    without a sender and a receiver task step per message (logstore/proposer.py)."""

    def __init__(self, host: str, port: int, addr: str, on_connect_error: Callable[[], None],
                 tls: TlsFiles | None = None, unix_path: str = "") -> None:
        """``unix_path``: connect to the acceptor's Unix socket there instead (no TLS;
        ``host``, ``port`` and ``tls`` unused)."""
        self.addr = addr
        self.kind = "unix" if unix_path else "tls" if tls is not None else "tcp"
        """How this channel reaches the acceptor: unix, tls or tcp (status, tests)."""
        self._unix_path = unix_path
        self._on_connect_error = on_connect_error
        self._tls = tls
        self._transport: asyncio.Transport | None = None
        self._protocol: _ClientProtocol | None = None
        self._acks: deque[pb.AppendResponse] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.failed: LogstoreError | None = None
        self._on_ack: AckFn | None = None
        self._on_error: ErrorFn | None = None
        self._conn: asyncio.Task[None] = asyncio.ensure_future(self._connect(host, port))

    async def _connect(self, host: str, port: int) -> None:
        if self._unix_path:
            await self._connect_unix()
            return
        ctx = client_ssl_context(self._tls) if self._tls is not None else None
        loop = asyncio.get_running_loop()
        try:
            if ctx is None:
                opened = loop.create_connection(lambda: _ClientProtocol(self), host, port)
            else:
                opened = loop.create_connection(
                    lambda: _ClientProtocol(self), host, port, ssl=ctx, server_hostname=host,
                    ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S)
            transport, protocol = await asyncio.wait_for(opened, CONNECT_TIMEOUT_S + TLS_HANDSHAKE_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            self._on_connect_error()
            raise TransportError(f"{self.addr}: fast append port {port}: {exc}") from None
        self._transport = cast(asyncio.Transport, transport)
        self._protocol = protocol
        if self.failed is not None:  # cancelled meanwhile
            self._transport.close()

    async def _connect_unix(self) -> None:
        path = self._unix_path
        try:
            transport, protocol = await asyncio.wait_for(asyncio.get_running_loop().create_unix_connection(
                lambda: _ClientProtocol(self), path), CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            self._on_connect_error()
            raise TransportError(f"{self.addr}: fast append socket {path}: {exc}") from None
        uid = peer_uid(transport)
        if uid != os.geteuid():  # as the TLS client checks the acceptor's certificate
            transport.close()
            self._on_connect_error()
            raise TransportError(f"{self.addr}: fast append socket {path} is served by uid {uid}, "
                                 f"not {os.geteuid()}")
        self._transport = cast(asyncio.Transport, transport)
        self._protocol = protocol
        if self.failed is not None:  # cancelled meanwhile
            self._transport.close()

    async def _connected(self) -> asyncio.Transport:
        if self._transport is None or not self._conn.done():
            try:
                await asyncio.shield(self._conn)
            except asyncio.CancelledError:
                if self._conn.cancelled():
                    raise TransportError(f"{self.addr}: fast append stream closed") from None
                raise
        if self.failed is not None:
            raise self.failed
        assert self._transport is not None
        return self._transport

    # ---- frames from the protocol ---------------------------------------------------

    def frame(self, kind: int, body: bytes) -> None:
        if kind == KIND_ACK:
            try:
                resp = pb.AppendResponse.FromString(body)
            except DecodeError as exc:
                self.fail(TransportError(f"{self.addr}: bad ack: {exc}"))
                return
            on_ack = self._on_ack
            if on_ack is None:
                self._acks.append(resp)
                self._wake()
                return
            try:
                on_ack(resp)
            except LogstoreError as exc:
                self.fail(exc)
            except Exception as exc:  # a bug must not leave the stream half alive
                log.exception("%s: handling an ack failed", self.addr)
                self.fail(TransportError(f"{self.addr}: handling an ack failed: {exc!r}"))
            return
        if kind == KIND_ERROR and len(body) >= ERROR_HEAD.size:
            from logstore.transport import error_for  # import here: transport imports this module

            code, promised = ERROR_HEAD.unpack_from(body)
            message = body[ERROR_HEAD.size :].decode(errors="replace")
            self.fail(error_for(_CODES.get(code, grpc.StatusCode.UNKNOWN), f"{self.addr}: {message}", promised))
            return
        self.fail(TransportError(f"{self.addr}: unexpected fast append frame kind {kind}"))

    def fail(self, exc: LogstoreError) -> None:
        """The stream is over (the first error wins; acks after it are ignored)."""
        if self.failed is not None:
            return
        self.failed = exc
        if self._transport is not None:
            self._transport.close()
        on_error = self._on_error
        if on_error is not None:
            on_error(exc)
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    # ---- AppendChannel ---------------------------------------------------------------

    async def send(self, req: pb.AppendRequest) -> None:
        await self._connected()
        self.send_now(req)
        protocol = self._protocol
        if protocol is not None and protocol.paused:
            if protocol.resumed is None:
                protocol.resumed = asyncio.get_running_loop().create_future()
            await protocol.resumed
            if self.failed is not None:
                raise self.failed

    async def recv(self) -> pb.AppendResponse:
        await self._connected()
        while not self._acks:
            if self.failed is not None:
                raise self.failed
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._acks.popleft()

    def cancel(self) -> None:
        self._conn.cancel()
        if self.failed is None:
            self.failed = TransportError(f"{self.addr}: fast append stream closed")
        self._on_ack = self._on_error = None
        if self._transport is not None:
            self._transport.close()
        self._wake()

    # ---- direct mode -----------------------------------------------------------------

    async def open_direct(self, on_ack: AckFn, on_error: ErrorFn) -> None:
        """Connect; from then on every ack goes to ``on_ack`` (called from the protocol;
        a LogstoreError it raises ends the stream) and the error that ends the stream to
        ``on_error`` (once)."""
        await self._connected()
        assert not self._acks, "direct mode on a channel already used with recv()"
        self._on_ack = on_ack
        self._on_error = on_error

    def send_now(self, req: pb.AppendRequest | bytes) -> None:
        """Write one request, or one already serialized (``encode_append``) (connected
        channels only). Never waits: the proposer bounds what is in flight per acceptor
        (messages and bytes), so the transport's buffer is bounded too."""
        if self.failed is not None:
            raise self.failed
        transport = self._transport
        assert transport is not None, "send_now before the channel connected"
        body = req if isinstance(req, bytes) else _serialized(req)
        if len(body) <= JOIN_MAX_BYTES:
            # One buffer: over TLS each buffer of a writelines() becomes a TLS record of its
            # own, which both ends pay for (a 5-byte header record costs as much to seal and
            # open as a 4 KiB body); the copy of a small body is cheaper.
            transport.write(HEADER.pack(len(body), KIND_APPEND) + body)
        else:
            transport.writelines((HEADER.pack(len(body), KIND_APPEND), body))
