"""Where a timeline's WAL comes from.

The page server only needs an async iterator of ``(start_lsn, end_lsn, payload)`` starting
at a record boundary; ``WalSourceFactory(log_timeline, from_lsn)`` makes one. The real one
subscribes to the log store's committed stream (``logstore.stream_committed``, which fails
over between acceptors); tests can pass any other factory, or use push ingest (the
``IngestWal`` RPC) instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence

log = logging.getLogger("strata.pageserver.source")

WalSourceFactory = Callable[[str, int], AsyncIterator[tuple[int, int, bytes]]]


def logstore_source(addrs: Sequence[str]) -> WalSourceFactory:
    """Subscribe to the log store cluster at ``addrs``.

    The log store has one log per cluster today; ``log_timeline`` is accepted so a branch
    can name its own log once the log store supports several (see docs/pageserver.md).
    """
    addr_list = list(addrs)

    def factory(log_timeline: str, from_lsn: int) -> AsyncIterator[tuple[int, int, bytes]]:
        from logstore.stream import stream_committed

        return stream_committed(addr_list, from_lsn)

    return factory


def logstore_reporter(addrs: Sequence[str]) -> Callable[[int], None]:
    """Tell every acceptor the remote consistent LSN (best effort, in the background,
    latest value wins) so they may trim segments below it."""
    import grpc

    from strata.proto import logstore_pb2 as lpb
    from strata.proto import logstore_pb2_grpc as lpb_grpc

    channels = {a: grpc.insecure_channel(a) for a in addrs}
    latest = [0]
    cond = threading.Condition()

    def run() -> None:
        sent = 0
        while True:
            with cond:
                cond.wait_for(lambda s=sent: latest[0] > s)  # type: ignore[misc]
                lsn = latest[0]
            for addr, ch in channels.items():
                try:
                    lpb_grpc.LogStoreStub(ch).SetRemoteConsistentLsn(
                        lpb.RetentionRequest(remote_consistent_lsn=lsn), timeout=2.0
                    )
                except grpc.RpcError as exc:
                    log.warning("reporting remote consistent LSN %d to %s: %s", lsn, addr, exc)
            sent = lsn

    threading.Thread(target=run, name="rcl-report", daemon=True).start()

    def report(lsn: int) -> None:
        with cond:
            if lsn > latest[0]:
                latest[0] = lsn
                cond.notify()

    return report
