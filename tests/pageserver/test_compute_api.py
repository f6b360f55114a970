"""The page server API computes use in distributed mode: batched reads (GetPages), LSN
leases (pins that hold back GC), GetTimeline, DeleteTimeline, branching at a future LSN,
and bad input on the gRPC port. Real `strata pageserver` processes on 127.0.0.1."""

from __future__ import annotations

import random
import socket
import threading
import time
from pathlib import Path

import grpc
import pytest

from pageserver import client as psclient
from pageserver.client import (
    HasChildren,
    InvalidRequest,
    LeaseKeeper,
    LsnBelowGc,
    LsnInFuture,
    PageNotFound,
    PagePastEnd,
    TooManyLeases,
)
from strata.objectstore import open_object_store
from strata.proto import pageserver_pb2 as pb
from strata.proto import pageserver_pb2_grpc as pb_grpc
from strata.storage import PageStore, StorageError
from tests.pageserver.conftest import Workload, push

T = "t"
ARGS = (
    "--checkpoint-mb", "0.25", "--no-auto-compact", "--gc-interval", "3600",
    "--lease-grace", "0", "--retention-lsn", "100000",
)  # fmt: skip


def _pages_match(ps, timeline: str, wl: Workload, lsn: int, seed: int) -> int:
    """GetPages of a shuffled page list with repeats and past-the-end pages equals the model
    and GetPage, in request order. Returns the number of pages compared."""
    rng = random.Random(seed)
    checked = 0
    for db in wl.dbs:
        size = wl.expected_size(db, lsn) or 0
        nos = list(range(size + 3)) + [rng.randrange(size + 1) for _ in range(5)]
        rng.shuffle(nos)
        got = ps.c.get_pages(T, timeline, db, nos, lsn)
        assert len(got) == len(nos)
        for p, data in zip(nos, got, strict=True):
            want = wl.expected(db, p, lsn) if p < size else None
            assert data == want, (db, p, lsn)
            if p < size:
                assert ps.c.get_page(T, timeline, db, p, lsn) == data
            else:
                with pytest.raises(PagePastEnd):
                    ps.c.get_page(T, timeline, db, p, lsn)
            checked += 1
    return checked


