"""Where a timeline's WAL comes from.

The page server only needs an async iterator of ``(start_lsn, end_lsn, payload)`` starting
at a record boundary; ``WalSourceFactory(tenant, log_timeline, from_lsn)`` makes one. The
real one subscribes to that log's committed stream on the log store
(``logstore.stream_committed``, which fails over between acceptors; each (tenant, timeline)
has its own log, a branch's log starting at the branch point); tests can pass any other
factory, or use push ingest (the ``IngestWal`` RPC) instead.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence

log = logging.getLogger("strata.pageserver.source")

WalSourceFactory = Callable[[str, str, int], AsyncIterator[tuple[int, int, bytes]]]
SUBSCRIBER = "pageserver"
"""How the page server appears in the acceptors' subscriber lists (Status)."""
STREAM_COALESCE_S = 0.1
"""Once caught up, the acceptor sends the page server the records of every commit made in
this window in one message (``stream_committed(coalesce_s=)``): a message costs both sides
~0.2-0.3 ms of CPU whatever it carries, and no reader waits on the page server's freshness
(computes read their own commits from the overlay; reads at an LSN wait for it anyway)."""


SourceHealthFn = Callable[[str, str, str], None]
"""``on_health(tenant, log_timeline, error)``: "" when the log's stream works again, the
error text when an attempt failed (the stream retries by itself)."""


def logstore_source(addrs: Sequence[str], on_health: SourceHealthFn | None = None) -> WalSourceFactory:
    """Subscribe to log (tenant, log_timeline) of the log store cluster at ``addrs``."""
    addr_list = list(addrs)

    def factory(tenant: str, log_timeline: str, from_lsn: int) -> AsyncIterator[tuple[int, int, bytes]]:
        from logstore.stream import stream_committed

        health = None
        if on_health is not None:
            report = on_health

            def health(error: str) -> None:
                report(tenant, log_timeline, error)

        return stream_committed(
            addr_list, from_lsn, tenant=tenant, timeline=log_timeline, subscriber=SUBSCRIBER, on_health=health,
            coalesce_s=STREAM_COALESCE_S,
        )

    return factory


def logstore_reporter(addrs: Sequence[str]) -> Callable[[str, str, int], None]:
    """``report(tenant, log_timeline, lsn)``: tell every acceptor a log's remote consistent
    LSN (best effort, in the background, latest value wins) so they may trim below it."""
    from logstore.client import RemoteConsistentLsnReporter

    return RemoteConsistentLsnReporter(addrs).report
