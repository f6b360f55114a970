"""What a primary's commit ticket says once the log store answers (compute/remote/wal.py):
the proposer resolves the ticket's own future (no second future chained to it, session 19),
the sink's durable LSN has moved before a waiter hears of an acknowledgement, and a
commit the log store refused becomes the sink's state and the storage error its session
reports (fenced: NotPrimaryError; no majority: QuorumUnavailableError, later commits refused
at once until the proposer is in sync again)."""

from __future__ import annotations

import concurrent.futures
import random
import time

import pytest

from compute.node import FENCED, NO_QUORUM, WRITABLE
from compute.remote.pages import RemotePages
from compute.remote.wal import RemoteSink
from logstore.errors import FencedError, QuorumLostError
from strata.storage import NotPrimaryError, QuorumUnavailableError
from strata.wal import PAGE_SIZE, PageImage, WalRecord


class _Inner:
    def __init__(self) -> None:
        self.end_lsn = 0
        self.commit_lsn = 0
        self.fenced = False


class HeldProposer:
    """``SyncProposer.submit`` whose futures the test resolves (LSNs by payload bytes)."""

    term = 1

    def __init__(self) -> None:
        self.proposer = _Inner()
        self.held: list[tuple[int, concurrent.futures.Future[int]]] = []

    def submit(self, payloads: list[bytes], fut: concurrent.futures.Future[int] | None = None
               ) -> tuple[int, concurrent.futures.Future[int]]:
        self.proposer.end_lsn += sum(len(p) for p in payloads)
        if fut is None:
            fut = concurrent.futures.Future()
        self.held.append((self.proposer.end_lsn, fut))
        return self.proposer.end_lsn, fut

    def close(self) -> None:
        pass


class Backend:
    def get_pages(self, db_id: int, page_nos: list[int], lsn: int) -> list[bytes | None]:
        return [None for _ in page_nos]

    def db_size(self, db_id: int, lsn: int) -> int:
        return 0

    def last_record_lsn(self) -> int:
        return 0


def make_sink() -> tuple[RemoteSink, HeldProposer]:
    pages = RemotePages(Backend(), 1, cache_bytes=64 * PAGE_SIZE, overlay_bytes=1 << 24,
                        head=lambda: 1)
    proposer = HeldProposer()
    return RemoteSink(proposer, pages, page_deltas=False), proposer  # type: ignore[arg-type]


def commit(sink: RemoteSink, xid: int) -> object:
    page = PageImage(1, 0, random.Random(xid).randbytes(PAGE_SIZE))
    return sink.submit([WalRecord(xid, True, xid, ((1, 1),), (page,))])


def test_the_proposer_resolves_the_tickets_own_future_and_durable_moves_first() -> None:
    sink, proposer = make_sink()
    try:
        first, second = commit(sink, 1), commit(sink, 2)
        (end1, fut1), (end2, fut2) = proposer.held
        assert fut1 is first.durable and fut2 is second.durable  # type: ignore[attr-defined]
        assert first.lsn == end1 and second.lsn == end2  # type: ignore[attr-defined]
        assert not fut1.done() and sink.durable_lsn == 0
        seen: list[int] = []
        fut2.add_done_callback(lambda f: seen.append(sink.durable_lsn))
        fut2.set_result(end2)  # acknowledgements may come out of order: durable only grows
        fut1.set_result(end1)
        assert seen == [end2] and sink.durable_lsn == end2 and fut1.result(0) == end1
        assert sink.state == WRITABLE
    finally:
        sink.close()


def test_a_fenced_commit_fences_the_sink_and_reports_not_primary() -> None:
    sink, proposer = make_sink()
    try:
        ticket = commit(sink, 1)
        _, fut = proposer.held[0]
        fut.set_exception(FencedError("term 7 owns the log", promised_term=7))
        with pytest.raises(NotPrimaryError, match="term 7"):
            ticket.durable.result(0)  # type: ignore[attr-defined]
        assert sink.state == FENCED and sink.durable_lsn == 0
        with pytest.raises(NotPrimaryError):
            commit(sink, 2)
        assert len(proposer.held) == 1
    finally:
        sink.close()


def test_an_unacknowledged_commit_reports_unknown_outcome_until_the_log_is_in_sync() -> None:
    sink, proposer = make_sink()
    try:
        ticket = commit(sink, 1)
        end, fut = proposer.held[0]
        fut.set_exception(QuorumLostError("2 of 3 acceptors silent"))
        with pytest.raises(QuorumUnavailableError, match=f"commit at LSN {end} .*outcome is unknown"):
            ticket.durable.result(0)  # type: ignore[attr-defined]
        assert sink.state == NO_QUORUM and sink.durable_lsn == 0
        with pytest.raises(QuorumUnavailableError):
            commit(sink, 2)
        proposer.proposer.commit_lsn = proposer.proposer.end_lsn  # a majority has it after all
        deadline = time.monotonic() + 5
        while sink.state != WRITABLE and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sink.state == WRITABLE and sink.durable_lsn == end
        commit(sink, 3)
        assert len(proposer.held) == 2
    finally:
        sink.close()
