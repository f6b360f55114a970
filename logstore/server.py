"""The acceptor's gRPC service (strata.logstore.v1.LogStore) and process main loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc

from logstore import history
from logstore.acceptor import MAX_RECORDS_PER_APPEND, Acceptor
from logstore.errors import (
    CorruptionError,
    FencedError,
    InvalidRequestError,
    LogstoreError,
    LsnGapError,
    NotSyncedError,
)
from logstore.metrics import AcceptorMetrics
from logstore.segments import SUFFIX, Frame
from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc

log = logging.getLogger("logstore.server")

MAX_MESSAGE_BYTES = 4 << 20
STREAM_BATCH_BYTES = 1 << 20
STREAM_QUEUE = 64
"""Append acks waiting to be sent on one stream: bounds the pipelining window."""
PROMISED_TERM_KEY = "strata-promised-term"

_CODES: list[tuple[type[LogstoreError], grpc.StatusCode]] = [
    (FencedError, grpc.StatusCode.ABORTED),
    (NotSyncedError, grpc.StatusCode.FAILED_PRECONDITION),
    (LsnGapError, grpc.StatusCode.OUT_OF_RANGE),
    (InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (CorruptionError, grpc.StatusCode.DATA_LOSS),
]

T = TypeVar("T")


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
    return [(int(e.term), int(e.start_lsn)) for e in entries]


def _entries(hist: history.History) -> list[pb.TermEntry]:
    return [pb.TermEntry(term=t, start_lsn=s) for t, s in hist]


def _records(frames: list[Frame]) -> list[pb.LogRecord]:
    from logstore.segments import payload_crc

    return [pb.LogRecord(lsn=f.lsn, term=f.term, payload=f.payload, crc32c=payload_crc(f.payload)) for f in frames]


def _check_append(req: pb.AppendRequest) -> list[tuple[bytes, int]]:
    if req.term == 0:
        raise InvalidRequestError("term must be positive")
    if len(req.records) > MAX_RECORDS_PER_APPEND:
        raise InvalidRequestError(f"too many records ({len(req.records)})")
    return [(r.payload, r.crc32c) for r in req.records]


class LogStoreService(pb_grpc.LogStoreServicer):
    def __init__(self, acceptor: Acceptor) -> None:
        self.acc = acceptor

    async def Vote(self, request: pb.VoteRequest, context: Any) -> pb.VoteResponse:
        r = await _guard(context, self.acc.vote(request.term, request.rejoin))
        return pb.VoteResponse(
            granted=r.granted,
            promised_term=r.promised_term,
            term_history=_entries(r.term_history),
            flush_lsn=r.flush_lsn,
            commit_lsn=r.commit_lsn,
            node_id=self.acc.node_id,
        )

    async def StartTerm(self, request: pb.StartTermRequest, context: Any) -> pb.StartTermResponse:
        flush = await _guard(
            context, self.acc.start_term(request.term, _hist(request.term_history), request.truncate_lsn)
        )
        return pb.StartTermResponse(flush_lsn=flush)

    async def Append(self, request: pb.AppendRequest, context: Any) -> pb.AppendResponse:
        async def run() -> pb.AppendResponse:
            recs = _check_append(request)
            end, flush, commit = await self.acc.append(request.term, request.start_lsn, recs, request.commit_lsn)
            return pb.AppendResponse(term=request.term, flush_lsn=flush, commit_lsn=commit, end_lsn=end)

        return await _guard(context, run())

    async def AppendStream(
        self, request_iterator: AsyncIterator[pb.AppendRequest], context: Any
    ) -> AsyncIterator[pb.AppendResponse]:
        """Appends are written in arrival order by the reader task; acks are sent in order
        as fsyncs complete. The first error ends the stream after the acks before it."""
        queue: asyncio.Queue[tuple[int, int] | LogstoreError | None] = asyncio.Queue(STREAM_QUEUE)

        async def reader() -> None:
            try:
                async for req in request_iterator:
                    try:
                        end = self.acc.append_write(
                            req.term, req.start_lsn, _check_append(req), req.commit_lsn
                        )
                    except LogstoreError as exc:
                        await queue.put(exc)
                        return
                    await queue.put((req.term, end))
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
                term, end = item
                try:
                    flush, commit = await self.acc.wait_durable(term, end)
                except LogstoreError as exc:
                    await _abort(context, exc)
                    return
                yield pb.AppendResponse(term=term, flush_lsn=flush, commit_lsn=commit, end_lsn=end)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def Read(self, request: pb.ReadRequest, context: Any) -> pb.ReadResponse:
        frames = await _guard(
            context, self.acc.read(request.from_lsn, request.up_to_lsn, request.max_bytes or STREAM_BATCH_BYTES)
        )
        return pb.ReadResponse(records=_records(frames), flush_lsn=self.acc.flush_lsn)

    async def StreamCommitted(self, request: pb.StreamRequest, context: Any) -> AsyncIterator[pb.StreamResponse]:
        lsn = request.from_lsn
        if lsn < self.acc.first_lsn():
            await _abort(context, LsnGapError(f"LSN {lsn:#x} was trimmed; the log starts at {self.acc.first_lsn():#x}"))
            return
        while True:
            bound = self.acc.servable_lsn()
            if lsn >= bound:
                await self.acc.wait_progress(lsn, timeout=1.0)
                continue
            try:
                frames = await self.acc.read(lsn, bound, STREAM_BATCH_BYTES)
            except LogstoreError as exc:
                await _abort(context, exc)
                return
            assert frames and frames[0].lsn == lsn, (lsn, frames[:1])
            lsn = frames[-1].end_lsn
            yield pb.StreamResponse(records=_records(frames), commit_lsn=bound)

    async def Status(self, request: pb.StatusRequest, context: Any) -> pb.StatusResponse:
        acc = self.acc
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
        )

    async def SetRemoteConsistentLsn(self, request: pb.RetentionRequest, context: Any) -> pb.RetentionResponse:
        return pb.RetentionResponse(remote_consistent_lsn=self.acc.set_remote_consistent_lsn(request.remote_consistent_lsn))


def _first_local_start(seg_dir: Path) -> int | None:
    if not seg_dir.is_dir():
        return None
    starts = [int(p.name[: -len(SUFFIX)], 16) for p in seg_dir.iterdir() if p.name.endswith(SUFFIX)]
    return min(starts) if starts else None


async def serve(
    node_id: int,
    listen: str,
    data_dir: Path,
    object_store_url: str | None = None,
    segment_bytes: int = 16 << 20,
    metrics_listen: str | None = None,
    ready: Callable[[int], None] | None = None,
    inline_fsync: bool = True,
) -> None:
    """Run one acceptor until SIGTERM/SIGINT."""
    metrics = AcceptorMetrics()
    acceptor = Acceptor(node_id, data_dir, segment_bytes, metrics, inline_fsync=inline_fsync)
    store = None
    remote: list[Any] = []
    uploaded: set[tuple[int, int]] = set()
    if object_store_url:
        from logstore.offload import list_remote
        from strata.objectstore import open_object_store

        store = open_object_store(object_store_url)
        all_remote = await asyncio.to_thread(list_remote, store, node_id)
        first_local = _first_local_start(acceptor.store.dir)
        remote = [s for s in all_remote if first_local is None or s.end_lsn <= first_local]
        uploaded = {(s.start_lsn, s.end_lsn) for s in all_remote}
    notes = acceptor.open(remote)
    for note in notes:
        log.warning(note)
    offloader = None
    if store is not None:
        from logstore.offload import Offloader

        for seg in acceptor.store.segments:
            if seg.local and (seg.start_lsn, seg.end_lsn) in uploaded:
                seg.uploaded = True
        offloader = Offloader(acceptor, store)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
        maximum_concurrent_rpcs=256,
    )
    pb_grpc.add_LogStoreServicer_to_server(LogStoreService(acceptor), server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise SystemExit(f"cannot listen on {listen}")
    acceptor.start_background()
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
            "flush_lsn": acceptor.flush_lsn,
            "promised_term": acceptor.promised_term,
            "segments": len(acceptor.store.segments),
        },
    )
    if ready:
        ready(port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.stop(grace=1.0)
    if offloader:
        await offloader.close()
    await acceptor.close()


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
