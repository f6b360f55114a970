"""Batched reads (issue 16): GetPages at an LSN (order, missing pages, versions as of the LSN,
errors, limits), the hand-serialized responses, lock-free reads racing flush/compaction,
and the compute's coalescing of concurrent misses (``compute.remote.pages.PageBackend``).
Real `strata pageserver` processes on 127.0.0.1."""

from __future__ import annotations

import random
import threading

import grpc
import pytest

from compute.remote.pages import MAX_CALLS_IN_FLIGHT, PageBackend
from pageserver.client import PageServerClient
from pageserver.server import MAX_PAGES_PER_BATCH, encode_page, encode_pages
from strata.proto import pageserver_pb2 as pb
from strata.proto import pageserver_pb2_grpc as pb_grpc
from tests.pageserver.conftest import Workload, push

T = "t"
ARGS = ("--checkpoint-mb", "0.25", "--no-auto-compact", "--gc-interval", "3600")


def test_hand_serialized_responses_parse_as_the_proto() -> None:
    """encode_page/encode_pages write protobuf wire bytes by hand: protobuf must read back
    exactly what was meant (exists, data, page_lsn), empty and large values included."""
    cases: list[tuple[int, bytes] | None] = [
        None, (1, b"x"), (0, b""), (127, b"a" * 127), (128, b"b" * 128),
        (2**63 - 1, bytes(range(256)) * 16), (300, b"\x00" * 8192),
    ]  # fmt: skip
    for v in cases:
        m = pb.GetPageResponse.FromString(encode_page(v))
        assert (m.exists, m.data, m.page_lsn) == ((False, b"", 0) if v is None else (True, v[1], v[0]))
    got = pb.GetPagesResponse.FromString(encode_pages(cases))
    assert len(got.pages) == len(cases)
    for m, v in zip(got.pages, cases, strict=True):
        assert (m.exists, m.data, m.page_lsn) == ((False, b"", 0) if v is None else (True, v[1], v[0]))
    assert pb.GetPagesResponse.FromString(encode_pages([])).pages == []


def test_get_pages_order_versions_and_errors(ps_factory) -> None:
    ps = ps_factory(None, *ARGS).start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=161)
    wl.run(120)
    push(ps, T, "main", wl.records)
    ps.c.maintenance(T, "main", "flush")
    wl.run(40)
    push(ps, T, "main", wl.records_from(ps.c.timeline(T, "main").last_record_lsn))
    stub = pb_grpc.PageServerStub(ps.c._channel)
    rng = random.Random(5)
    # every page at several commit LSNs: the version returned is the newest at or below the
    # LSN (page_lsn says which), in request order, duplicates answered twice
    for lsn, _ in rng.sample(wl.commits, 12) + [wl.commits[-1]]:
        for db in wl.dbs:
            size = wl.expected_size(db, lsn) or 0
            nos = list(range(size + 2)) * 2
            rng.shuffle(nos)
            resp = stub.GetPages(
                pb.GetPagesRequest(tenant=T, timeline="main", db_id=db, page_nos=nos[:256], lsn=lsn)
            )
            assert len(resp.pages) == len(nos[:256])
            for p, m in zip(nos[:256], resp.pages, strict=True):
                versions = [at for at, _ in wl.pages.get((db, p), []) if at <= lsn]
                if p >= size or not versions:
                    assert not m.exists and m.data == b"" and m.page_lsn == 0, (db, p, lsn)
                else:
                    assert m.exists and m.data == wl.expected(db, p, lsn), (db, p, lsn)
                    assert m.page_lsn == max(versions) <= lsn
    # an LSN not ingested: DEADLINE_EXCEEDED after wait_ms, naming the LSN and what is there
    future = wl.lsn + 10_000
    with pytest.raises(grpc.RpcError) as ei:
        stub.GetPages(pb.GetPagesRequest(tenant=T, timeline="main", db_id=0, page_nos=[0],
                                         lsn=future, wait_ms=200))
    assert ei.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert str(future) in (ei.value.details() or "") and str(wl.lsn) in (ei.value.details() or "")
    # a reserved page number (the db-size key): INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as ei:
        stub.GetPages(pb.GetPagesRequest(tenant=T, timeline="main", db_id=0,
                                         page_nos=[1, 0xFFFFFFFF], lsn=wl.lsn))
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "reserved" in (ei.value.details() or "")
    # the batch limit is named in the refusal
    with pytest.raises(grpc.RpcError) as ei:
        stub.GetPages(pb.GetPagesRequest(tenant=T, timeline="main", db_id=0,
                                         page_nos=[0] * (MAX_PAGES_PER_BATCH + 1), lsn=wl.lsn))
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "MAX_PAGES_PER_BATCH" in (ei.value.details() or "")
    assert "257" in (ei.value.details() or "")
    # the old single-page RPC still answers the same bytes
    for db, p, lsn in wl.sample(rng, 40):
        size = wl.expected_size(db, lsn) or 0
        if p < size:
            assert ps.c.get_page(T, "main", db, p, lsn) == wl.expected(db, p, lsn)


