"""The acceptor's gRPC service (strata.logstore.v1.LogStore) and process main loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc

from logstore import history, validate
from logstore.acceptor import MAX_RECORDS_PER_APPEND, Acceptor, SubscriberState
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
)
from logstore.fastappend import (
    FAST_APPEND_PORT_KEY,
    FAST_APPEND_TLS_PORT_KEY,
    FAST_APPEND_UNIX_KEY,
    FastAppendServer,
    UnixSocketError,
    bind_owner_only,
    unix_socket_path,
)
from logstore.metrics import AcceptorMetrics
from logstore.registry import DEFAULT_MAX_LOGS, LogRegistry
from logstore.segments import Frame
from logstore.stream import STREAM_COALESCE_KEY
from strata.gcpolicy import freeze_startup
from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc
from strata.proto.lenient import BadRequest, lenient
from strata.tls import RolePolicy, TlsFiles, add_listen_port, policy

log = logging.getLogger("logstore.server")

MAX_MESSAGE_BYTES = 4 << 20
STREAM_BATCH_BYTES = 1 << 20
MAX_STREAM_COALESCE_S = 0.1
"""Upper bound of the coalescing delay a subscriber may ask for (seconds)."""
STREAM_QUEUE = 64
"""Append acks waiting to be sent on one stream: bounds the pipelining window."""
MAX_CONCURRENT_RPCS = 4096
"""Every active log holds an append stream per proposer plus one stream per subscriber."""
PROMISED_TERM_KEY = "strata-promised-term"

_CODES: list[tuple[type[LogstoreError], grpc.StatusCode]] = [
    (FencedError, grpc.StatusCode.ABORTED),
    (NotSyncedError, grpc.StatusCode.FAILED_PRECONDITION),
    (LsnGapError, grpc.StatusCode.OUT_OF_RANGE),
    (InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (CorruptionError, grpc.StatusCode.DATA_LOSS),
    (LogNotFoundError, grpc.StatusCode.NOT_FOUND),
    (LogExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (TooManyLogsError, grpc.StatusCode.RESOURCE_EXHAUSTED),
]

T = TypeVar("T")

ROLE_TABLE: dict[str, tuple[str, ...]] = {
    # the proposer (primary compute): terms, catch-up, appends
    "Vote": ("compute",),
    "StartTerm": ("compute",),
    "Append": ("compute",),
    "AppendStream": ("compute",),
    "Read": ("compute",),
    # subscribers: the page server and replicas
    "StreamCommitted": ("compute", "pageserver"),
    "Status": ("compute", "pageserver", "control"),
    "SetRemoteConsistentLsn": ("pageserver",),
    # administration
    "CreateLog": ("control",),
    "DeleteLog": ("control",),
    "ListLogs": ("control",),
}
"""Which certificate roles may call each RPC when the acceptor runs with mutual TLS
(docs/operations.md, "Internal TLS")."""


def status_of(exc: LogstoreError) -> grpc.StatusCode:
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


async def _abort(context: grpc.aio.ServicerContext[Any, Any], exc: LogstoreError) -> None:
    if isinstance(exc, FencedError):
        context.set_trailing_metadata(((PROMISED_TERM_KEY, str(exc.promised_term)),))
    await context.abort(status_of(exc), str(exc))


async def _guard(context: grpc.aio.ServicerContext[Any, Any], coro: Awaitable[T]) -> T:
    try:
        return await coro
    except LogstoreError as exc:
        await _abort(context, exc)
        raise AssertionError("unreachable") from exc


def _hist(entries: Any) -> history.History:
    return validate.history_entries(entries)


def _entries(hist: history.History) -> list[pb.TermEntry]:
    return [pb.TermEntry(term=t, start_lsn=s) for t, s in hist]


def _records(frames: list[Frame]) -> list[pb.LogRecord]:
    from logstore.segments import payload_crc

    return [pb.LogRecord(lsn=f.lsn, term=f.term, payload=f.payload, crc32c=payload_crc(f.payload)) for f in frames]


def _check_append(req: pb.AppendRequest) -> list[tuple[bytes, int]]:
    if isinstance(req, BadRequest):
        _bad_log.note("Append", req.error)
        raise InvalidRequestError(f"malformed request message: {req.error}")
    term = req.term
    if not 0 < term <= validate.MAX_TERM:  # (the checks inlined: the append path's hot spot)
        validate.term(term)
    if req.commit_lsn > validate.MAX_LSN:
        validate.lsn(req.commit_lsn, "commit LSN")
    records = req.records
    if len(records) > MAX_RECORDS_PER_APPEND:
        raise InvalidRequestError(f"too many records ({len(records)})")
    recs: list[tuple[bytes, int]] = []
    end = req.start_lsn
    for r in records:
        payload = r.payload
        recs.append((payload, r.crc32c))
        end += len(payload)
    if end > validate.MAX_LSN:
        validate.lsn(end, "append end LSN")
    return recs


def _info(acc: Acceptor) -> pb.LogInfo:
    return pb.LogInfo(
        tenant=acc.tenant,
        timeline=acc.timeline,
        start_lsn=acc.start_lsn,
        promised_term=acc.promised_term,
        flush_lsn=acc.flush_lsn,
        commit_lsn=acc.commit_lsn,
    )


class LogStoreService(pb_grpc.LogStoreServicer):
    def __init__(self, registry: LogRegistry) -> None:
        self.reg = registry
        self._stream_ids = 0
        self.fast_append_port = 0
        """The fast append stream's port (logstore/fastappend.py), told to voters; 0: none."""
        self.fast_append_key = FAST_APPEND_PORT_KEY
        """The metadata key it is told under: says whether the stream is TLS or plaintext."""
        self.fast_append_unix = ""
        """The fast append Unix socket's path, told to voters; "": none."""

    async def Vote(self, request: pb.VoteRequest, context: Any) -> pb.VoteResponse:
        async def run() -> pb.VoteResponse:
            acc = self.reg.get(request.tenant, request.timeline)
            validate.term(request.term)
            validate.name(request.proposer, "proposer")
            r = await acc.vote(request.term, request.rejoin)
            if self.fast_append_port:
                told = [(self.fast_append_key, str(self.fast_append_port))]
                if self.fast_append_unix:
                    told.append((FAST_APPEND_UNIX_KEY, self.fast_append_unix))
                context.set_trailing_metadata(tuple(told))
            return pb.VoteResponse(
                granted=r.granted,
                promised_term=r.promised_term,
                term_history=_entries(r.term_history),
                flush_lsn=r.flush_lsn,
                commit_lsn=r.commit_lsn,
                node_id=acc.node_id,
            )

        return await _guard(context, run())

    async def StartTerm(self, request: pb.StartTermRequest, context: Any) -> pb.StartTermResponse:
        async def run() -> pb.StartTermResponse:
            acc = self.reg.get(request.tenant, request.timeline)
            validate.term(request.term)
            validate.lsn(request.truncate_lsn, "truncate LSN")
            flush = await acc.start_term(request.term, _hist(request.term_history), request.truncate_lsn)
            return pb.StartTermResponse(flush_lsn=flush)

        return await _guard(context, run())

    async def Append(self, request: pb.AppendRequest, context: Any) -> pb.AppendResponse:
        async def run() -> pb.AppendResponse:
            acc = self.reg.get(request.tenant, request.timeline)
            recs = _check_append(request)
            end, flush, commit = await acc.append(request.term, request.start_lsn, recs, request.commit_lsn)
            return pb.AppendResponse(term=request.term, flush_lsn=flush, commit_lsn=commit, end_lsn=end)

        return await _guard(context, run())

    async def AppendStream(
        self, request_iterator: AsyncIterator[pb.AppendRequest], context: Any
    ) -> AsyncIterator[pb.AppendResponse]:
        """Appends are written in arrival order by the reader task; acks are sent in order
        as fsyncs complete. The first error ends the stream after the acks before it. Each
        request names its log (one dict lookup)."""
        queue: asyncio.Queue[tuple[Acceptor, int, int] | LogstoreError | None] = asyncio.Queue(STREAM_QUEUE)
        logs = self.reg.logs

        async def reader() -> None:
            try:
                async for req in request_iterator:
                    try:
                        recs = _check_append(req)
                        acc = logs.get((req.tenant, req.timeline)) or self.reg.get(req.tenant, req.timeline)
                        end = acc.append_write(req.term, req.start_lsn, recs, req.commit_lsn)
                    except LogstoreError as exc:
                        await queue.put(exc)
                        return
                    await queue.put((acc, req.term, end))
            finally:
                await queue.put(None)

        task = asyncio.create_task(reader())
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, LogstoreError):
                    await _abort(context, item)
                    return
                acc, term, end = item
                try:
                    flush, commit = await acc.wait_durable(term, end)
                except LogstoreError as exc:
                    await _abort(context, exc)
                    return
                yield pb.AppendResponse(term=term, flush_lsn=flush, commit_lsn=commit, end_lsn=end)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def Read(self, request: pb.ReadRequest, context: Any) -> pb.ReadResponse:
        async def run() -> pb.ReadResponse:
            acc = self.reg.get(request.tenant, request.timeline)
            validate.lsn(request.from_lsn, "from LSN")
            validate.lsn(request.up_to_lsn, "up-to LSN")
            frames = await acc.read(request.from_lsn, request.up_to_lsn, request.max_bytes or STREAM_BATCH_BYTES)
            return pb.ReadResponse(records=_records(frames), flush_lsn=acc.flush_lsn)

        return await _guard(context, run())

    async def StreamCommitted(self, request: pb.StreamRequest, context: Any) -> AsyncIterator[pb.StreamResponse]:
        lsn = request.from_lsn
        try:
            acc = self.reg.get(request.tenant, request.timeline)
            validate.lsn(lsn, "from LSN")
            validate.name(request.subscriber, "subscriber")
            acc.check_first(lsn)
        except LogstoreError as exc:
            await _abort(context, exc)
            return
        self._stream_ids += 1
        sid = self._stream_ids
        acc.subscribers[sid] = SubscriberState(request.subscriber[:64], str(context.peer() or ""), lsn)
        coalesce_s = _stream_coalesce_s(context)
        waited = False  # caught up, then the commit LSN moved: coalesce before reading
        try:
            while True:
                if acc.closed:
                    await _abort(context, LogNotFoundError(f"log {acc.name} was deleted"))
                    return
                bound = acc.servable_lsn()
                if lsn >= bound:
                    await acc.wait_progress(lsn, timeout=1.0)
                    waited = True
                    continue
                if waited and coalesce_s > 0:
                    waited = False
                    await asyncio.sleep(coalesce_s)
                    continue
                waited = False
                try:
                    frames = await acc.read(lsn, bound, STREAM_BATCH_BYTES)
                except LogstoreError as exc:
                    await _abort(context, exc)
                    return
                assert frames and frames[0].lsn == lsn, (lsn, frames[:1])
                lsn = frames[-1].end_lsn
                yield pb.StreamResponse(records=_records(frames), commit_lsn=bound)
                acc.subscribers[sid].sent_lsn = lsn
        finally:
            acc.subscribers.pop(sid, None)

    async def Status(self, request: pb.StatusRequest, context: Any) -> pb.StatusResponse:
        if not request.tenant and not request.timeline:
            return pb.StatusResponse(node_id=self.reg.node_id, logs=[_info(a) for a in self.reg.all()])
        acc = await _guard(context, _resolve(self.reg, request.tenant, request.timeline))
        return pb.StatusResponse(
            node_id=acc.node_id,
            promised_term=acc.promised_term,
            flush_lsn=acc.flush_lsn,
            commit_lsn=acc.commit_lsn,
            term_history=_entries(history.up_to(acc.ctl.term_history, acc.flush_lsn)),
            segments=[
                pb.Segment(
                    start_lsn=s.start_lsn, end_lsn=s.end_lsn, local=s.local, uploaded=s.uploaded, size_bytes=s.size
                )
                for s in acc.store.segments
            ],
            remote_consistent_lsn=acc.ctl.remote_consistent_lsn,
            first_lsn=acc.first_lsn(),
            subscribers=[
                pb.Subscriber(name=x.name, peer=x.peer, sent_lsn=x.sent_lsn) for x in acc.subscribers.values()
            ],
            tenant=acc.tenant,
            timeline=acc.timeline,
            start_lsn=acc.start_lsn,
        )

    async def SetRemoteConsistentLsn(self, request: pb.RetentionRequest, context: Any) -> pb.RetentionResponse:
        async def run() -> int:
            acc = self.reg.get(request.tenant, request.timeline)
            return acc.set_remote_consistent_lsn(request.remote_consistent_lsn)

        return pb.RetentionResponse(remote_consistent_lsn=await _guard(context, run()))

    async def CreateLog(self, request: pb.CreateLogRequest, context: Any) -> pb.LogInfo:
        try:
            validate.lsn(request.start_lsn, "start LSN")
        except LogstoreError as exc:
            await _abort(context, exc)
        acc = await _guard(context, self.reg.create(request.tenant, request.timeline, request.start_lsn))
        return _info(acc)

    async def DeleteLog(self, request: pb.DeleteLogRequest, context: Any) -> pb.DeleteLogResponse:
        await _guard(context, self.reg.delete(request.tenant, request.timeline))
        return pb.DeleteLogResponse()

    async def ListLogs(self, request: pb.ListLogsRequest, context: Any) -> pb.ListLogsResponse:
        return pb.ListLogsResponse(logs=[_info(a) for a in self.reg.all()])


