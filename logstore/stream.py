"""Subscribers (page servers, replicas) read the committed log from any acceptor.

``stream_committed`` yields (start LSN, end LSN, payload) in LSN order, exactly once each,
and fails over between acceptors: after an error, or when its acceptor has had nothing
new for a while and another one knows a higher commit LSN, it resumes elsewhere at the
last end LSN it yielded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

import grpc

from logstore.errors import (
    InvalidRequestError,
    LogNotFoundError,
    LogstoreError,
    LsnGapError,
    TransportError,
)
from logstore.ids import check_id
from logstore.segments import payload_crc
from logstore.transport import CHANNEL_OPTIONS, map_rpc_error
from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc

log = logging.getLogger("logstore.stream")


async def _best_commit(addrs: Sequence[str], tenant: str, timeline: str, timeout: float) -> dict[str, int]:
    async def one(addr: str) -> int:
        async with grpc.aio.insecure_channel(addr, options=CHANNEL_OPTIONS) as ch:
            req = pb.StatusRequest(tenant=tenant, timeline=timeline)
            resp = await pb_grpc.LogStoreStub(ch).Status(req, timeout=timeout)
            return int(min(resp.commit_lsn, resp.flush_lsn))

    results = await asyncio.gather(*(one(a) for a in addrs), return_exceptions=True)
    return {a: r for a, r in zip(addrs, results, strict=True) if isinstance(r, int)}


async def stream_committed(
    addrs: Sequence[str],
    from_lsn: int,
    *,
    tenant: str,
    timeline: str,
    subscriber: str = "",
    idle_failover_s: float = 2.0,
    retry_s: float = 0.1,
) -> AsyncIterator[tuple[int, int, bytes]]:
    """Committed records of log (``tenant``, ``timeline``) from ``from_lsn`` (a record
    boundary) on, forever. ``subscriber`` names the reader in the acceptors' Status.

    Raises InvalidRequestError if ``from_lsn`` is not a record boundary (or an id is
    invalid), LsnGapError if no acceptor holds it any more, LogNotFoundError if no acceptor
    has the log.
    """
    assert addrs
    check_id("tenant", tenant)
    check_id("timeline", timeline)
    request = pb.StreamRequest(tenant=tenant, timeline=timeline, subscriber=subscriber)
    lsn = from_lsn
    idx = 0
    gaps = 0
    missing = 0
    while True:
        addr = addrs[idx % len(addrs)]
        try:
            async with grpc.aio.insecure_channel(addr, options=CHANNEL_OPTIONS) as channel:
                request.from_lsn = lsn
                call = pb_grpc.LogStoreStub(channel).StreamCommitted(request)
                # One read is kept pending across idle timeouts: cancelling it (as wait_for
                # does) cancels the whole call, and the next read raises CancelledError.
                read: asyncio.Future[object] | None = None
                while True:
                    if read is None:
                        read = asyncio.ensure_future(call.read())
                    done, _ = await asyncio.wait({read}, timeout=idle_failover_s)
                    if not done:
                        others = await _best_commit([a for a in addrs if a != addr], tenant, timeline, 1.0)
                        better = [a for a, c in others.items() if c > lsn]
                        if better:
                            idx = list(addrs).index(better[0])
                            read.cancel()
                            call.cancel()
                            break
                        continue
                    resp, read = read.result(), None
                    if resp is grpc.aio.EOF:
                        await call
                        raise TransportError(f"{addr}: stream ended")
                    assert isinstance(resp, pb.StreamResponse)
                    for rec in resp.records:
                        if rec.lsn != lsn or not rec.payload or payload_crc(rec.payload) != rec.crc32c:
                            raise TransportError(f"{addr}: bad record at {rec.lsn:#x} (expected {lsn:#x})")
                        end = lsn + len(rec.payload)
                        yield lsn, end, rec.payload
                        lsn = end
                    gaps = missing = 0
        except grpc.aio.AioRpcError as exc:
            err = map_rpc_error(exc, addr)
            if isinstance(err, InvalidRequestError):
                raise err from None
            if isinstance(err, LsnGapError):
                gaps += 1
                if gaps >= len(addrs):
                    raise err from None
            if isinstance(err, LogNotFoundError):
                missing += 1
                if missing >= len(addrs):
                    raise err from None
            log.debug("stream from %s failed: %s", addr, err)
            idx += 1
            await asyncio.sleep(retry_s)
        except LogstoreError as exc:
            log.debug("stream from %s failed: %s", addr, exc)
            idx += 1
            await asyncio.sleep(retry_s)
        finally:
            with contextlib.suppress(Exception):
                pass
