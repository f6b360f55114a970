"""Preallocated segments (issue 16 session 14): a segment that a rotation creates without a
spare has its blocks reserved with ``fallocate(FALLOC_FL_KEEP_SIZE)``. The file's size must
stay the end of its last frame at every moment (a crash, a reopen, a clean close and every
reader see exactly what a growing file shows: no zeros, no torn-tail notes), records must
read back from the files after a crash and a reopen and appends go on into the reserved
blocks; a log's first segment is not reserved (a small log never fills one), nor a spare,
and a failed or switched-off reservation leaves the file growing as before."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from conftest import MakeCluster
from logstore_helpers import LOG, payload_for, read_log, wait_flush

from logstore import Proposer, segments
from logstore.segments import SegmentStore, parse_frames, seg_name

SEG = 256 << 10
REC = 8000


def _store(path: Path) -> SegmentStore:
    store = SegmentStore(path, SEG)
    store.prewrite = False  # no spares: every rotation makes a new file
    store.open()
    return store


def _append(store: SegmentStore, lsn: int, n: int, tag: int) -> tuple[int, list[bytes]]:
    recs = [bytes([(tag + i) % 251]) * REC for i in range(n)]
    return store.append_in_term(lsn, 1, [(r, 0) for r in recs]), recs


def _sync(store: SegmentStore) -> None:
    job = store.prepare_sync()
    store.run_sync(job)
    store.synced_lsn = max(store.synced_lsn, job.target_lsn)


def _fill(store: SegmentStore, lsn: int, segments: int, n: int, written: list[bytes]) -> int:
    """Append ``n`` records at a time (each synced) until ``store`` has ``segments``
    segments; the payloads go on ``written``; the end LSN is returned."""
    while len(store.segments) < segments:
        lsn, more = _append(store, lsn, n, len(written))
        written += more
        _sync(store)
    return lsn


def _reserved(path: Path) -> int:
    return os.stat(path).st_blocks * 512


def _file(store: SegmentStore, i: int) -> Path:
    return store.dir / seg_name(store.segments[i].start_lsn)


def _payloads_on_disk(seg_dir: Path) -> list[bytes]:
    out: list[bytes] = []
    for p in sorted(seg_dir.glob("*.seg")):
        data = p.read_bytes()
        frames = list(parse_frames(data, int(p.stem, 16)))  # every byte is a frame: no zeros
        assert sum(24 + len(f.payload) for _, f in frames) == len(data)
        out += [f.payload for _, f in frames]
    return out


def test_a_rotated_segment_is_reserved_at_its_frames_size_and_survives_a_crash(tmp_path: Path) -> None:
    seg_dir = tmp_path / "segs"
    store = _store(seg_dir)
    lsn, written = _append(store, 0, 2, 0)
    _sync(store)
    assert _reserved(_file(store, 0)) < SEG  # a log's first segment grows: small logs reserve nothing
    while len(store.segments) < 3:  # two rotations, each making a new file
        lsn, more = _append(store, lsn, 4, len(written))
        written += more
        _sync(store)
        active = store.segments[-1]
        path = _file(store, -1)
        assert os.path.getsize(path) == active.size  # the size is the last frame's end, always
    assert store.preallocated == 2
    assert _reserved(_file(store, -1)) >= SEG  # the blocks exist ahead of the frames
    assert all(os.path.getsize(_file(store, i)) == s.size for i, s in enumerate(store.segments))
    # A crash (no clean close): the files hold the frames and nothing else.
    os.close(store._fd)  # type: ignore[arg-type]
    assert _payloads_on_disk(seg_dir) == written
    again = SegmentStore(seg_dir, SEG)
    again.prewrite = False
    assert again.open(durable_lsn=lsn, terms=(1,)) == []  # no torn tail, no pre-written tail
    assert again.end_lsn == lsn
    # Appending goes on in the reopened segment's reserved blocks, then rotates again.
    lsn = _fill(again, lsn, len(again.segments) + 1, 3, written)
    assert again.preallocated == 1
    again.close()
    assert _payloads_on_disk(seg_dir) == written
    third = SegmentStore(seg_dir, SEG)
    assert third.open(durable_lsn=lsn, terms=(1,)) == []
    lsn2, got = 0, []
    while lsn2 < lsn:
        frames = third.read_local(lsn2, lsn, 1 << 20)
        got += [f.payload for f in frames]
        lsn2 = frames[-1].end_lsn
    assert got == written
    third.close()


def test_no_reservation_when_switched_off_or_when_it_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(segments.PREALLOCATE_ENV, "off")
    off = _store(tmp_path / "off")
    written: list[bytes] = []
    _fill(off, 0, 2, 4, written)
    assert off.preallocated == 0
    assert _reserved(_file(off, -1)) < SEG
    off.close()
    assert _payloads_on_disk(tmp_path / "off") == written

    monkeypatch.delenv(segments.PREALLOCATE_ENV)
    calls: list[int] = []

    def refused(fd: int, mode: int, offset: int, length: int) -> int:
        calls.append(length)
        return -1  # e.g. ENOSPC or EOPNOTSUPP

    monkeypatch.setattr(segments, "_fallocate", refused)
    failing = _store(tmp_path / "failing")
    written = []
    _fill(failing, 0, 3, 4, written)
    assert calls == [SEG, SEG] and failing.preallocated == 0
    failing.close()
    assert _payloads_on_disk(tmp_path / "failing") == written


def test_a_spare_is_used_as_it_is(tmp_path: Path) -> None:
    """A pre-written spare is not reserved again (its blocks exist: it is all zeros)."""
    store = SegmentStore(tmp_path / "segs", SEG)
    store.open()
    lsn, _ = _append(store, 0, 2, 0)
    assert store.make_spare()
    store.spare_ready = True
    while len(store.segments) < 2:
        lsn, _ = _append(store, lsn, 4, 1)
        _sync(store)
    assert store.preallocated == 0
    assert os.path.getsize(_file(store, -1)) == SEG  # the spare's zeros
    store.close()


def test_sigkill_with_preallocated_segments_loses_no_acknowledged_record(
        make_cluster: MakeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real acceptor processes with small segments and no spares (every new segment is
    reserved): an acceptor is SIGKILLed twice while appending into reserved blocks; every
    acknowledged record is on every acceptor afterwards, byte-identical, and the killed
    node's files hold frames only (their size never took in the reservation)."""
    monkeypatch.setenv("STRATA_LOGSTORE_PREWRITE", "off")  # inherited by the acceptors
    cluster = make_cluster(extra=["--segment-size", str(64 << 10)])
    victim = cluster.nodes[1]
    seg_dir = victim.log_dir() / "segments"
    n_records = 2400
    sizes = [4000 + (i * 37) % 4000 for i in range(n_records)]
    reserved_at_kill: list[bool] = []

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=10)
        await p.elect()
        acked: dict[int, int] = {}
        next_index = 0

        async def writer() -> None:
            nonlocal next_index
            while next_index < n_records:
                i = next_index
                next_index += 1
                acked[i] = await p.append([payload_for(i, sizes[i])])

        async def killer() -> None:
            for at in (n_records // 3, 2 * n_records // 3):
                while len(acked) < at:
                    await asyncio.sleep(0.005)
                victim.kill()
                # A file with two or more blocks past its end: a reservation (a growing
                # file has less than one).
                reserved_at_kill.append(any(
                    f.stat().st_blocks * 512 - f.stat().st_size >= 8192 for f in seg_dir.glob("*.seg")))
                await asyncio.sleep(0.3)
                await asyncio.to_thread(victim.start)

        await asyncio.gather(killer(), *(writer() for _ in range(8)))
        end = max(acked.values())
        await wait_flush(cluster.addrs, end, timeout=60)
        expected = [payload_for(i, sizes[i]) for i in range(n_records)]
        for addr in cluster.addrs:
            assert [x[2] for x in await read_log(addr)] == expected, addr
        await p.close()

    asyncio.run(main())
    assert reserved_at_kill == [True, True]  # the kills hit reserved segments
    victim.stop()
    for f in seg_dir.glob("*.seg"):
        data = f.read_bytes()
        assert sum(24 + len(fr.payload) for _, fr in parse_frames(data, int(f.stem, 16))) == len(data)