async def _resolve(reg: LogRegistry, tenant: str, timeline: str) -> Acceptor:
    return reg.get(tenant, timeline)


def _resolve_fast(reg: LogRegistry) -> Callable[[str, str], Acceptor]:
    """A request's log: one dict lookup; ids are validated only when it misses."""
    logs = reg.logs

    def resolve(tenant: str, timeline: str) -> Acceptor:
        return logs.get((tenant, timeline)) or reg.get(tenant, timeline)

    return resolve


# ---- undecodable requests ---------------------------------------------------------------

BAD_REQUEST_LOG_INTERVAL_S = 10.0
"""At most one log line per this many seconds about malformed requests: anyone who can
reach the port must not be able to grow the log."""


class _BadRequestLog:
    """Rate-limited one-line warnings about malformed requests."""

    def __init__(self) -> None:
        self.last = -BAD_REQUEST_LOG_INTERVAL_S
        self.suppressed = 0

    def note(self, method: str, error: str) -> None:
        now = time.monotonic()
        if now - self.last < BAD_REQUEST_LOG_INTERVAL_S:
            self.suppressed += 1
            return
        log.warning(
            "malformed %s request refused (INVALID_ARGUMENT): %s; %d more since the last such line",
            method, error[:200], self.suppressed,
        )  # fmt: skip
        self.last = now
        self.suppressed = 0