def test_reads_stay_exact_while_layers_change(ps_factory) -> None:
    """Reads take no lock: readers racing ingest, flushes and compaction (the read view is
    swapped under them) must still see exactly the model's pages."""
    ps = ps_factory(None, *ARGS).start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=162)
    wl.run(60)
    push(ps, T, "main", wl.records)
    fixed = wl.lsn
    want = {db: [wl.expected(db, p, fixed) for p in range(wl.expected_size(db, fixed) or 0)]
            for db in wl.dbs}
    errors: list[str] = []
    stop = threading.Event()
    reads = [0]

    def reader(seed: int) -> None:
        c = PageServerClient(ps.addr)
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                db = rng.choice(wl.dbs)
                nos = [rng.randrange(len(want[db])) for _ in range(16)]
                got = c.get_pages(T, "main", db, nos, fixed)
                if got != [want[db][p] for p in nos]:
                    errors.append(f"db {db} pages {nos} differ at LSN {fixed}")
                reads[0] += 1
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            c.close()

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            wl.run(40)
            push(ps, T, "main", wl.records_from(ps.c.timeline(T, "main").last_record_lsn))
            ps.c.maintenance(T, "main", "flush")
        ps.c.maintenance(T, "main", "compact")
        ps.c.maintenance(T, "", "drop_caches")
        wl.run(20)
        push(ps, T, "main", wl.records_from(ps.c.timeline(T, "main").last_record_lsn))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    assert reads[0] > 20
    assert ps.c.timeline(T, "main").layers_image >= 1


class _GatedClient(PageServerClient):
    """A real client whose first GetPages waits until the test lets it go, so that the
    other readers' misses are sure to arrive while calls are out."""

    def __init__(self, addr: str) -> None:
        super().__init__(addr)
        self.gate = threading.Event()
        self.sent: list[list[int]] = []

    def get_pages(self, tenant, timeline, db_id, page_nos, lsn, wait_ms=0):  # type: ignore[no-untyped-def]
        self.sent.append(list(page_nos))
        self.gate.wait(10)
        return super().get_pages(tenant, timeline, db_id, page_nos, lsn, wait_ms)


def test_concurrent_misses_share_calls(ps_factory) -> None:
    ps = ps_factory(None, *ARGS).start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=163, dbs=(0,))
    wl.run(80)
    push(ps, T, "main", wl.records)
    lsn = wl.lsn
    size = wl.expected_size(0, lsn) or 0
    assert size >= 24
    client = _GatedClient(ps.addr)
    backend = PageBackend(client, T, "main")
    n = 12
    results: dict[int, list[bytes | None]] = {}
    errors: list[BaseException] = []

    def miss(i: int) -> None:
        try:
            results[i] = backend.get_pages(0, [i, size + i, i + 1], lsn)  # one past the end
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=miss, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    deadline = threading.Event()
    while len(client.sent) < MAX_CALLS_IN_FLIGHT and not deadline.wait(0.01):
        pass
    deadline.wait(0.3)  # the rest queue behind the calls in flight
    client.gate.set()
    for t in threads:
        t.join(10)
    assert not errors, errors
    for i in range(n):
        assert results[i] == [wl.expected(0, i, lsn), None, wl.expected(0, i + 1, lsn)], i
    # fewer calls than readers, every answer from a shared call counted
    assert backend.calls == len(client.sent) < n
    assert backend.joined == n - backend.calls
    assert max(len(s) for s in client.sent) > 3
    # without coalescing: one call per request (the A/B switch the bench uses)
    plain = PageBackend(PageServerClient(ps.addr), T, "main", coalesce=False)
    assert plain.get_pages(0, [2, 1], lsn) == [wl.expected(0, 2, lsn), wl.expected(0, 1, lsn)]
    assert plain.calls == 1


def test_a_failed_shared_call_fails_every_reader_that_joined(ps_factory) -> None:
    ps = ps_factory(None, *ARGS).start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=164, dbs=(0,))
    wl.run(10)
    push(ps, T, "main", wl.records)
    client = _GatedClient(ps.addr)
    backend = PageBackend(client, T, "nope")  # unknown timeline: NOT_FOUND for everyone
    errors: list[BaseException] = []

    def miss(i: int) -> None:
        try:
            backend.get_pages(0, [i], wl.lsn)
        except BaseException as exc:  # noqa: BLE001 - checked below
            errors.append(exc)

    threads = [threading.Thread(target=miss, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    deadline = threading.Event()
    deadline.wait(0.3)
    client.gate.set()
    for t in threads:
        t.join(10)
    assert len(errors) == 6
    assert all("unknown timeline" in str(e) for e in errors), errors
    assert backend._in_flight == 0 and not backend._open  # nothing left hanging
    good = PageBackend(PageServerClient(ps.addr), T, "main")
    assert good.get_pages(0, [0], wl.lsn) == [wl.expected(0, 0, wl.lsn)]


def test_consistent_lsn_marks_transaction_boundaries(ps_factory) -> None:
    """TimelineInfo.consistent_lsn: below a half-ingested chunked transaction's start, equal
    to last_record_lsn once it commits (a replica may then start there and see every
    transaction whole)."""
    from strata.wal import PageImage, WalRecord

    ps = ps_factory(None, *ARGS).start()
    ps.c.create_timeline(T, "main")
    page = b"p" * 4096
    chunk = WalRecord(1, False, 0, (), (PageImage(0, 0, page),)).encode()
    commit = WalRecord(1, True, 5, ((0, 2),), (PageImage(0, 1, page),)).encode()
    first = ps.c.timeline(T, "main")
    assert first.consistent_lsn == first.last_record_lsn == 0
    ps.c.ingest(T, "main", [(0, chunk)])
    mid = ps.c.timeline(T, "main")
    assert mid.last_record_lsn == len(chunk) and mid.consistent_lsn == 0
    ps.c.ingest(T, "main", [(len(chunk), commit)])
    done = ps.c.timeline(T, "main")
    assert done.consistent_lsn == done.last_record_lsn == len(chunk) + len(commit)
