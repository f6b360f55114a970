"""A full disk under one acceptor (issue 11 must-show), on a small real tmpfs.

The acceptor whose disk is full acknowledges nothing it could not make durable: like
PostgreSQL on a failed WAL write it stops at once with a clear message (its in-memory view
of the segment can no longer be trusted), the other two carry the quorum, and once space
returns and it is restarted (the control plane restarts it with backoff) it catches up, so
that its own copy holds every acknowledged record.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MakeCluster
from logstore_helpers import LOG, payload_for, read_log, wait_flush

from logstore import Proposer

DISK_MIB = 4  # the full acceptor's tmpfs
SEGMENT_BYTES = 256 * 1024  # small segments so rotation happens on the small disk
RECORD_BYTES = 4096


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MIB}m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is impossible here: {done.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(mnt: Path, leave: int) -> Path:
    st = os.statvfs(mnt)
    filler = mnt / "filler"
    with open(filler, "wb") as f:
        f.write(bytes(max(0, st.f_bavail * st.f_frsize - leave)))
    return filler


def test_acceptor_with_full_disk_refuses_then_catches_up(make_cluster: MakeCluster, tmpfs: Path) -> None:
    cluster = make_cluster(extra=["--segment-size", str(SEGMENT_BYTES), "--insecure"], start=False)
    full = cluster.nodes[2]
    full.data_dir = tmpfs / "acceptor"
    cluster.start()

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=10)
        await p.elect()
        acked: list[tuple[int, bytes]] = []

        async def write(n: int, start: int) -> None:
            for i in range(start, start + n):
                payload = payload_for(i, RECORD_BYTES)
                end, fut = p.submit([payload])
                await p.wait_commit(end, fut)
                acked.append((end - len(payload), payload))

        await write(20, 0)
        filler = _fill(tmpfs, leave=64 * 1024)
        await write(400, 20)  # ~1.6 MiB: far past what is left on the small disk
        assert full.proc is not None
        assert full.proc.wait(10) != 0
        assert "No space left on device" in full.log_tail(200_000)
        filler.unlink()  # space returns
        full.start()  # what the control plane's restart does
        await write(20, 420)
        await wait_flush([full.addr], acked[-1][0] + RECORD_BYTES, timeout=60)
        await p.close()
        records = await read_log(full.addr)
        by_lsn = {lsn: payload for lsn, _term, payload in records}
        missing = [lsn for lsn, payload in acked if by_lsn.get(lsn) != payload]
        assert not missing, f"{len(missing)} acknowledged records missing or wrong on the recovered acceptor"
        leftovers = [p.name for p in tmpfs.rglob("*") if p.name.endswith(".tmp")]
        assert not leftovers, leftovers

    asyncio.run(main())
