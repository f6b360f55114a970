"""Page server robustness (issue 11 item 7), in process against a local object store.

One bad manifest or one lost layer breaks only its own timeline; IngestWal says how much of
what it applied is durable; a log-fed branch reads its own log, never its parent's.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from pageserver.server import PageServer, PageServerService, ServerConf
from pageserver.timeline import InvalidArgument, Timeline, TimelineBroken
from strata.proto import pageserver_pb2 as pb
from strata.wal import PAGE_SIZE, PageImage, WalRecord

T = "t"
UPLOAD_WAIT_S = 10.0  # the old code retried a lost layer forever: this never finished


def _page(tag: int) -> bytes:
    return tag.to_bytes(8, "little") * (PAGE_SIZE // 8)


def _commit(tl: Timeline, xid: int, tag: int) -> int:
    """Ingest one committed transaction writing page (1, 0); returns its end LSN."""
    payload = WalRecord(xid, True, xid, ((1, 1),), (PageImage(1, 0, _page(tag)),)).encode()
    start = tl.last_record_lsn
    tl.ingest(start, payload)
    return start + len(payload)


def _server(tmp_path: Path, name: str = "data", **kw: Any) -> PageServer:
    conf = ServerConf(data_dir=str(tmp_path / name), object_store=str(tmp_path / "objects"),
                      housekeeping_interval_s=3600, auto_compact=False)
    ps = PageServer(conf, **kw)
    ps.start()
    return ps


@pytest.fixture
def ps(tmp_path: Path) -> Iterator[PageServer]:
    server = _server(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_unreadable_manifest_breaks_only_its_timeline(tmp_path: Path) -> None:
    """It used to stop the whole server from starting."""
    first = _server(tmp_path)
    lsns = {}
    for name in ("a", "b"):
        tl = first.create_timeline(T, name)
        lsns[name] = _commit(tl, 1, ord(name))
        assert first.maintenance(T, name, "flush")["ok"]
    first.create_timeline(T, "a-child", ancestor_timeline="a")
    first.stop()
    (tmp_path / "objects" / "tenants" / T / "timelines" / "a" / "index.json").write_bytes(b"{\x00")
    objects_of_a = sorted(first.remote.list(f"tenants/{T}/timelines/a/"))

    second = _server(tmp_path, "data2")
    try:
        assert second.get(T, "b").get_page(1, 0, lsns["b"]) == (lsns["b"], _page(ord("b")))
        with pytest.raises(TimelineBroken, match="index.json is unreadable"):
            second.get(T, "a")
        with pytest.raises(TimelineBroken, match="ancestor a is"):
            second.get(T, "a-child")
        assert sorted(second.remote.list(f"tenants/{T}/timelines/a/")) == objects_of_a, (
            "a broken timeline's objects are kept for the operator"
        )
        with pytest.raises(Exception, match="exists"):
            second.create_timeline(T, "a")  # must not overwrite what is left of it
    finally:
        second.stop()


@pytest.mark.parametrize("damage", ["deleted", "corrupt"])
def test_layer_lost_before_upload_does_not_block_other_uploads(ps: PageServer, damage: str) -> None:
    """A layer gone before its upload used to be retried forever; the FIFO queue then blocked
    every timeline's uploads (and, once full, ingest)."""
    a, b = ps.create_timeline(T, "a"), ps.create_timeline(T, "b")
    a_durable = _commit(a, 1, 1)
    assert ps.maintenance(T, "a", "flush")["ok"]
    gate = threading.Event()
    ps.uploads.submit("test gate", lambda: None if gate.wait(UPLOAD_WAIT_S) else None)
    _commit(a, 2, 2)
    a.flush()
    lost = [d for d in a.layers if not d.remote]
    assert len(lost) == 1
    path = Path(ps.layer_store.local_path(T, "a", lost[0].name))
    if damage == "deleted":
        path.unlink()
    else:
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        path.write_bytes(raw)
    b_end = _commit(b, 1, 3)
    b.flush()
    gate.set()
    assert ps.uploads.wait(timeout=UPLOAD_WAIT_S), "uploads are stuck behind the lost layer"
    assert b.remote_consistent_lsn == b_end
    with pytest.raises(TimelineBroken, match=lost[0].name):
        ps.get(T, "a")
    assert a.remote_consistent_lsn == a_durable, "the manifest never claims the lost range"
    if damage == "corrupt":
        assert path.exists(), "the only copy of a layer is never deleted"
    assert ps.get(T, "b").get_page(1, 0, b_end) == (b_end, _page(3))


