"""A full disk under the standalone store (issue 11 item 4), on a small real tmpfs.

Out of space must be an error for the transaction that hit it (SQLSTATE 53100 from the
store), never a hang; the store keeps serving and commits again once space returns, with no
temporary files left behind.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from compute.localstore import DiskFullError, LocalStore
from strata.wal import PAGE_SIZE, PageImage, WalRecord
from tests.support import StrataProcess


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """Mounts a tmpfs of the given size in MiB; unmounted at the end of the test."""
    mounted: list[Path] = []

    def mount(size_mib: int) -> Path:
        mnt = tmp_path / f"disk{len(mounted)}"
        mnt.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(mnt)],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"mounting a tmpfs is impossible here: {done.stderr.strip()}")
        mounted.append(mnt)
        return mnt

    yield mount
    for mnt in mounted:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(mnt: Path, leave: int) -> Path:
    """A filler file that leaves about ``leave`` bytes free."""
    st = os.statvfs(mnt)
    free = st.f_bavail * st.f_frsize
    filler = mnt / "filler"
    with open(filler, "wb") as f:
        f.write(bytes(max(0, free - leave)))
    return filler


def _txn(xid: int, tag: int) -> list[WalRecord]:
    data = tag.to_bytes(8, "little") * (PAGE_SIZE // 8)
    return [WalRecord(xid, True, xid, ((1, 4),), tuple(PageImage(1, p, data) for p in range(4)))]


def _litter(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.name.endswith(".tmp"))


def test_store_reports_a_full_disk_and_recovers_when_space_returns(
    small_disk: Callable[[int], Path],
) -> None:
    disk = small_disk(2)
    data = disk / "store"
    seg = 64 * 1024
    with LocalStore(data, segment_bytes=seg, max_spares=1) as s:
        deadline = time.monotonic() + 10
        while s.stats()["spares"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        filler = _fill(disk, leave=16 * 1024)  # less than one segment
        acked = []
        full: DiskFullError | None = None
        for xid in range(1, 200):
            try:
                acked.append(s.submit(_txn(xid, xid)).durable.result(10))
            except DiskFullError as exc:
                full = exc
                break
        assert full is not None, "the disk never filled up"
        assert full.sqlstate == "53100"
        assert acked, "commits succeed until the log needs a new segment"
        time.sleep(1.2)  # the maintenance thread retries its spare and fails meanwhile
        assert _litter(data) == [], "no temporary files left behind"
        assert not any(p.stat().st_size == 0 for p in (data / "wal").iterdir())
        with pytest.raises(DiskFullError):  # still full: still an error, not a hang
            s.submit(_txn(500, 500)).durable.result(10)
        filler.unlink()  # space returns: no restart needed
        for xid in range(600, 620):
            acked.append(s.submit(_txn(xid, xid)).durable.result(10))
        last = acked[-1]
        assert s.get_page(1, 0, last) == (619).to_bytes(8, "little") * (PAGE_SIZE // 8)
    with LocalStore(data, segment_bytes=seg) as s:
        assert s.written_lsn == last
        assert s.get_page(1, 3, last) == (619).to_bytes(8, "little") * (PAGE_SIZE // 8)
    assert _litter(data) == []


def test_commit_on_a_full_disk_is_an_error_to_the_client(
    small_disk: Callable[[int], Path],
) -> None:
    """End to end: a COMMIT that hits ENOSPC used to hang the client forever."""
    disk = small_disk(40)
    proc = StrataProcess(disk / "data").start()
    try:
        conn = psycopg.connect(proc.dsn, autocommit=True, connect_timeout=10)
        conn.execute("CREATE TABLE t (id int, v text)")
        outcome: list[BaseException | str] = []

        def load() -> None:
            try:
                for _ in range(200):
                    conn.execute("INSERT INTO t SELECT g, repeat('x', 1000) "
                                 "FROM generate_series(1, 5000) g")
                outcome.append("never full")
            except psycopg.Error as exc:
                outcome.append(exc)

        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        worker.join(60)
        assert not worker.is_alive(), "the client hangs on a full disk"
        err = outcome[0]
        assert isinstance(err, psycopg.Error), err
        print(f"\nfull disk reached the client as SQLSTATE {err.sqlstate}: {err}")
        assert err.sqlstate == "53100" and "No space left" in str(err)
        (count_before,) = conn.execute("SELECT count(*) FROM t").fetchone() or (0,)
        # space returns (the operator grows the volume): commits work without a restart
        subprocess.run(["mount", "-o", "remount,size=80m", str(disk)], check=True)
        conn.execute("INSERT INTO t VALUES (-1, 'after')")
        (count_after,) = conn.execute("SELECT count(*) FROM t").fetchone() or (0,)
        assert count_after == count_before + 1
        conn.close()
        assert _litter(disk / "data") == [], "no temporary files left behind"
    finally:
        proc.stop()
