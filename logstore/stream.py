"""Subscribers (page servers, replicas) read the committed log from any acceptor.

``stream_committed`` yields (start LSN, end LSN, payload) in LSN order, exactly once each,
and fails over between acceptors: after an error, or when its acceptor has had nothing
new for a while and another one knows a higher commit LSN, it resumes elsewhere at the
last end LSN it yielded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence

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
from strata.tls import TlsFiles, aio_channel

log = logging.getLogger("logstore.stream")


async def _best_commit(
    addrs: Sequence[str], tenant: str, timeline: str, timeout: float, tls: TlsFiles | None = None
) -> dict[str, int]:
    async def one(addr: str) -> int:
        async with aio_channel(addr, CHANNEL_OPTIONS, tls) as ch:
            req = pb.StatusRequest(tenant=tenant, timeline=timeline)
            resp = await pb_grpc.LogStoreStub(ch).Status(req, timeout=timeout)
            return int(min(resp.commit_lsn, resp.flush_lsn))

    results = await asyncio.gather(*(one(a) for a in addrs), return_exceptions=True)
    return {a: r for a, r in zip(addrs, results, strict=True) if isinstance(r, int)}


STREAM_COALESCE_KEY = "strata-stream-coalesce-ms"
"""StreamCommitted request metadata: a subscriber that is caught up gets its next message
this many ms after the commit LSN moves (records of several commits in one message) instead
of at once. The page server asks for it: each message costs both sides ~0.2-0.3 ms of CPU
(grpc + TLS) whatever it carries. Replicas do not (their lag is what readers see)."""

HealthFn = Callable[[str], None]
"""Told "" when the stream works (records arrive, or a read stays open past the idle
check) and the error text after each failed attempt; called on changes only."""
RETRY_MAX_S = 2.0
"""Longest pause between attempts once every acceptor has failed in a row."""


async def stream_committed(
    addrs: Sequence[str],
    from_lsn: int,
    *,
    tenant: str,
    timeline: str,
    subscriber: str = "",
    idle_failover_s: float = 2.0,
    retry_s: float = 0.1,
    on_health: HealthFn | None = None,
    tls: TlsFiles | None = None,
    coalesce_s: float = 0.0,
) -> AsyncIterator[tuple[int, int, bytes]]:
    """Committed records of log (``tenant``, ``timeline``) from ``from_lsn`` (a record
    boundary) on, forever. ``subscriber`` names the reader in the acceptors' Status.

    After an error the next acceptor is tried (pausing ``retry_s``, doubling up to
    RETRY_MAX_S while every acceptor keeps failing); an acceptor idle for
    ``idle_failover_s`` is left for one that knows a higher commit LSN. Either way the
    stream resumes at the end of the last record it yielded.

    Raises InvalidRequestError if ``from_lsn`` is not a record boundary (or an id is
    invalid), LsnGapError once every acceptor has said it no longer holds the LSN needed,
    LogNotFoundError once every acceptor has said it has no such log.

    ``tls``: the subscriber's certificate (default: the process's, ``strata.tls``).
    ``coalesce_s`` (> 0): once caught up, the acceptor sends the next records this long after
    they commit, several commits per message (less CPU per record on both sides, that much
    more lag; the acceptor caps it at ``server.MAX_STREAM_COALESCE_S``).
    """
    assert addrs
    check_id("tenant", tenant)
    check_id("timeline", timeline)
    addr_list = list(addrs)
    request = pb.StreamRequest(tenant=tenant, timeline=timeline, subscriber=subscriber)
    metadata = ((STREAM_COALESCE_KEY, f"{coalesce_s * 1000:.3f}"),) if coalesce_s > 0 else None
    lsn = from_lsn
    idx = 0
    gaps: set[str] = set()  # acceptors that no longer hold ``lsn``
    missing: set[str] = set()  # acceptors without the log
    failures = 0  # attempts failed in a row
    health: str | None = None

    def tell(error: str) -> None:
        nonlocal health
        if on_health is not None and error != health:
            on_health(error)
        health = error

    while True:
        addr = addr_list[idx % len(addr_list)]
        read: asyncio.Future[object] | None = None
        try:
            async with aio_channel(addr, CHANNEL_OPTIONS, tls) as channel:
                request.from_lsn = lsn
                call = pb_grpc.LogStoreStub(channel).StreamCommitted(request, metadata=metadata)
                # One read is kept pending across idle timeouts: cancelling it (as wait_for
                # does) cancels the whole call, and the next read raises CancelledError.
                while True:
                    if read is None:
                        read = asyncio.ensure_future(call.read())
                    done, _ = await asyncio.wait({read}, timeout=idle_failover_s)
                    if not done:
                        tell("")  # the call is open, only idle
                        failures = 0
                        others = await _best_commit([a for a in addr_list if a != addr], tenant, timeline, 1.0, tls)
                        better = [a for a, c in others.items() if c > lsn]
                        if better:
                            log.info("stream of %s/%s: %s idle at %#x, %s is ahead; switching",
                                     tenant, timeline, addr, lsn, better[0])
                            idx = addr_list.index(better[0])
                            call.cancel()
                            break
                        continue
                    if read.cancelled():  # grpc cancelled the call under us
                        raise TransportError(f"{addr}: stream call cancelled")
                    resp, read = read.result(), None
                    if resp is grpc.aio.EOF:
                        await call
                        raise TransportError(f"{addr}: stream ended")
                    assert isinstance(resp, pb.StreamResponse)
                    if resp.records:
                        gaps.clear()
                        missing.clear()
                        failures = 0
                        tell("")
                    for rec in resp.records:
                        if rec.lsn != lsn or not rec.payload or payload_crc(rec.payload) != rec.crc32c:
                            raise TransportError(f"{addr}: bad record at {rec.lsn:#x} (expected {lsn:#x})")
                        end = lsn + len(rec.payload)
                        yield lsn, end, rec.payload
                        lsn = end
        except grpc.aio.AioRpcError as exc:
            err = map_rpc_error(exc, addr)
            if isinstance(err, InvalidRequestError):
                raise err from None
            if isinstance(err, LsnGapError):
                gaps.add(addr)
                if len(gaps) >= len(addr_list):
                    raise err from None
            if isinstance(err, LogNotFoundError):
                missing.add(addr)
                if len(missing) >= len(addr_list):
                    raise err from None
            failures += 1
            tell(str(err))
            log.debug("stream from %s failed: %s", addr, err)
            idx += 1
            await asyncio.sleep(_pause(retry_s, failures, len(addr_list)))
        except LogstoreError as exc:
            failures += 1
            tell(str(exc))
            log.debug("stream from %s failed: %s", addr, exc)
            idx += 1
            await asyncio.sleep(_pause(retry_s, failures, len(addr_list)))
        finally:
            if read is not None and not read.done():
                read.cancel()


def _pause(retry_s: float, failures: int, n: int) -> float:
    """``retry_s`` while trying the other acceptors, doubling per full round of failures."""
    rounds = max(0, (failures - 1) // n)
    return min(RETRY_MAX_S, retry_s * 2 ** min(rounds, 16))
