"""How a proposer talks to one acceptor. gRPC by default; tests wrap it to drop, delay or
break messages (the proposer only sees LogstoreError subclasses, whatever the cause)."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Protocol

import grpc

from logstore.errors import (
    CorruptionError,
    FencedError,
    InvalidRequestError,
    LogExistsError,
    LogNotFoundError,
    LogstoreError,
    LsnGapError,
    NotSyncedError,
    TooManyLogsError,
    TransportError,
)
from logstore.fastappend import (
    FALLBACK_S,
    FAST_APPEND_PORT_KEY,
    FAST_APPEND_TLS_PORT_KEY,
    FAST_APPEND_UNIX_KEY,
    FastAppendChannel,
)
from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc
from strata.tls import TlsFiles, aio_channel, client_tls

PROMISED_TERM_KEY = "strata-promised-term"
UNIX_SOCKETS_ENV = "STRATA_LOGSTORE_UNIX_SOCKETS"
"""The acceptors on this machine: ``HOST:PORT=PATH,...`` (an acceptor's gRPC address as in
the compute's ``--logstore``, and its fast append Unix socket). A proposer appends to such
an acceptor over that socket, without TLS (decision 0018), when the acceptor's Vote
advertises the same path; `strata up` sets it for the computes it starts. Unset: none."""
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 4 << 20),
    ("grpc.max_send_message_length", 4 << 20),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 500),
    ("grpc.min_reconnect_backoff_ms", 50),
]


def map_rpc_error(exc: grpc.aio.AioRpcError | grpc.Call, addr: str) -> LogstoreError:
    """A gRPC status (async or blocking call) back into the acceptor's exception."""
    promised = 0
    if exc.code() == grpc.StatusCode.ABORTED:
        for key, value in exc.trailing_metadata() or ():
            if key == PROMISED_TERM_KEY:
                promised = int(value)
    return error_for(exc.code(), f"{addr}: {exc.details()}", promised)


def error_for(code: grpc.StatusCode, msg: str, promised: int = 0) -> LogstoreError:
    """A status code (gRPC's, or the fast append stream's) back into the acceptor's
    exception; ``promised`` is the acceptor's promised term for ABORTED (fenced)."""
    if code == grpc.StatusCode.ABORTED:
        return FencedError(msg, promised)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return NotSyncedError(msg)
    if code == grpc.StatusCode.OUT_OF_RANGE:
        return LsnGapError(msg)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidRequestError(msg)
    if code == grpc.StatusCode.DATA_LOSS:
        return CorruptionError(msg)
    if code == grpc.StatusCode.NOT_FOUND:
        return LogNotFoundError(msg)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return LogExistsError(msg)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return TooManyLogsError(msg)
    return TransportError(f"{code.name}: {msg}")


def local_sockets(raw: str | None = None) -> dict[str, str]:
    """``UNIX_SOCKETS_ENV`` (or ``raw``) as {gRPC address: socket path}; a malformed entry
    raises ValueError (a typo must not silently leave a cluster on TLS)."""
    raw = os.environ.get(UNIX_SOCKETS_ENV, "") if raw is None else raw
    out: dict[str, str] = {}
    for entry in raw.split(","):
        entry = entry.strip()
        if not entry:
            continue
        addr, sep, path = entry.partition("=")
        if not sep or not addr.strip() or not path.strip().startswith("/"):
            raise ValueError(f"{UNIX_SOCKETS_ENV}: {entry!r} is not HOST:PORT=/absolute/path")
        out[addr.strip()] = path.strip()
    if len(set(out.values())) != len(out):  # two acceptors on one socket: one vote counted twice
        raise ValueError(f"{UNIX_SOCKETS_ENV}: one socket path given for two acceptors in {raw!r}")
    return out


class AppendChannel(Protocol):
    """One pipelined append stream: requests in order, acks in order."""

    async def send(self, req: pb.AppendRequest) -> None: ...

    async def recv(self) -> pb.AppendResponse:
        """The next ack; raises LogstoreError when the stream ends or fails."""
        ...

    def cancel(self) -> None: ...


class AcceptorTransport(Protocol):
    addr: str

    async def vote(self, req: pb.VoteRequest, timeout: float) -> pb.VoteResponse: ...

    async def start_term(self, req: pb.StartTermRequest, timeout: float) -> pb.StartTermResponse: ...

    async def read(self, req: pb.ReadRequest, timeout: float) -> pb.ReadResponse: ...

    async def status(self, req: pb.StatusRequest, timeout: float) -> pb.StatusResponse: ...

    def append_stream(self) -> AppendChannel: ...

    async def close(self) -> None: ...


class _GrpcAppendChannel:
    kind = "grpc"

    def __init__(self, call: Any, addr: str) -> None:
        self._call = call
        self._addr = addr

    async def send(self, req: pb.AppendRequest) -> None:
        try:
            await self._call.write(req)
        except grpc.aio.AioRpcError as exc:
            raise map_rpc_error(exc, self._addr) from None
        except grpc.aio.UsageError as exc:
            raise TransportError(f"{self._addr}: append stream closed: {exc}") from None

    async def recv(self) -> pb.AppendResponse:
        try:
            resp = await self._call.read()
        except grpc.aio.AioRpcError as exc:
            raise map_rpc_error(exc, self._addr) from None
        if resp is grpc.aio.EOF:
            try:
                await self._call  # the final status explains why
            except grpc.aio.AioRpcError as exc:
                raise map_rpc_error(exc, self._addr) from None
            raise TransportError(f"{self._addr}: append stream ended")
        assert isinstance(resp, pb.AppendResponse)
        return resp

    def cancel(self) -> None:
        self._call.cancel()


class GrpcTransport:
    def __init__(self, addr: str, tls: TlsFiles | None = None, unix_path: str | None = None) -> None:
        """``tls``: this proposer's certificate (default: the process's, ``strata.tls``);
        ``unix_path``: the acceptor's fast append Unix socket if it runs on this machine
        (default: from ``UNIX_SOCKETS_ENV``; "": none)."""
        self.addr = addr
        self._channel = aio_channel(addr, CHANNEL_OPTIONS, tls)
        self._stub = pb_grpc.LogStoreStub(self._channel)
        # The identity the gRPC channel uses (as ``strata.tls.aio_channel`` picks it): the
        # fast append stream runs mutual TLS with it, or plaintext only when gRPC does.
        self._tls = tls if tls is not None else client_tls()
        self._fast_key = FAST_APPEND_TLS_PORT_KEY if self._tls is not None else FAST_APPEND_PORT_KEY
        # The acceptor's fast append port (logstore/fastappend.py), learned from Vote; the
        # loop time until which it is not used after a failed connect.
        self._fast_port = 0
        self._fast_off_until = 0.0
        self._fast_allowed = os.environ.get("STRATA_LOGSTORE_FAST_APPEND", "on") != "off"
        # The Unix socket told for this acceptor, the one it advertised in Vote (used only
        # when both agree), and the loop time until which it is not used after a failed connect.
        self._unix_path = local_sockets().get(addr, "") if unix_path is None else unix_path
        self._unix_told = ""
        self._unix_off_until = 0.0

    async def _unary(self, method: Any, req: Any, timeout: float) -> Any:
        try:
            return await method(req, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise map_rpc_error(exc, self.addr) from None

    async def vote(self, req: pb.VoteRequest, timeout: float) -> pb.VoteResponse:
        """Also learns the acceptor's fast append port (trailing metadata): only one of the
        kind this proposer speaks (a TLS proposer ignores a plaintext advertisement)."""
        try:
            call = self._stub.Vote(req, timeout=timeout)
            resp: pb.VoteResponse = await call
            metadata = await call.trailing_metadata()
        except grpc.aio.AioRpcError as exc:
            raise map_rpc_error(exc, self.addr) from None
        self.learn_fast_port(metadata)
        return resp

    def learn_fast_port(self, metadata: Any) -> None:
        """The fast append port from Vote's trailing metadata, if advertised under the key
        of this proposer's kind (TLS or plaintext); else 0 (gRPC AppendStream)."""
        self._fast_port = 0
        self._unix_told = ""
        for key, value in metadata or ():
            if key == self._fast_key and str(value).isdigit() and 0 < int(value) < 65536:
                self._fast_port = int(value)
            elif key == FAST_APPEND_UNIX_KEY:
                self._unix_told = str(value)

    async def start_term(self, req: pb.StartTermRequest, timeout: float) -> pb.StartTermResponse:
        resp: pb.StartTermResponse = await self._unary(self._stub.StartTerm, req, timeout)
        return resp

    async def read(self, req: pb.ReadRequest, timeout: float) -> pb.ReadResponse:
        resp: pb.ReadResponse = await self._unary(self._stub.Read, req, timeout)
        return resp

    async def status(self, req: pb.StatusRequest, timeout: float) -> pb.StatusResponse:
        resp: pb.StatusResponse = await self._unary(self._stub.Status, req, timeout)
        return resp

    def append_stream(self) -> AppendChannel:
        """The fast append stream when the acceptor advertised one (and it has not just
        failed to connect): over its Unix socket if it is on this machine (told, and the
        same path advertised), else over TCP; else gRPC AppendStream. Call on the event loop."""
        loop = asyncio.get_running_loop()
        if self._fast_allowed:
            now = loop.time()
            if self._unix_path and self._unix_path == self._unix_told and now >= self._unix_off_until:
                return FastAppendChannel("", 0, self.addr, self._unix_failed, None, self._unix_path)
            if self._fast_port and now >= self._fast_off_until:
                host = self.addr.rpartition(":")[0].strip("[]")
                return FastAppendChannel(host, self._fast_port, self.addr, self._fast_failed, self._tls)
        return _GrpcAppendChannel(self._stub.AppendStream(), self.addr)

    def _fast_failed(self) -> None:
        self._fast_off_until = asyncio.get_running_loop().time() + FALLBACK_S

    def _unix_failed(self) -> None:
        self._unix_off_until = asyncio.get_running_loop().time() + FALLBACK_S

    async def close(self) -> None:
        await self._channel.close()
