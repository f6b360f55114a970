"""The storage contract: the narrow interfaces between the SQL engine and storage.

The page VFS (``compute.vfs``) only ever talks to a ``PageStore`` (read a page at an LSN,
pin a snapshot) and a ``WalSink`` (append a transaction's records). The standalone store
(``compute.localstore``) implements both in one process; the distributed compute
(``compute.remote``) plugs the log store proposer and the page server client in behind the
same interfaces, so the SQL layer never changes. Every service that serves or consumes
pages imports these names from here, never from another service.

Pinning is part of the contract, not an optional extra: a reader's snapshot LSN must stay
readable while its transaction is open. In one process a pin holds back the checkpoint; in
distributed mode it is a lease that holds back the page server's GC horizon.
"""

from __future__ import annotations

import asyncio
from asyncio import events as asyncio_events
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from strata.wal import Lsn, WalRecord


class StorageError(Exception):
    """Storage failed (log append refused or lost quorum, page unavailable)."""


class NotPrimaryError(StorageError):
    """This compute was deposed: a newer term owns the log. It must stop writing."""


class QuorumUnavailableError(StorageError):
    """No majority of log store nodes acknowledged in time: the commit's outcome is unknown
    and the compute accepts no writes until a quorum is back."""


class PageUnavailableError(StorageError):
    """A page could not be read (page server down, or the LSN not ingested in time)."""


@dataclass(frozen=True)
class CommitTicket:
    """A transaction handed to the log: its commit LSN and a future set when it is durable.

    The future resolves to the commit LSN once a quorum (or the local fsync) has it, or
    raises ``StorageError``. A client's COMMIT is answered only after that.
    """

    lsn: Lsn
    durable: Future[Lsn]


def when_durable_on(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
    """Run ``callback`` on ``loop`` soon, from a durability future's done callback: from the
    log's thread (``call_soon_threadsafe``, which wakes the loop), or, when the future was
    resolved on that loop itself (a log store proposer running on the serving loop), a plain
    ``call_soon`` — no write to the loop's wake-up descriptor and no extra loop pass. A closed
    loop (a node shutting down) runs nothing: nobody waits any more."""
    if loop.is_closed():
        return
    if asyncio_events._get_running_loop() is loop:
        loop.call_soon(callback)
    else:
        loop.call_soon_threadsafe(callback)


class PageStore(Protocol):
    """Pages as of an LSN. Page numbers are 0-based; a page never written reads as None.

    ``pin``/``unpin`` protect a snapshot from checkpoint or GC while a transaction reads
    it; pins are counted (pin twice, unpin twice).
    """

    def get_page(self, db_id: int, page_no: int, lsn: Lsn) -> bytes | None: ...

    def pin(self, lsn: Lsn, exact: bool = True) -> Lsn:
        """Pin ``lsn`` (exact) or the oldest readable LSN >= ``lsn`` (``exact=False``);
        returns the LSN pinned. Raises ``StorageError`` when an exact ``lsn`` is no longer
        readable."""
        ...

    def unpin(self, lsn: Lsn) -> None:
        """Release one pin of ``lsn`` (a value ``pin`` returned)."""
        ...

    def db_size(self, db_id: int, lsn: Lsn) -> int:
        """Size of database ``db_id`` in pages at ``lsn`` (0 for a database never written)."""
        ...


class WalSink(Protocol):
    """Where a primary's commits go."""

    def submit(self, records: list[WalRecord]) -> CommitTicket:
        """Write one transaction's records (the last one has commit=True).

        Returns at once; pages of the transaction are readable at ``ticket.lsn`` by the
        writer immediately, and by everyone (``durable_lsn``) once the future resolves.
        """
        ...

    @property
    def written_lsn(self) -> Lsn:
        """End of the last submitted transaction (what the writer's next snapshot sees)."""
        ...

    @property
    def durable_lsn(self) -> Lsn:
        """End of the last durable transaction (what new reader snapshots see)."""
        ...