def test_get_pages_matches_get_page(ps_factory) -> None:
    ps = ps_factory(None, *ARGS).start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=31)
    wl.run(150)
    push(ps, T, "main", wl.records)
    mid = wl.commits[len(wl.commits) // 2][0]
    # in-memory layer only, then delta layers, then an image plus deltas, cold cache
    assert _pages_match(ps, "main", wl, wl.lsn, 1) > 20
    ps.c.maintenance(T, "main", "flush")
    _pages_match(ps, "main", wl, mid, 2)
    wl.run(60)
    push(ps, T, "main", wl.records_from(ps.c.timeline(T, "main").last_record_lsn))
    ps.c.maintenance(T, "main", "flush")
    ps.c.maintenance(T, "main", "compact")
    wl.run(30)
    push(ps, T, "main", wl.records_from(ps.c.timeline(T, "main").last_record_lsn))
    ps.c.maintenance(T, "", "drop_caches")
    _pages_match(ps, "main", wl, wl.lsn, 3)
    _pages_match(ps, "main", wl, mid, 4)

    # a branch reads its own pages above the branch point and the parent's below it
    x = wl.commits[len(wl.commits) // 3][0]
    ps.c.create_timeline(T, "br", ancestor="main", ancestor_lsn=x)
    child = Workload(seed=32, start_lsn=x, base=wl, branch_lsn=x)
    child.run(40)
    push(ps, T, "br", child.records)
    _pages_match(ps, "br", child, child.lsn, 5)
    _pages_match(ps, "br", child, x, 6)

    # limits: an empty batch and one over MAX_PAGES_PER_BATCH are INVALID_ARGUMENT; the
    # client splits long lists itself
    assert psclient.MAX_PAGES_PER_BATCH == 256
    stub = pb_grpc.PageServerStub(ps.c._channel)
    for nos in ([], list(range(257))):
        with pytest.raises(grpc.RpcError) as ei:
            stub.GetPages(pb.GetPagesRequest(tenant=T, timeline="main", page_nos=nos, lsn=1))
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "256" in (ei.value.details() or "")
    long = [p % 5 for p in range(600)]
    got = ps.c.get_pages(T, "main", 0, long, wl.lsn)
    assert got == [wl.expected(0, p, wl.lsn) for p in long]


def test_leases_hold_back_gc(ps_factory) -> None:
    ps = ps_factory(None, *ARGS).start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=41)
    wl.run(120)
    push(ps, T, "main", wl.records)
    ps.c.maintenance(T, "main", "flush")
    leased = wl.commits[10][0]
    until = ps.c.lease_lsn(T, "main", leased, 30)
    assert time.time() + 25 < until < time.time() + 35
    for _ in range(3):  # far more history than the 100 kB retention window
        wl.run(100)
        push(ps, T, "main", wl.records_from(ps.c.timeline(T, "main").last_record_lsn))
        ps.c.maintenance(T, "main", "flush")
        ps.c.maintenance(T, "main", "compact")
    assert wl.lsn - 100000 > leased
    gc = ps.c.maintenance(T, "main", "gc")
    assert gc["gc_cutoff_lsn"] == leased, gc
    size = wl.expected_size(0, leased) or 0
    assert ps.c.get_pages(T, "main", 0, list(range(size)), leased) == [
        wl.expected(0, p, leased) for p in range(size)
    ]
    # below the cutoff: no lease, no read
    with pytest.raises(LsnBelowGc):
        ps.c.lease_lsn(T, "main", leased - 1, 30)
    with pytest.raises(LsnBelowGc):
        ps.c.get_page(T, "main", 0, 0, leased - 1)

    # a short lease that expires lets GC move on
    ps.c.lease_lsn(T, "main", leased, 0.3)  # renewing never shortens the 30 s lease
    assert ps.c.maintenance(T, "main", "gc")["gc_cutoff_lsn"] == leased
    short = wl.commits[-150][0]
    ps2_lease = ps.c.lease_lsn(T, "main", short, 0.3)
    assert ps2_lease < time.time() + 1
    time.sleep(0.5)
    assert ps.c.maintenance(T, "main", "gc")["gc_cutoff_lsn"] == leased  # the long one holds

    # the number of leases per timeline is bounded
    from pageserver.timeline import MAX_LEASES_PER_TIMELINE

    top = ps.c.timeline(T, "main").last_record_lsn
    with pytest.raises(TooManyLeases):
        for i in range(MAX_LEASES_PER_TIMELINE + 1):
            ps.c.lease_lsn(T, "main", top - i, 5)
    ps.c.lease_lsn(T, "main", top, 5)  # renewing an existing one is still fine


def test_lease_keeper_and_page_store(ps_factory) -> None:
    ps = ps_factory(None, *ARGS).start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=51)
    wl.run(120)
    push(ps, T, "main", wl.records)
    store: PageStore = ps.c.page_store(T, "main", lease_ttl_s=0.6)
    assert isinstance(store, psclient.TimelinePageStore)
    a = wl.commits[5][0]
    assert store.pin(a) == a
    assert store.pin(a) == a  # counted
    assert store.leases.pinned() == {a: 2}

    def churn(rounds: int) -> int:
        for _ in range(rounds):
            wl.run(100)
            push(ps, T, "main", wl.records_from(ps.c.timeline(T, "main").last_record_lsn))
            ps.c.maintenance(T, "main", "flush")
            ps.c.maintenance(T, "main", "compact")
        return int(ps.c.maintenance(T, "main", "gc")["gc_cutoff_lsn"])

    # the keeper renews every ttl/3: well past the 0.6 s TTL the pin still holds GC back
    time.sleep(1.5)
    assert churn(2) == a
    assert store.get_page(0, 0, a) == wl.expected(0, 0, a)
    store.unpin(a)
    time.sleep(1.0)
    assert churn(0) == a  # one pin left
    store.unpin(a)
    with pytest.raises(ValueError):
        store.unpin(a)
    time.sleep(1.0)  # the lease runs out
    cutoff = churn(1)
    assert cutoff > a
    with pytest.raises(StorageError):
        store.pin(a)
    assert store.pin(a, exact=False) == cutoff  # the oldest readable LSN
    store.unpin(cutoff)
    assert store.db_size(0, cutoff) == (wl.expected_size(0, cutoff) or 0)
    store.close()

    # a keeper's pin of an unknown timeline fails like a read does
    keeper = LeaseKeeper(ps.c, T, "nope")
    with pytest.raises(PageNotFound):
        keeper.pin(1)
    keeper.close()


