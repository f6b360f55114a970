"""The segment store's one-pass append (``SegmentStore.append_in_term``, issue 16 session 12):
frames, the sparse index, the tail cache and segment rotation inside one loop. Records must
read back exactly (from the files, from the tail cache, after a reopen that scans every
frame), including across rotations in the middle of an append and across term changes, and
a group commit must cover everything appended (a record acknowledged before the fdatasync
that covers it would be lost by a crash: the sync job's target and files say what is
covered)."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from logstore_helpers import record_syncs

from logstore.segments import INDEX_EVERY, SegmentStore, payload_crc


def _payloads(rng: random.Random, n: int) -> list[bytes]:
    return [rng.randbytes(rng.choice((1, 7, 300, 4400, 9000, 70_000))) for _ in range(n)]


def _read_all(store: SegmentStore, start: int, end: int) -> list[tuple[int, int, bytes]]:
    out: list[tuple[int, int, bytes]] = []
    lsn = start
    while lsn < end:
        frames = store.read_local(lsn, end, 1 << 20)
        assert frames and frames[0].lsn == lsn
        out.extend((f.lsn, f.term, f.payload) for f in frames)
        lsn = frames[-1].end_lsn
    return out


def test_one_pass_append_reads_back_across_rotations_terms_and_a_crash(tmp_path: Path) -> None:
    rng = random.Random(12)
    seg_bytes = 256 << 10  # several rotations, some in the middle of one append
    store = SegmentStore(tmp_path / "segs", seg_bytes, start_lsn=1000)
    store.open()
    expected: list[tuple[int, int, bytes]] = []
    lsn = 1000
    term = 1
    for i in range(60):
        if i % 20 == 19:
            term += 1
        batch = _payloads(rng, rng.randint(1, 12))
        if i % 7 == 3:  # the general entry point: runs of (term, payload), two terms in one call
            records = [(term, p) for p in batch[: len(batch) // 2]] + [(term + 1, p) for p in batch[len(batch) // 2:]]
            end = store.append(lsn, records)
            term += 1
        else:
            end = store.append_in_term(lsn, term, [(p, payload_crc(p)) for p in batch])
            records = [(term, p) for p in batch]
        for t, p in records:
            expected.append((lsn, t, p))
            lsn += len(p)
        assert end == lsn == store.end_lsn
        job = store.prepare_sync()  # the group commit covers everything appended so far
        assert job.target_lsn == end
        assert store._fd in job.fds
        store.run_sync(job)
    assert len(store.segments) >= 5
    for seg in store.segments:  # each segment's bookkeeping matches its frames
        frames = [e for e in expected if seg.start_lsn <= e[0] < seg.end_lsn]
        assert frames and frames[0][0] == seg.start_lsn
        assert seg.last_term == frames[-1][1]
        assert seg.size == sum(24 + len(p) for _, _, p in frames)
        assert os.path.getsize(store.dir / f"{seg.start_lsn:016X}.seg") >= seg.size
        assert seg.index_lsn[0] == seg.start_lsn and seg.index_off[0] == 0
        assert all(b - a >= INDEX_EVERY for a, b in zip(seg.index_off, seg.index_off[1:], strict=False))
        most = INDEX_EVERY + 24 + 70_000  # an entry at the first frame at or past each INDEX_EVERY
        assert all(b - a < most for a, b in zip(seg.index_off, [*seg.index_off[1:], seg.size], strict=True))
    assert _read_all(store, 1000, lsn) == expected
    for start, _, _ in expected[::5]:  # a read from any record boundary (the sparse index)
        got = store.read_local(start, lsn, 1)
        assert (got[0].lsn, got[0].term, got[0].payload) == next(e for e in expected if e[0] == start)
    cached = store.read_tail(expected[-3][0], lsn, 1 << 30)
    assert cached is not None and [(f.lsn, f.term, f.payload) for f in cached] == expected[-3:]

    # A crash: the files as they are now (no clean close), opened by a new store.
    crashed = tmp_path / "crashed"
    shutil.copytree(store.dir, crashed)
    again = SegmentStore(crashed, seg_bytes, start_lsn=1000)
    again.open(durable_lsn=lsn, terms=tuple(range(1, term + 2)))
    assert again.end_lsn == lsn
    assert _read_all(again, 1000, lsn) == expected
    assert [(s.start_lsn, s.end_lsn, s.size, s.last_term) for s in again.segments] == [
        (s.start_lsn, s.end_lsn, s.size, s.last_term) for s in store.segments]
    # and it appends on where the first one stopped
    p = b"after the crash"
    assert again.append_in_term(lsn, term + 1, [(p, payload_crc(p))]) == lsn + len(p)
    again.run_sync(again.prepare_sync())
    assert _read_all(again, lsn, lsn + len(p)) == [(lsn, term + 1, p)]
    again.close()
    store.close()


def test_tail_cache_holds_the_last_frames_only_and_matches_the_file(tmp_path: Path) -> None:
    store = SegmentStore(tmp_path, 64 << 20)
    store.open()
    lsn = 0
    big = [bytes([i % 251]) * (300 << 10) for i in range(20)]  # 6 MiB: more than the cache
    for p in big:
        lsn = store.append_in_term(lsn, 1, [(p, 0)])
    assert store.read_tail(0, lsn, 1 << 30) is None  # the oldest were dropped
    first_cached = store._tail[0][0]
    assert first_cached > 0
    from_cache = store.read_tail(first_cached, lsn, 1 << 30)
    from_file = store.read_local(first_cached, lsn, 1 << 30)
    assert from_cache is not None and len(from_cache) >= 13
    assert from_cache[: len(from_file)] == from_file
    store.close()


def _group_commit(store: SegmentStore) -> None:
    """What the acceptor's group commit does: the job, then the durable LSN noted."""
    job = store.prepare_sync()
    store.run_sync(job)
    store.synced_lsn = max(store.synced_lsn, job.target_lsn)