_bad_log = _BadRequestLog()


async def _refuse(context: Any, method: str, bad: BadRequest) -> None:
    _bad_log.note(method, bad.error)
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed request message: {bad.error}")


def _checked_unary(name: str, fn: Callable[[Any, Any], Awaitable[Any]]) -> Callable[[Any, Any], Awaitable[Any]]:
    async def handler(request: Any, context: Any) -> Any:
        if isinstance(request, BadRequest):
            await _refuse(context, name, request)
        return await fn(request, context)

    return handler


def _stream_coalesce_s(context: Any) -> float:
    """The subscriber's coalescing delay (STREAM_COALESCE_KEY), clamped; 0 if none or bad."""
    for key, value in context.invocation_metadata() or ():
        if key == STREAM_COALESCE_KEY:
            try:
                ms = float(value)
            except ValueError:
                return 0.0
            return min(max(ms, 0.0) / 1000.0, MAX_STREAM_COALESCE_S)
    return 0.0


def _checked_unary_stream(name: str, fn: Callable[[Any, Any], AsyncIterator[Any]]) -> Callable[..., Any]:
    async def handler(request: Any, context: Any) -> AsyncIterator[Any]:
        if isinstance(request, BadRequest):
            await _refuse(context, name, request)
            return
        async for item in fn(request, context):
            yield item

    return handler


