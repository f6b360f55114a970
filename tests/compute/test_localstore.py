"""LocalStore: visibility by LSN, group commit, recovery, torn tails, checkpoints, crashes."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from compute import localstore, localstore_commit
from compute.localstore import SLOT_SIZE, LocalStore
from compute.localstore_format import FRAME as _FRAME
from compute.vfs import StrataVFS, open_connection
from strata.storage import CommitTicket, StorageError
from strata.wal import PAGE_SIZE, PageImage, WalRecord
from tests.support import dirtied_by_this_thread

REPO = Path(__file__).resolve().parents[2]
FRAME = _FRAME.size


def page(tag: int) -> bytes:
    return tag.to_bytes(8, "little") * (PAGE_SIZE // 8)


def txn(xid: int, pages: dict[tuple[int, int], int], sizes: dict[int, int]) -> list[WalRecord]:
    """One committed transaction; with more than 2 pages, the first chunk is separate."""
    images = [PageImage(db, p, page(tag)) for (db, p), tag in sorted(pages.items())]
    size_t = tuple(sorted(sizes.items()))
    if len(images) > 2:
        return [
            WalRecord(xid, False, 0, (), tuple(images[:2])),
            WalRecord(xid, True, 1, size_t, tuple(images[2:])),
        ]
    return [WalRecord(xid, True, 1, size_t, tuple(images))]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(data: Path) -> Iterator[LocalStore]:
    s = LocalStore(data)
    try:
        yield s
    finally:
        s.close()


def test_pages_are_visible_from_their_commit_lsn(store: LocalStore) -> None:
    assert store.written_lsn == store.durable_lsn == 0
    assert store.get_page(1, 0, 0) is None and store.db_size(1, 0) == 0
    t1 = store.submit(txn(1, {(1, 0): 10, (1, 1): 11, (1, 2): 12}, {1: 3}))
    t2 = store.submit(txn(2, {(1, 1): 21, (2, 0): 20}, {1: 3, 2: 1}))
    assert t1.lsn < t2.lsn == store.written_lsn
    assert t2.durable.result(10) == t2.lsn and t1.durable.result(10) == t1.lsn
    assert store.durable_lsn == t2.lsn
    assert store.get_page(1, 1, t1.lsn - 1) is None, "not visible before its commit LSN"
    assert store.get_page(1, 1, t1.lsn) == page(11)
    assert store.get_page(1, 1, t2.lsn - 1) == page(11)
    assert store.get_page(1, 1, t2.lsn) == page(21)
    assert store.get_page(1, 2, t2.lsn) == page(12)
    assert store.db_size(1, t1.lsn) == 3 and store.db_size(2, t1.lsn) == 0
    assert store.db_size(2, t2.lsn) == 1
    assert store.databases() == [1, 2]
    with pytest.raises(AssertionError):
        store.submit([WalRecord(3, False, 0, (), ())])


def test_group_commit_from_many_threads(store: LocalStore) -> None:
    tickets = []
    lock = threading.Lock()

    def work(k: int) -> None:
        for i in range(50):
            t = store.submit(txn(k * 1000 + i, {(k, i % 4): k * 1000 + i}, {k: 4}))
            with lock:
                tickets.append(t)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(tickets) == 200
    for t in tickets:
        assert t.durable.result(10) == t.lsn
    assert store.durable_lsn == store.written_lsn == max(t.lsn for t in tickets)
    assert len({t.lsn for t in tickets}) == 200
    for k in range(4):
        assert store.get_page(k, 1, store.written_lsn) == page(k * 1000 + 49)


def test_recovery_restores_every_version(data: Path) -> None:
    with LocalStore(data, segment_bytes=64 * 1024) as s:  # many segments
        lsns = []
        for i in range(40):
            t = s.submit(txn(i, {(7, i % 5): i, (7, 5): 1000 + i}, {7: 6}))
            lsns.append(t.lsn)
        s.wait_durable(lsns[-1], 10)
        assert s.stats()["segments"] > 3
        for i, lsn in enumerate(lsns):
            assert s.get_page(7, 5, lsn) == page(1000 + i)
            assert s.get_page(7, i % 5, lsn) == page(i)
    with LocalStore(data) as s:
        assert s.written_lsn == s.durable_lsn == lsns[-1]
        assert s.get_page(7, 5, lsns[-1]) == page(1039)
        for p in range(5):
            assert s.get_page(7, p, lsns[-1]) == page(35 + p)
        with pytest.raises(StorageError):  # no snapshot survives a restart
            s.get_page(7, 5, lsns[-2])
        t = s.submit(txn(99, {(7, 0): 99}, {7: 6}))
        assert t.durable.result(10) > lsns[-1]


def test_transaction_spanning_segments_recovers(data: Path) -> None:
    pages = {(1, p): 100 + p for p in range(200)}  # ~800 KiB in 64 KiB segments
    records = [
        WalRecord(9, False, 0, (), (PageImage(1, p, page(100 + p)),)) for p in range(199)
    ] + [WalRecord(9, True, 5, ((1, 200),), (PageImage(1, 199, page(299)),))]
    with LocalStore(data, segment_bytes=64 * 1024) as s:
        s.submit(txn(1, {(1, 0): 1}, {1: 1})).durable.result(10)
        lsn = s.submit(records).durable.result(10)
        assert s.stats()["segments"] > 10
        live = [s.get_page(1, p, lsn) for p in range(200)]
    assert live == [page(t) for (_, _), t in sorted(pages.items())]
    with LocalStore(data, segment_bytes=64 * 1024) as s:
        assert s.written_lsn == lsn
        assert [s.get_page(1, p, lsn) for p in range(200)] == live
        assert s.db_size(1, lsn) == 200


def _segments(data: Path) -> list[Path]:
    return sorted((data / "wal").glob("*.seg"))


@pytest.mark.parametrize("damage", ["torn", "crc", "garbage"])
def test_torn_tail_is_cut(data: Path, tmp_path: Path, damage: str) -> None:
    """A crash while the last transaction was being written: its frame is torn (never
    acknowledged: the control file's durable mark is still before it) and is cut."""
    with LocalStore(data) as s:
        good = s.submit(txn(1, {(1, 0): 1, (1, 1): 2}, {1: 2})).durable.result(10)
    crash = tmp_path / "crash"
    with LocalStore(data, mark_interval_s=3600) as s:
        bad = s.submit(txn(2, {(1, 0): 3, (1, 1): 4, (1, 2): 5}, {1: 3})).durable.result(10)
        used = s.stats()["tail_offset"]
        # the disk as kill -9 leaves it (mark still at `good`); a spare segment being written in
        # the background (*.tmp) may vanish mid-copy: a crash image without it is as valid
        shutil.copytree(data, crash, ignore=shutil.ignore_patterns("*.tmp"))
    data = crash
    seg = _segments(data)[-1]
    with open(seg, "r+b") as f:
        if damage == "torn":  # the end of the last frame never reached the disk
            f.seek(used - 100)
            f.write(bytes(100))
        elif damage == "crc":
            f.seek(used - 10)
            f.write(b"\xff")
        else:  # junk after the last frame (e.g. a recycled segment)
            f.seek(used)
            f.write(os.urandom(5000))
    with LocalStore(data) as s:
        expect = bad if damage == "garbage" else good
        assert s.written_lsn == expect
        assert s.get_page(1, 0, s.written_lsn) == page(3 if damage == "garbage" else 1)
        if damage != "garbage":
            assert s.db_size(1, s.written_lsn) == 2
            # The second transaction had two records: the surviving first chunk is ignored.
            assert s.get_page(1, 2, s.written_lsn) is None
        with open(seg, "rb") as f:
            f.seek(s.stats()["tail_offset"])
            assert f.read(8192) == bytes(8192), "the tail after the end of the log is zeroed"
        t = s.submit(txn(3, {(1, 0): 30}, {1: 3}))
        t.durable.result(10)
    with LocalStore(data) as s:
        assert s.written_lsn == t.lsn and s.get_page(1, 0, t.lsn) == page(30)


@pytest.mark.parametrize("where", ["payload", "length"])
def test_damage_in_the_middle_of_the_log_refuses_to_open(data: Path, where: str) -> None:
    """Issue 11 item 2: a flipped bit in an early frame used to end the log there, zero every
    later frame and delete later segments (300 acknowledged inserts came back as 98)."""
    with LocalStore(data, segment_bytes=64 * 1024) as s:
        lsns = [s.submit(txn(i, {(1, i % 7): i}, {1: 7})).lsn for i in range(300)]
        s.wait_durable(lsns[-1], 10)
    first = _segments(data)[0]
    before = {p.name: p.read_bytes() for p in _segments(data)}
    assert len(before) > 3
    with open(first, "r+b") as f:
        raw = bytearray(f.read())
        # frame 5 of the first segment: walk the frames by their length fields
        pos = 0
        for _ in range(5):
            pos += FRAME + int.from_bytes(raw[pos + 4 : pos + 8], "little")
        at = pos + (4 if where == "length" else FRAME + 50)
        raw[at] ^= 0x10
        f.seek(0)
        f.write(raw)
    before[first.name] = bytes(raw)
    with pytest.raises(StorageError, match="refuses to open"):
        LocalStore(data, segment_bytes=64 * 1024)
    after = {p.name: p.read_bytes() for p in _segments(data)}
    assert after == before, "a refused recovery changes nothing on disk"


def test_damaged_last_frame_of_a_cleanly_closed_store_refuses(data: Path) -> None:
    """The last acknowledged frame cannot pass for a torn tail: the control file recorded
    that it was durable."""
    with LocalStore(data) as s:
        s.submit(txn(1, {(1, 0): 1}, {1: 1})).durable.result(10)
        s.submit(txn(2, {(1, 0): 2}, {1: 1})).durable.result(10)
        used = s.stats()["tail_offset"]
    seg = _segments(data)[-1]
    with open(seg, "r+b") as f:
        f.seek(used - 10)
        b = f.read(1)
        f.seek(used - 10)
        f.write(bytes([b[0] ^ 1]))
    with pytest.raises(StorageError, match="durable up to LSN"):
        LocalStore(data)


def test_uncommitted_chunks_are_ignored_on_recovery(data: Path, tmp_path: Path) -> None:
    crash_copy = tmp_path / "crash"
    with LocalStore(data) as s:
        first = s.submit(txn(1, {(1, 0): 1}, {1: 1})).durable.result(10)

        def records() -> Iterator[WalRecord]:
            yield WalRecord(2, False, 0, (), (PageImage(1, 0, page(2)),))
            yield WalRecord(2, False, 0, (), (PageImage(1, 1, page(2)),))
            # The first chunk is on disk now (the store writes one record behind).
            # (runs under the store's lock: it must not call back into the store)
            shutil.copytree(data, crash_copy, ignore=shutil.ignore_patterns("*.tmp"))  # as a crash leaves it
            raise RuntimeError("writer died mid-transaction")

        with pytest.raises(RuntimeError):
            s.submit_stream(records())
        assert s.written_lsn == first, "an aborted transaction leaves no trace"
        second = s.submit(txn(3, {(1, 0): 3}, {1: 1})).durable.result(10)
    with LocalStore(crash_copy) as s:
        assert s.written_lsn == first and s.get_page(1, 0, first) == page(1)
    with LocalStore(data) as s:
        assert s.written_lsn == second and s.get_page(1, 0, second) == page(3)


def test_checkpoint_folds_pages_and_trims_the_log(data: Path) -> None:
    with LocalStore(data, segment_bytes=128 * 1024, auto_checkpoint=False) as s:
        lsns = []
        for i in range(200):
            lsns.append(s.submit(txn(i, {(1, i % 10): i, (1, 10): i}, {1: 11})).lsn)
        s.wait_durable(lsns[-1], 10)
        before = s.disk_bytes()
        segs_before = len(_segments(data))
        with s.snapshot(lsns[150]) as pinned:  # an old reader holds C back
            c = s.checkpoint()
            assert c == lsns[150] == pinned
            for i in (150, 160, 199):
                assert s.get_page(1, 10, lsns[i]) == page(i)
                assert s.get_page(1, i % 10, lsns[i]) == page(i)
            with pytest.raises(StorageError):
                s.pin(lsns[100])
            with pytest.raises(StorageError):
                s.get_page(1, 10, lsns[100])
        assert s.checkpoint() == lsns[-1]
        st = s.stats()
        assert st["index_versions"] == 0 and st["checkpoint_lsn"] == lsns[-1]
        # The trimmed segments wait as spares for the log to reuse: the log takes no more disk
        # than before, and the base file grew by the 11 pages folded into it.
        assert len(_segments(data)) < segs_before and s.disk_bytes() <= before + 11 * SLOT_SIZE
        for p in range(10):
            assert s.get_page(1, p, lsns[-1]) == page(190 + p)
        t = s.submit(txn(500, {(1, 3): 500, (1, 11): 501}, {1: 12}))
        t.durable.result(10)
    with LocalStore(data) as s:
        assert s.written_lsn == t.lsn
        assert s.get_page(1, 3, t.lsn) == page(500)
        assert s.get_page(1, 4, t.lsn) == page(194)
        assert s.get_page(1, 11, t.lsn) == page(501)
        assert s.db_size(1, t.lsn) == 12


def test_disk_and_memory_stay_bounded_with_auto_checkpoint(data: Path) -> None:
    """Many rewrites of a small working set through the VFS: the log is trimmed as it goes."""
    with LocalStore(
        data, segment_bytes=256 * 1024, checkpoint_bytes=1024 * 1024, cache_pages=64
    ) as s:
        vfs = StrataVFS(s, s)
        w = open_connection(vfs, 1)
        w.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        w.executemany("INSERT INTO t VALUES(?, zeroblob(500))", ((i,) for i in range(200)))
        peak = 0
        for i in range(1500):
            w.execute("UPDATE t SET v = randomblob(500) WHERE id = ?", (i % 200,))
            ticket = vfs.take_commit_ticket(w)
            assert ticket is not None
            if i % 100 == 99:
                ticket.durable.result(10)
                peak = max(peak, s.disk_bytes())
        ticket.durable.result(10)
        s.checkpoint()
        st = s.stats()
        db_bytes = s.db_size(1, s.written_lsn) * PAGE_SIZE
        total_log = s.written_lsn  # ~ 1500 commits x 2-3 pages
        assert total_log > 10 * 1024 * 1024
        assert peak < 4 * 1024 * 1024 + db_bytes, (peak, total_log)
        assert st["cache_pages"] <= 64 and st["index_versions"] < 1000
        assert s.checkpoint_lsn > 0
        digest = w.execute("SELECT count(*), sum(length(v)) FROM t").fetchall()
        w.close()
        vfs.unregister()
    with LocalStore(data) as s:
        vfs = StrataVFS(s, s)
        r = open_connection(vfs, 1, "reader")
        assert r.execute("SELECT count(*), sum(length(v)) FROM t").fetchall() == digest
        assert r.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        r.close()
        vfs.unregister()


def test_trimmed_segments_are_reused_not_zero_filled_again(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the first checkpoints, the log rolls onto the segments a checkpoint trimmed: no new
    segment is zero-filled and fsynced (16 MiB of writes each, by default), and a commit into
    a reused segment still dirties only its own pages (no large folio, see
    ``test_a_commit_dirties_the_pages_it_writes_not_a_large_folio``)."""
    made: list[Path] = []
    real = localstore.preallocate

    def counting(path: Path, *args: object, **kwargs: object) -> int:
        made.append(path)
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(localstore, "preallocate", counting)
    seg = 256 * 1024
    with LocalStore(data, segment_bytes=seg, checkpoint_bytes=4 * seg) as s:
        xid = 0

        def commits(n: int) -> float:
            """``n`` one-page commits, each waited for; bytes dirtied per commit."""
            nonlocal xid
            before = dirtied_by_this_thread()
            for _ in range(n):
                xid += 1
                ticket = s.submit(txn(xid, {(1, xid % 50): xid}, {1: 50}))
                assert ticket is not None
                ticket.durable.result(10)
            return (dirtied_by_this_thread() - before) / n

        commits(1200)  # ~20 segments: several checkpoints, the spares pool fills
        lsn_before, made_before = s.written_lsn, len(made)
        per_commit = commits(1200)
        rolled = (s.written_lsn - lsn_before) // seg  # segments the log moved on to
        assert rolled >= 10, rolled
        assert len(made) - made_before <= 1, (len(made) - made_before, rolled)
        assert per_commit <= 3 * 4096, f"{per_commit:.0f} bytes dirtied per one-page commit"
        assert s.disk_bytes() < 12 * seg + 50 * SLOT_SIZE  # log + spares: about a checkpoint's worth
        last = xid
    with LocalStore(data) as s:  # recovery ignores the old frames left in reused segments
        assert s.get_page(1, last % 50, s.written_lsn) == page(last)


def test_concurrent_readers_writer_and_checkpoints(data: Path) -> None:
    """Readers at pinned snapshots always see their exact version while checkpoints run."""
    with LocalStore(data, segment_bytes=64 * 1024, checkpoint_bytes=256 * 1024) as s:
        errors: list[str] = []
        stop = threading.Event()
        committed: list[int] = []  # commit lsn of version i

        def writer() -> None:
            for i in range(600):
                t = s.submit(txn(i, {(1, 0): i, (1, 1 + i % 3): i}, {1: 4}))
                committed.append(t.lsn)
                if i % 50 == 0:
                    t.durable.result(10)
            stop.set()

        def reader() -> None:
            while not stop.is_set():
                if not committed:
                    continue
                with s.snapshot() as lsn:
                    k = max((i for i, c in enumerate(committed) if c <= lsn), default=-1)
                    for _ in range(20):
                        got = s.get_page(1, 0, lsn)
                        if k >= 0 and got != page(k):
                            errors.append(f"at {lsn} expected version {k}")
                            return

        def checkpointer() -> None:
            while not stop.is_set():
                try:
                    s.checkpoint()
                except StorageError as exc:  # pragma: no cover
                    errors.append(repr(exc))

        threads = [threading.Thread(target=f) for f in (writer, reader, reader, checkpointer)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert not errors, errors[:3]
        assert s.checkpoint_lsn > 0


CRASH_CHILD = textwrap.dedent(
    """
    import sys
    from compute.localstore import SLOT_SIZE, LocalStore
    from compute.localstore_format import FRAME as _FRAME
    from compute.vfs import StrataVFS, open_connection

    store = LocalStore(sys.argv[1], segment_bytes=256 * 1024, checkpoint_bytes=1024 * 1024)
    vfs = StrataVFS(store, store)
    w = open_connection(vfs, 1)
    w.execute("CREATE TABLE IF NOT EXISTS acked(id INTEGER PRIMARY KEY, pad BLOB)")
    ticket = vfs.take_commit_ticket(w)
    if ticket is not None:
        ticket.durable.result()
    start = w.execute("SELECT coalesce(max(id), 0) FROM acked").fetchall()[0][0] + 1
    print("ready", flush=True)
    i = start
    while True:
        w.execute("INSERT INTO acked VALUES(?, randomblob(1500))", (i,))
        vfs.take_commit_ticket(w).durable.result()
        print(i, flush=True)
        i += 1
    """
)


def _crash_round(data: Path, acks: int) -> list[int]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_CHILD, str(data)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    acked: list[int] = []
    for line in proc.stdout:
        acked.append(int(line))
        if len(acked) >= acks:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    return acked


def _check_acked(data: Path, acked: list[int]) -> None:
    with LocalStore(data) as s:
        vfs = StrataVFS(s, s)
        r = open_connection(vfs, 1, "reader")
        present = {row[0] for row in r.execute("SELECT id FROM acked")}
        missing = [i for i in acked if i not in present]
        assert not missing, f"acknowledged commits lost: {missing[:10]}"
        assert r.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        r.close()
        vfs.unregister()


def test_kill_9_loses_no_acknowledged_commit(data: Path) -> None:
    acked = _crash_round(data, 300)
    assert len(acked) == 300
    _check_acked(data, acked)
    acked += _crash_round(data, 200)  # recovery, then more commits and another crash
    _check_acked(data, acked)
    # (a commit made durable just before the kill but not yet printed may survive too)
    assert acked == sorted(set(acked)) and acked[:300] == list(range(1, 301))


@pytest.mark.slow
def test_kill_9_many_rounds(data: Path) -> None:
    acked: list[int] = []
    for _ in range(10):
        acked += _crash_round(data, 2000)
        _check_acked(data, acked)


def test_reader_connection_fails_cleanly_on_a_trimmed_snapshot(data: Path) -> None:
    with LocalStore(data, auto_checkpoint=False) as s:
        vfs = StrataVFS(s, s)
        w = open_connection(vfs, 1)
        w.execute("CREATE TABLE t(x)")
        t = vfs.take_commit_ticket(w)
        assert t is not None
        old = t.durable.result(10)
        w.execute("INSERT INTO t VALUES(1)")
        t = vfs.take_commit_ticket(w)
        assert t is not None
        t.durable.result(10)
        s.checkpoint()
        r = open_connection(vfs, 1, "reader")
        vfs.set_snapshot_lsn(r, old)
        with pytest.raises(StorageError):  # surfaces through SQLite as the original error
            r.execute("SELECT count(*) FROM t").fetchall()
        vfs.set_snapshot_lsn(r, None)
        assert r.execute("SELECT count(*) FROM t").fetchall() == [(1,)]
        assert s.stats()["pins"] == 0
        r.close()
        w.close()
        vfs.unregister()


def _checkpointed(data: Path) -> int:
    """A store whose pages of db 1 all live in the base file; returns the last commit LSN."""
    with LocalStore(data, auto_checkpoint=False) as s:
        s.submit(txn(1, {(1, 0): 1, (1, 1): 2, (1, 2): 3}, {1: 3}))
        lsn = s.submit(txn(2, {(1, 1): 22}, {1: 3})).durable.result(10)
        assert s.checkpoint() == lsn
    return lsn


def test_base_page_bit_flip_is_an_error_not_wrong_data(data: Path) -> None:
    """Issue 11 item 3: a flipped bit in a checkpointed page file returned wrong data."""
    lsn = _checkpointed(data)
    base = data / "base" / "1.pages"
    raw = bytearray(base.read_bytes())
    raw[SLOT_SIZE * 1 + 100] ^= 0x04  # inside page 1's image
    base.write_bytes(raw)
    with LocalStore(data) as s:
        assert s.get_page(1, 0, lsn) == page(1)
        assert s.get_page(1, 2, lsn) == page(3)
        with pytest.raises(StorageError, match="page 1 fails its checksum"):
            s.get_page(1, 1, lsn)


def test_short_base_file_refuses_to_open(data: Path) -> None:
    """Issue 11 item 3: a truncated page file read its missing pages as never written."""
    _checkpointed(data)
    base = data / "base" / "1.pages"
    os.truncate(base, base.stat().st_size - SLOT_SIZE)
    with pytest.raises(StorageError, match="base page file 1.pages is short"):
        LocalStore(data)


def test_checkpoint_verifies_the_frames_it_copies(data: Path) -> None:
    with LocalStore(data, auto_checkpoint=False) as s:
        lsn = s.submit(txn(1, {(1, 0): 1}, {1: 1})).durable.result(10)
        seg = _segments(data)[0]
        with open(seg, "r+b") as f:  # damage after recovery read it: bit rot at run time
            f.seek(FRAME + 200)
            b = f.read(1)
            f.seek(FRAME + 200)
            f.write(bytes([b[0] ^ 1]))
        with pytest.raises(StorageError, match="fails its checksum while checkpointing"):
            s.checkpoint()
        assert s.checkpoint_lsn == 0 < lsn
        with pytest.raises(StorageError):  # the store refuses writes from now on
            s.submit(txn(2, {(1, 0): 2}, {1: 1}))


def test_format_1_data_directory_is_refused_clearly(data: Path) -> None:
    data.mkdir(parents=True)
    (data / "control.json").write_text(
        '{"version": 1, "checkpoint_lsn": 0, "segment": 0, "offset": 0, "db_sizes": {}}'
    )
    with pytest.raises(StorageError, match="on-disk format 1"):
        LocalStore(data)


def test_a_commit_dirties_the_pages_it_writes_not_a_large_folio(store: LocalStore) -> None:
    """Segments are zero-filled a page per write (``FILL_BYTES``): with large page-cache
    folios (ext4 on recent kernels) one 4 KiB write into a segment zero-filled by 1 MiB
    writes dirtied a 2 MiB folio, and every group commit's fdatasync walked all of it."""
    first = store.submit(txn(1, {(1, 0): 1}, {1: 1}))
    first.durable.result(10)
    before = dirtied_by_this_thread()
    n = 20
    for i in range(n):
        t = store.submit(txn(2 + i, {(1, 0): 2 + i}, {1: 1}))
        t.durable.result(10)
    per_commit = (dirtied_by_this_thread() - before) / n
    # One page image and its frame span at most 3 pages of the segment file.
    assert per_commit <= 3 * 4096, f"{per_commit:.0f} bytes dirtied per one-page commit"


def test_group_commit_through_aio_acknowledges_on_the_loop(data: Path) -> None:
    """`attach_loop`: the flusher thread exits, commits from the loop and from a thread are
    acknowledged by AIO fdatasync groups completed on the loop, and all of them survive a
    reopen."""
    groups: list[int] = []
    real_submit = localstore_commit.AioFlusher._submit

    def counting(self: localstore_commit.AioFlusher, ops: list[tuple[int, int]]) -> None:
        groups.append(len(ops))
        real_submit(self, ops)

    async def main(store: LocalStore) -> list[int]:
        loop = asyncio.get_running_loop()
        assert store.attach_loop(loop)
        tickets = [store.submit(txn(i, {(1, i % 3): i}, {1: 3})) for i in range(40)]

        def from_thread() -> None:
            for i in range(40, 80):
                tickets.append(store.submit(txn(i, {(1, i % 3): i}, {1: 3})))

        await asyncio.to_thread(from_thread)
        return [await asyncio.wrap_future(t.durable) for t in tickets]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(localstore_commit.AioFlusher, "_submit", counting)
        with LocalStore(data) as s:
            lsns = asyncio.run(main(s))
            assert not s._flusher.is_alive(), "the flusher thread should have handed over"
            assert s.durable_lsn == s.written_lsn == max(lsns)
    assert len(lsns) == 80 and 1 <= len(groups) <= 80
    with LocalStore(data) as s:
        assert s.get_page(1, 79 % 3, s.durable_lsn) == page(79)
        assert s.written_lsn == max(lsns)


def test_aio_group_starts_after_the_committing_callback_returns(data: Path) -> None:
    """A commit made on the loop's thread does not ``io_submit`` inside itself (inside the
    writer's hold, where the kernel's fsync worker preempted the loop for ~70 µs): the group
    starts from the loop's next pass, takes the commits made until then, and acknowledges
    them only after its fdatasync."""
    submitted: list[int] = []
    real_submit = localstore_commit.AioFlusher._submit

    def counting(self: localstore_commit.AioFlusher, ops: list[tuple[int, int]]) -> None:
        submitted.append(len(ops))
        real_submit(self, ops)

    async def main(store: LocalStore) -> None:
        assert store.attach_loop(asyncio.get_running_loop())
        await asyncio.sleep(0.01)  # the flusher thread's hand-over kick, if any, is done
        before = len(submitted)
        first = store.submit(txn(1, {(1, 0): 1}, {1: 1}))
        second = store.submit(txn(2, {(1, 1): 2}, {1: 2}))
        assert len(submitted) == before, "io_submit ran inside the committing callback"
        assert not first.durable.done() and not second.durable.done()
        await asyncio.sleep(0)  # the loop's next pass starts the group: both commits in it
        assert len(submitted) == before + 1
        assert await asyncio.wrap_future(first.durable) == first.lsn
        assert await asyncio.wrap_future(second.durable) == second.lsn
        assert len(submitted) == before + 1, "the two commits took two groups"
        assert store.durable_lsn == second.lsn

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(localstore_commit.AioFlusher, "_submit", counting)
        with LocalStore(data) as s:
            asyncio.run(main(s))


def test_aio_fsync_failure_fails_that_commit_and_every_later_one(data: Path) -> None:
    real_reap = localstore_commit.AioFlusher._reap

    def failing(self: localstore_commit.AioFlusher, block: bool) -> None:
        real_reap(self, block)
        self._err = self._err or OSError(errno.EIO, "injected write-back error")

    async def main(store: LocalStore) -> None:
        assert store.attach_loop(asyncio.get_running_loop())
        ok = store.submit(txn(1, {(1, 0): 1}, {1: 1}))
        assert await asyncio.wrap_future(ok.durable) == ok.lsn
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(localstore_commit.AioFlusher, "_reap", failing)
            bad = store.submit(txn(2, {(1, 0): 2}, {1: 1}))
            with pytest.raises(StorageError, match="log fsync failed"):
                await asyncio.wrap_future(bad.durable)
        with pytest.raises(StorageError, match="failed"):
            store.submit(txn(3, {(1, 0): 3}, {1: 1}))
        assert store.durable_lsn == ok.lsn

    with LocalStore(data) as s:
        asyncio.run(main(s))


def test_aio_close_from_another_thread_finishes_the_group_in_flight(data: Path) -> None:
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    store = LocalStore(data)
    try:
        assert asyncio.run_coroutine_threadsafe(_attach(store, loop), loop).result(10)
        tickets = asyncio.run_coroutine_threadsafe(_submit_many(store, 20), loop).result(10)
        store.close()  # this thread, while the loop runs and groups are in flight
        assert [t.durable.result(10) for t in tickets] == [t.lsn for t in tickets]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        loop.close()
    with LocalStore(data) as s:
        assert s.written_lsn == tickets[-1].lsn


async def _attach(store: LocalStore, loop: asyncio.AbstractEventLoop) -> bool:
    return store.attach_loop(loop)


async def _submit_many(store: LocalStore, n: int) -> list[CommitTicket]:
    return [store.submit(txn(i, {(2, i % 4): i}, {2: 4})) for i in range(n)]