def test_reading_a_corrupt_unuploaded_layer_keeps_it(ps: PageServer) -> None:
    tl = ps.create_timeline(T, "a")
    gate = threading.Event()
    ps.uploads.submit("test gate", lambda: None if gate.wait(UPLOAD_WAIT_S) else None)
    end = _commit(tl, 1, 1)
    tl.flush()
    desc = tl.layers[-1]
    path = Path(ps.layer_store.local_path(T, "a", desc.name))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(raw)
    ps.layer_store.drop_cache()
    with pytest.raises(Exception, match="never uploaded"):
        tl.get_page(1, 0, end)
    assert path.exists()
    gate.set()
    assert ps.uploads.wait(timeout=UPLOAD_WAIT_S)


def test_ingest_wal_returns_the_durable_lsn(ps: PageServer) -> None:
    """IngestWal answered only the applied LSN, as if it were durable."""
    tl = ps.create_timeline(T, "p")
    svc = PageServerService(ps)

    def push(xid: int) -> pb.IngestWalResponse:
        payload = WalRecord(xid, True, xid, ((1, 1),), (PageImage(1, 0, _page(xid)),)).encode()
        req = pb.IngestWalRequest(tenant=T, timeline="p", records=[
            pb.WalRecordMsg(start_lsn=tl.last_record_lsn, payload=payload)])
        return svc.IngestWal(req, None)  # type: ignore[arg-type]

    r1 = push(1)
    assert r1.last_record_lsn > 0 and r1.durable_lsn == 0, "nothing is uploaded yet"
    assert ps.maintenance(T, "p", "flush")["ok"]
    r2 = push(2)
    assert r2.durable_lsn == r1.last_record_lsn < r2.last_record_lsn


def test_logstore_branch_ingests_its_own_log(tmp_path: Path) -> None:
    """Each timeline has its own log: a branch must never read its parent's."""
    opened: list[tuple[str, int]] = []
    main_records: list[tuple[int, bytes]] = []
    lsn = 0
    for xid in range(1, 4):
        payload = WalRecord(xid, True, xid, ((1, 1),), (PageImage(1, 0, _page(xid)),)).encode()
        main_records.append((lsn, payload))
        lsn += len(payload)

    def factory(tenant: str, log_tl: str, from_lsn: int) -> AsyncIterator[tuple[int, int, bytes]]:
        opened.append((log_tl, from_lsn))

        async def gen() -> AsyncIterator[tuple[int, int, bytes]]:
            if log_tl == "main":
                for start, p in main_records:
                    if start >= from_lsn:
                        yield start, start + len(p), p
            await asyncio.sleep(3600)  # an idle log: cancelled on stop
            yield (0, 0, b"")  # pragma: no cover

        return gen()

    ps = _server(tmp_path, source_factory=factory)
    try:
        main = ps.create_timeline(T, "main", wal_source="logstore")
        main.wait_for_lsn(lsn, 10)
        br = ps.create_timeline(T, "br", ancestor_timeline="main", wal_source="logstore")
        deadline = time.monotonic() + 10
        while ("br", lsn) not in opened and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [o for o in opened if o[0] != "main"] == [("br", lsn)], opened
        assert br.get_page(1, 0, lsn) == (lsn, _page(3))  # the parent's history via the branch
        with pytest.raises(InvalidArgument, match="its own log"):
            ps.create_timeline(T, "br2", ancestor_timeline="main", wal_source="logstore",
                               log_timeline="main")
    finally:
        ps.stop()
    assert os.path.isdir(tmp_path / "objects")