def _role_checked_unary(name: str, fn: Callable[[Any, Any], Awaitable[Any]], pol: RolePolicy) -> Callable[..., Any]:
    async def handler(request: Any, context: Any) -> Any:
        refusal = pol.refusal(name, context)
        if refusal is not None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, refusal)
        return await fn(request, context)

    return handler


def _role_checked_stream(name: str, fn: Callable[[Any, Any], AsyncIterator[Any]], pol: RolePolicy) -> Callable[..., Any]:
    """grpc.aio runs a streaming handler only if it is an async generator function, so the
    check costs one generator layer (with mutual TLS only)."""

    async def handler(request: Any, context: Any) -> AsyncIterator[Any]:
        refusal = pol.refusal(name, context)
        if refusal is not None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, refusal)
            return
        async for item in fn(request, context):
            yield item

    return handler


def _handlers(service: LogStoreService, pol: RolePolicy | None = None) -> dict[str, grpc.RpcMethodHandler]:
    """The generated registration, except that a request which is not a valid protobuf
    gets INVALID_ARGUMENT with the parse error (and at most a rate-limited log line)
    instead of grpcio's UNKNOWN with an ERROR traceback per request; with ``pol`` (mutual
    TLS) a caller whose certificate role is not in ROLE_TABLE gets PERMISSION_DENIED."""
    desc = pb.DESCRIPTOR.services_by_name["LogStore"]
    out: dict[str, grpc.RpcMethodHandler] = {}
    for m in desc.methods:
        fn = getattr(service, m.name)
        des = lenient(getattr(pb, m.input_type.name))
        ser = getattr(pb, m.output_type.name).SerializeToString
        if m.client_streaming and m.server_streaming:
            # AppendStream: its reader refuses a BadRequest itself (``_check_append``), so the
            # hot path has no extra generator layer.
            if pol is not None:
                fn = _role_checked_stream(m.name, fn, pol)
            out[m.name] = grpc.stream_stream_rpc_method_handler(fn, request_deserializer=des, response_serializer=ser)
        elif m.server_streaming:
            checked = _checked_unary_stream(m.name, fn)
            if pol is not None:
                checked = _role_checked_stream(m.name, checked, pol)
            out[m.name] = grpc.unary_stream_rpc_method_handler(checked, request_deserializer=des, response_serializer=ser)
        else:
            assert not m.client_streaming, m.name
            unary = _checked_unary(m.name, fn)
            if pol is not None:
                unary = _role_checked_unary(m.name, unary, pol)
            out[m.name] = grpc.unary_unary_rpc_method_handler(unary, request_deserializer=des, response_serializer=ser)
    return out