def test_a_segment_ends_at_an_append_boundary_and_a_durable_one_is_sealed_without_a_sync(
        tmp_path: Path, monkeypatch: object) -> None:
    """Issue 16 session 13: an append that would cross the segment's end starts the next
    segment; when every append before it was covered by a completed group commit (sync
    writers), sealing the old segment needs no fdatasync, and the group commit after the
    rotation syncs the new file and the directory only (the old file is not synced again).
    An append written but not yet synced still gets the old segment fdatasync'ed before
    the new file is created. Everything reads back, also after a reopen."""
    seg_bytes = 64 << 10
    store = SegmentStore(tmp_path / "segs", seg_bytes)
    store.open()
    rec = b"r" * 8000
    lsn = 0
    for _ in range(7):  # 7 x (8000 + 24) = 56,168 bytes: one more append would cross 64 KiB
        lsn = store.append_in_term(lsn, 1, [(rec, 0)])
        _group_commit(store)
    assert len(store.segments) == 1
    events = record_syncs(monkeypatch)
    lsn = store.append_in_term(lsn, 1, [(rec, 0), (rec, 0)])  # would cross: a new segment
    assert [s.start_lsn for s in store.segments] == [0, 7 * 8000]
    assert store.segments[0].size == 7 * (8000 + 24)  # ended where the last append ended
    assert events == ["create 000000000000DAC0.seg"], events  # no fdatasync of the old one
    _group_commit(store)
    assert events[1:] == ["fdatasync 000000000000DAC0.seg", "fsync segs"], events
    # Not durable yet when the next rotation comes: the old segment is synced first.
    for _ in range(3):
        lsn = store.append_in_term(lsn, 1, [(rec, 0), (rec, 0)])
    events.clear()
    lsn = store.append_in_term(lsn, 1, [(rec, 0)])
    assert events[:2] == ["fdatasync 000000000000DAC0.seg", f"create {store.segments[-1].start_lsn:016X}.seg"], events
    _group_commit(store)
    store.close()
    reopened = SegmentStore(tmp_path / "segs", seg_bytes)
    reopened.open()
    assert reopened.end_lsn == lsn
    assert all(f.payload == rec for f in reopened.read_local(0, lsn, 1 << 30))
    assert len(_read_all(reopened, 0, lsn)) == lsn // 8000
    reopened.close()


def test_a_prewritten_segment_is_cut_and_synced_before_the_next_even_when_durable(
        tmp_path: Path, monkeypatch: object) -> None:
    """A sealed segment must end at its last frame: a renamed spare's zero tail is cut and
    the cut fdatasync'ed before the next file exists, also when its records are durable."""
    seg_bytes = 64 << 10
    store = SegmentStore(tmp_path / "segs", seg_bytes)
    store.open()
    rec = b"p" * 8000
    lsn = 0
    for _ in range(8):  # fills the first segment
        lsn = store.append_in_term(lsn, 1, [(rec, 0)])
        _group_commit(store)
    assert store.make_spare()
    store.spare_ready = True
    for _ in range(7):  # the second segment is the spare
        lsn = store.append_in_term(lsn, 1, [(rec, 0)])
        _group_commit(store)
    second = store.segments[-1]
    assert os.path.getsize(tmp_path / "segs" / f"{second.start_lsn:016X}.seg") == seg_bytes
    events = record_syncs(monkeypatch)
    lsn = store.append_in_term(lsn, 1, [(rec, 0), (rec, 0)])
    assert events[:2] == [f"fdatasync {second.start_lsn:016X}.seg", f"create {lsn - 16000:016X}.seg"], events
    assert os.path.getsize(tmp_path / "segs" / f"{second.start_lsn:016X}.seg") == second.size
    _group_commit(store)
    store.close()
