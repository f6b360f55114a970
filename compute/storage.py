"""The two narrow interfaces between the SQL engine and storage.

The page VFS (``compute.vfs``) only ever talks to a ``PageStore`` (read a page at an LSN)
and a ``WalSink`` (append a transaction's records). The standalone store
(``compute.localstore``) implements both in one process; the distributed compute plugs the
log store proposer and the page server client in behind the same two interfaces, so the SQL
layer never changes.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from strata.wal import Lsn, WalRecord


class StorageError(Exception):
    """Storage failed (log append refused or lost quorum, page unavailable)."""


class NotPrimaryError(StorageError):
    """This compute was deposed: a newer term owns the log. It must stop writing."""


@dataclass(frozen=True)
class CommitTicket:
    """A transaction handed to the log: its commit LSN and a future set when it is durable.

    The future resolves to the commit LSN once a quorum (or the local fsync) has it, or
    raises ``StorageError``. A client's COMMIT is answered only after that.
    """

    lsn: Lsn
    durable: Future[Lsn]


class PageStore(Protocol):
    """Pages as of an LSN. Page numbers are 0-based; a page never written reads as None."""

    def get_page(self, db_id: int, page_no: int, lsn: Lsn) -> bytes | None: ...

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
