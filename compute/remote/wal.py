"""The primary's WalSink over the log store proposer.

``submit`` encodes the transaction's records, hands them to the proposer (which assigns the
LSNs and replicates them), inserts the pages into the overlay at the commit's end LSN (so
the writer reads its own commits at once) and returns a ticket whose future resolves when
a majority has the records.

Page deltas (``STRATA_WAL_PAGE_DELTAS``, read once per sink): the records sent to the log
carry a page as a delta (``strata.wal.page_delta``) against its version just before this
commit, taken from the overlay without fetching (``peek_latest``; not there, or past the
database's end then: the whole image). Only overlay versions serve as bases
(``DELTA_BASES_FROM_CACHE``): they are recent, so the page server finds the same base in its
in-memory layer; a base-cache page may be old, and the page server then walks its layers
down to an image layer (session 6: whole layer files decoded, +350 µs of page server CPU
per TPC-B transaction; session 7, layer files read per key: one batch, +20–170 µs, about
what the log store nodes save on 490 instead of 4,400 bytes per commit: off until it pays,
docs/performance.md "Page deltas for cache bases (session 7)"). The VFS still hands over
full images and the overlay still gets them. Why the base is right for every reader: this sink is the only
writer and the base is the state at ``written_lsn``, the end of the previous record; a record is in the log only if every earlier one is, so the page server (which
ingests in LSN order) and every replica hold exactly that state when they meet the delta.
A commit that fails puts the sink in NO_QUORUM or FENCED; it writes again only once the
proposer has everything it was given on a majority (so the base it already used is in the
log), or never.

States: WRITABLE; NO_QUORUM after a commit was not acknowledged by a majority within the
proposer deadline (later writes fail fast with ``QuorumUnavailableError`` until the
proposer's peers are back in sync and its commit LSN caught up with its end: the same term
goes on, nothing is lost); FENCED after a newer term appeared (``NotPrimaryError`` for
ever: this node never acknowledges anything again).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from compute.node import FENCED, NO_QUORUM, WRITABLE
from compute.remote.pages import RemotePages, Version
from logstore.errors import FencedError, LogstoreError
from logstore.proposer import SyncProposer
from strata.storage import CommitTicket, NotPrimaryError, QuorumUnavailableError, StorageError
from strata.wal import Lsn, PageImage, WalRecord, page_delta

log = logging.getLogger("strata.compute.remote.wal")

RECOVERY_POLL_S = 0.05
"""How often a NO_QUORUM sink checks whether the proposer is in sync again."""
PAGE_DELTAS_ENV = "STRATA_WAL_PAGE_DELTAS"
"""``on`` | ``off``: send changed pages as deltas (version 2 records) or whole images."""
PAGE_DELTAS_DEFAULT = "on"
"""See docs/performance.md "Page deltas in WAL records (session 6)"."""
DELTA_BASES_FROM_CACHE = False
"""Whether a page only in the base cache (not changed since the floor) may be a delta's
base (module docstring: no, the page server's ingest costs about what the bytes save)."""


def page_deltas_enabled() -> bool:
    """The ``STRATA_WAL_PAGE_DELTAS`` switch (anything but on/off: the default, logged)."""
    value = os.environ.get(PAGE_DELTAS_ENV, PAGE_DELTAS_DEFAULT).strip().lower()
    if value not in ("on", "off"):
        log.warning("%s=%r is neither on nor off: %s", PAGE_DELTAS_ENV, value,
                    PAGE_DELTAS_DEFAULT)
        value = PAGE_DELTAS_DEFAULT
    return value == "on"


@dataclass
class SinkStats:
    """What the sink sent (tests, measurements; pages are counted when encoded, bytes when
    handed to the proposer)."""

    commits: int = 0
    payload_bytes: int = 0
    """Encoded record bytes handed to the log (= LSN advance)."""
    pages_whole: int = 0
    pages_delta: int = 0


class _DurableFuture(concurrent.futures.Future[Lsn]):
    """A commit's ticket future, resolved by the proposer itself: its acknowledgement moves
    the sink's durable LSN before any waiter hears of it, its failure becomes the sink's
    state and the storage error the session reports. One future per commit, not the
    proposer's plus a second chained to it (session 19: a ``Future`` with its
    ``Condition`` and a done callback less per commit)."""

    def __init__(self, sink: RemoteSink) -> None:
        super().__init__()
        self._sink = sink
        self.end: Lsn | None = None
        """The commit's end LSN once the proposer reserved it (for the error message)."""

    def set_result(self, result: Lsn) -> None:
        self._sink._acknowledged(result)
        super().set_result(result)

    def set_exception(self, exception: BaseException | None) -> None:
        assert exception is not None, "a commit fails with an error"
        super().set_exception(self._sink._failed(exception, self.end))


class RemoteSink:
    """``strata.storage.WalSink`` over a ``SyncProposer`` (already elected)."""

    def __init__(self, proposer: SyncProposer, pages: RemotePages,
                 page_deltas: bool | None = None) -> None:
        self.proposer = proposer
        self.pages = pages
        self.page_deltas = page_deltas_enabled() if page_deltas is None else page_deltas
        self.stats = SinkStats()
        self.term = proposer.term
        end = proposer.proposer.end_lsn
        self._written: Lsn = end
        self._durable: Lsn = end
        self.state = WRITABLE
        self.detail = ""
        self._lock = threading.Lock()
        # Separate from _lock: the proposer thread resolves commits while a writer may hold
        # _lock waiting on that same thread inside proposer.submit (a deadlock otherwise).
        self._durable_lock = threading.Lock()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None

    @property
    def written_lsn(self) -> Lsn:
        return self._written

    @property
    def durable_lsn(self) -> Lsn:
        return self._durable

    def submit(self, records: list[WalRecord]) -> CommitTicket:
        self._check_state()
        assert records and records[-1].commit
        self.pages.make_room()
        # With deltas, encoding needs the state at written_lsn: under the lock.
        payloads = None if self.page_deltas else [r.encode() for r in records]
        with self._lock:  # one writer at a time: LSN order == overlay order
            self._check_state()
            if payloads is None:
                payloads = self._encode_deltas(records)
            else:
                self.stats.pages_whole += sum(len(r.pages) for r in records)
            durable = _DurableFuture(self)
            try:
                end, _ = self.proposer.submit(payloads, durable)
                durable.end = end
            except FencedError as exc:
                self._set_fenced(exc)
                raise NotPrimaryError(self.detail) from exc
            except LogstoreError as exc:
                self._set_no_quorum(str(exc))
                raise QuorumUnavailableError(self.detail) from exc
            pages: list[tuple[int, int, Version]] = [
                (p.db_id, p.page_no, p.data) for r in records for p in r.pages]
            self.pages.insert(end, pages, records[-1].db_sizes)
            self._written = end
            self.stats.commits += 1
            self.stats.payload_bytes += sum(len(p) for p in payloads)
        return CommitTicket(lsn=end, durable=durable)

    def _encode_deltas(self, records: list[WalRecord]) -> list[bytes]:
        """The transaction's records with each page whose version as of written_lsn the
        overlay holds (DELTA_BASES_FROM_CACHE: or the base cache) sent as a delta against
        it (caller holds ``_lock``). The bases of a record's pages come from one overlay
        lookup and the record is encoded straight from its images and deltas (session 14:
        no PageDelta objects, no second WalRecord; the same bytes)."""
        peek_many = self.pages.peek_latest_many
        overlay_only = not DELTA_BASES_FROM_CACHE
        seen: set[tuple[int, int]] = set()
        payloads: list[bytes] = []
        stats = self.stats
        for rec in records:
            pages = rec.pages
            keys = [(p.db_id, p.page_no) for p in pages]
            for key in keys:
                # The page server and replicas take a delta's base as of the transaction's
                # start: a page twice in one transaction would need the first as base.
                assert key not in seen, f"page {key} twice in transaction {rec.xid}"
                seen.add(key)
            whole: list[PageImage] = []
            deltas: list[tuple[int, int, bytes]] = []
            for p, base in zip(pages, peek_many(keys, overlay_only=overlay_only), strict=True):
                d = None if base is None else page_delta(base, p.data)
                if d is None:
                    whole.append(p)
                else:
                    deltas.append((p.db_id, p.page_no, d))
            stats.pages_whole += len(whole)
            stats.pages_delta += len(deltas)
            payloads.append(rec.encode_with_deltas(whole, deltas) if deltas else rec.encode())
        return payloads

    def _acknowledged(self, end: Lsn) -> None:
        """A majority has the records up to ``end`` (``_DurableFuture.set_result``)."""
        with self._durable_lock:
            if end > self._durable:
                self._durable = end

    def _failed(self, exc: BaseException, end: Lsn | None) -> BaseException:
        """A commit the log store did not acknowledge: the sink's new state, and the error
        its session reports (``_DurableFuture.set_exception``)."""
        if isinstance(exc, FencedError):
            self._set_fenced(exc)
            return NotPrimaryError(self.detail)
        self._set_no_quorum(str(exc))
        what = "a commit" if end is None else f"commit at LSN {end}"
        return QuorumUnavailableError(f"{what} not acknowledged by a majority of log store "
                                      f"nodes; its outcome is unknown: {exc}")

    def _check_state(self) -> None:
        if self.state == FENCED:
            raise NotPrimaryError(self.detail)
        if self.state == NO_QUORUM:
            raise QuorumUnavailableError(self.detail)

    def _set_fenced(self, exc: BaseException) -> None:
        newer = getattr(exc, "promised_term", 0)
        self.state = FENCED
        self.detail = (f"this compute was primary in term {self.term}; term {newer or '>'} "
                       f"owns the log now: {exc}")
        log.warning("fenced: %s", self.detail)

    def _set_no_quorum(self, why: str) -> None:
        if self.state != WRITABLE:
            return
        self.state = NO_QUORUM
        self.detail = f"no majority of log store nodes acknowledged in time: {why}"
        log.warning("no quorum: %s", why)
        if self._monitor is None or not self._monitor.is_alive():
            self._monitor = threading.Thread(target=self._recover, name="quorum-recovery",
                                             daemon=True)
            self._monitor.start()

    def _recover(self) -> None:
        """Back to WRITABLE once the proposer has everything it holds on a majority."""
        inner = self.proposer.proposer
        while not self._stop.wait(RECOVERY_POLL_S):
            if inner.fenced:
                self._set_fenced(StorageError("a newer term fenced this proposer"))
                return
            if inner.commit_lsn >= inner.end_lsn:
                with self._durable_lock:
                    self._durable = max(self._durable, min(inner.commit_lsn, self._written))
                    self.state = WRITABLE
                    self.detail = ""
                log.info("quorum back at LSN %d", inner.commit_lsn)
                return

    def wait_durable(self, timeout_s: float) -> bool:
        """Until everything written is durable (tests, clean shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self._durable < self._written:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        try:
            self.proposer.close()
        except Exception as exc:  # closing a proposer whose loop is wedged
            log.debug("closing proposer: %s", exc)


def open_proposer(addrs: Sequence[str], *, tenant: str, timeline: str, name: str,
                  deadline_s: float, loop: asyncio.AbstractEventLoop | None = None) -> SyncProposer:
    """A SyncProposer for the timeline's log, elected (term T+1, log end adopted). With
    ``loop`` (the compute's serving loop, run by another thread than this one) the proposer
    runs there: a commit made on that loop goes to the acceptors without a thread hop."""
    proposer = SyncProposer(list(addrs), deadline_s, name=name, tenant=tenant, timeline=timeline,
                            loop=loop)
    try:
        proposer.elect()
    except FencedError as exc:
        proposer.close()
        raise NotPrimaryError(f"election lost: {exc}") from exc
    except LogstoreError as exc:
        proposer.close()
        raise QuorumUnavailableError(f"could not elect a term on the log store: {exc}") from exc
    return proposer