def test_get_timeline_and_delete(ps_factory, tmp_path: Path) -> None:
    objects = tmp_path / "objects"
    ps = ps_factory(str(objects), *ARGS).start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=61)
    wl.run(80)
    push(ps, T, "main", wl.records)
    info = ps.c.timeline(T, "main")
    assert (info.timeline, info.last_record_lsn) == ("main", wl.lsn)
    x = wl.commits[20][0]
    ps.c.create_timeline(T, "br", ancestor="main", ancestor_lsn=x)
    child = Workload(seed=62, start_lsn=x, base=wl, branch_lsn=x)
    child.run(60)
    push(ps, T, "br", child.records)
    ps.c.maintenance(T, "br", "flush")
    ps.c.create_timeline(T, "other")
    store = open_object_store(str(objects))
    br_prefix = f"tenants/{T}/timelines/br/"
    assert store.list(br_prefix + "layers/")
    local = ps.data_dir / "tenants" / T / "timelines" / "br"
    assert local.is_dir()

    with pytest.raises(HasChildren):
        ps.c.delete_timeline(T, "main")
    ps.c.delete_timeline(T, "br")
    assert store.list(br_prefix) == []
    assert not local.exists()
    with pytest.raises(PageNotFound):
        ps.c.timeline(T, "br")
    with pytest.raises(PageNotFound):
        ps.c.delete_timeline(T, "br")
    assert [t.timeline for t in ps.c.list_timelines(T)] == ["main", "other"]
    # the parent still reads, and a new branch may take the old name
    assert ps.c.get_page(T, "main", 0, 0, wl.lsn) == wl.expected(0, 0, wl.lsn)
    ps.c.create_timeline(T, "br", ancestor="main", ancestor_lsn=x)
    assert ps.c.timeline(T, "br").last_record_lsn == x
    ps.c.delete_timeline(T, "br")
    ps.c.delete_timeline(T, "main")  # no children any more
    # deletion survives a restart (nothing comes back from object storage)
    ps.kill()
    ps.start()
    assert [t.timeline for t in ps.c.list_timelines(T)] == ["other"]
    assert store.list(f"tenants/{T}/timelines/main/") == []


def test_branch_at_future_lsn_waits_then_out_of_range(ps_factory) -> None:
    ps = ps_factory(None, *ARGS).start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=71)
    wl.run(40)
    push(ps, T, "main", wl.records)
    have = wl.lsn
    future = have + 0x1_0000_0010
    t0 = time.monotonic()
    with pytest.raises(LsnInFuture) as ei:
        ps.c.create_timeline(T, "br", ancestor="main", ancestor_lsn=future, wait_ms=300)
    assert 0.25 < time.monotonic() - t0 < 5
    hi, lo = have >> 32, have & 0xFFFFFFFF
    assert (
        f"LSN 1/{have + 0x10:X} is in the future: timeline has ingested up to {hi:X}/{lo:X}"
        in ei.value.details
    )
    with pytest.raises(PageNotFound):
        ps.c.timeline(T, "br")

    # the LSN arrives while the call waits: the branch is made
    n0 = len(wl.records)
    wl.run(10)
    target = wl.lsn

    def feed() -> None:
        time.sleep(0.3)
        push(ps, T, "main", wl.records[n0:])

    th = threading.Thread(target=feed)
    th.start()
    info = ps.c.create_timeline(T, "br", ancestor="main", ancestor_lsn=target, wait_ms=10000)
    th.join()
    assert (info.ancestor_lsn, info.last_record_lsn) == (target, target)


def test_bad_input_on_the_grpc_port(ps_factory) -> None:
    ps = ps_factory(None, *ARGS).start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=81)
    wl.run(20)
    push(ps, T, "main", wl.records)
    # garbage instead of HTTP/2: the connection is dropped, nothing else happens
    for junk in (b"\x00" * 64, b"GET / HTTP/1.1\r\n\r\n", random.Random(1).randbytes(4096)):
        with socket.create_connection(("127.0.0.1", ps.port), timeout=5) as s:
            s.sendall(junk)
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except (ConnectionResetError, TimeoutError):
                pass
    # bytes that are not the method's message: INVALID_ARGUMENT naming the problem
    for method in ("GetPage", "GetPages", "LeaseLsn", "DeleteTimeline", "CreateTimeline"):
        call = ps.c._channel.unary_unary(
            f"/strata.pageserver.PageServer/{method}",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        for junk in (b"\xff\xff\xff\xff", b"\x0a\x05ab"):  # bad tag; truncated string
            with pytest.raises(grpc.RpcError) as ei:
                call(junk, timeout=5)
            assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method
            assert "malformed request message" in (ei.value.details() or "")
    # unknown tenant / timeline: NOT_FOUND everywhere
    calls = [
        lambda tn, tl: ps.c.get_page(tn, tl, 0, 0, 1),
        lambda tn, tl: ps.c.get_pages(tn, tl, 0, [0, 1], 1),
        lambda tn, tl: ps.c.db_size(tn, tl, 0, 1),
        lambda tn, tl: ps.c.lease_lsn(tn, tl, 1, 1),
        lambda tn, tl: ps.c.timeline(tn, tl),
        lambda tn, tl: ps.c.delete_timeline(tn, tl),
        lambda tn, tl: ps.c.create_timeline(tn, "x", ancestor=tl),
    ]
    for fn in calls:
        for tn, tl in ((T, "nope"), ("nope", "main")):
            with pytest.raises(PageNotFound):
                fn(tn, tl)
    with pytest.raises(InvalidRequest):
        ps.c.lease_lsn(T, "main", 0, 1)
    # still serving, still correct
    assert ps.c.get_pages(T, "main", 0, [0], wl.lsn) == [wl.expected(0, 0, wl.lsn)]
    assert ps.proc is not None and ps.proc.poll() is None