def role_policy() -> RolePolicy:
    return policy("LogStore", ROLE_TABLE, enforce=True)


def add_service(service: LogStoreService, server: grpc.aio.Server, pol: RolePolicy | None = None) -> None:
    handlers = _handlers(service, pol)
    name = pb.DESCRIPTOR.services_by_name["LogStore"].full_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
    server.add_registered_method_handlers(name, handlers)  # type: ignore[attr-defined]


async def serve(
    node_id: int,
    listen: str,
    data_dir: Path,
    object_store_url: str | None = None,
    segment_bytes: int = 16 << 20,
    metrics_listen: str | None = None,
    ready: Callable[[int], None] | None = None,
    inline_fsync: bool = True,
    max_logs: int = DEFAULT_MAX_LOGS,
    tls: TlsFiles | None = None,
    fast_append_listen: str = "off",
    fast_append_unix: bool = True,
) -> None:
    """Run one acceptor (all its logs) until SIGTERM/SIGINT; with ``tls`` it listens with
    mutual TLS only and checks each caller's role (ROLE_TABLE), else plaintext.

    ``fast_append_listen``: where the fast append stream listens (logstore/fastappend.py;
    mutual TLS with ``tls``, the same files and roles as gRPC): "off" (the default; `strata
    up` plans a port per node), "auto" = the gRPC host on a kernel-chosen port (it may take a
    port planned for another service: tests only), or HOST:PORT. With ``fast_append_unix``
    the stream is also served on ``fastappend.sock`` in ``data_dir`` (owner-only, no TLS;
    decision 0018), unless its path is too long for a Unix socket."""
    metrics = AcceptorMetrics()
    store = None
    if object_store_url:
        from strata.objectstore import open_object_store

        store = open_object_store(object_store_url)
    registry = LogRegistry(
        node_id,
        data_dir,
        segment_bytes=segment_bytes,
        metrics=metrics,
        inline_fsync=inline_fsync,
        max_logs=max_logs,
        object_store=store,
    )
    offloader = None
    if store is not None:
        from logstore.offload import Offloader

        offloader = Offloader(registry.all, store)
        registry.offloader = offloader
    unix_path, unix_sock = None, None
    if fast_append_listen != "off" and fast_append_unix:
        unix_path = unix_socket_path(data_dir)
        if unix_path is None:
            log.warning("no fast append Unix socket: %s/fastappend.sock is too long for a "
                        "Unix socket path (appends stay on TCP)", data_dir)
        else:
            # Before the logs are opened: a live socket there is another acceptor serving this
            # data directory, and this one must not touch its files (UnixSocketError).
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            unix_sock = bind_owner_only(unix_path)
    notes = registry.open_all()  # before serving: blocking the loop is fine here
    for note in notes:
        log.warning(note)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
            # Clients send keepalive pings every 10 s (transport.CHANNEL_OPTIONS), also on
            # idle channels; without these the server answers GOAWAY "too_many_pings" and
            # every channel of a quiet cluster is torn down and rebuilt.
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
            ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
        ],
        maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS,
    )
    service = LogStoreService(registry)
    add_service(service, server, role_policy() if tls is not None else None)
    fast: FastAppendServer | None = None
    if fast_append_listen != "off":
        fhost, _, fport = (listen if fast_append_listen == "auto" else fast_append_listen).rpartition(":")
        fast = FastAppendServer(_check_append, _resolve_fast(registry), status_of, tls,
                                frozenset(ROLE_TABLE["AppendStream"]))
        if tls is not None:
            service.fast_append_key = FAST_APPEND_TLS_PORT_KEY
        service.fast_append_port = await fast.start(fhost.strip("[]") or "127.0.0.1",
                                                    0 if fast_append_listen == "auto" else int(fport))
        if unix_path is not None and unix_sock is not None:
            await fast.start_unix(unix_path, unix_sock)
            service.fast_append_unix = str(unix_path)
    port = add_listen_port(server, listen, tls, "logstore")
    registry.start_background()
    if offloader:
        offloader.start()
    if metrics_listen:
        host, _, mport = metrics_listen.rpartition(":")
        metrics.serve(host, int(mport))
    await server.start()
    log.info(
        "acceptor listening",
        extra={
            "node_id": node_id,
            "port": port,
            "logs": len(registry.logs),
            "fast_append_port": service.fast_append_port,
            "fast_append_tls": tls is not None,
            "fast_append_unix": service.fast_append_unix,
            "max_logs": max_logs,
        },
    )
    freeze_startup()  # strata/gcpolicy.py: full collections skip what startup made
    if ready:
        ready(port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    if fast is not None:
        await fast.close()
    await server.stop(grace=1.0)
    if offloader:
        await offloader.close()
    await registry.close()


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop unless ``STRATA_LOGSTORE_LOOP=asyncio`` (or uvloop is missing)."""
    if os.environ.get("STRATA_LOGSTORE_LOOP", "uvloop") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return None
    return uvloop.new_event_loop


def run(**kwargs: Any) -> None:
    """Blocking entry point for the CLI; corruption stops the node with a clear message."""
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve(**kwargs))
    except CorruptionError as exc:
        log.critical("refusing to start: %s", exc)
        print(f"logstore: corruption detected, refusing to start: {exc}", file=sys.stderr)
        sys.exit(2)
    except UnixSocketError as exc:
        log.critical("refusing to start: %s", exc)
        print(f"logstore: refusing to start: {exc}", file=sys.stderr)
        sys.exit(2)
