"""A pre-written segment is written a 4 KiB page per write, so that an append into it dirties
only the pages it covers (with large page-cache folios, a spare zero-filled by 1 MiB writes
made every small append + fdatasync dirty and walk a whole folio)."""

from __future__ import annotations

import os
from pathlib import Path

from logstore.segments import SPARE, SegmentStore
from tests.support import dirtied_by_this_thread


def test_an_append_into_a_spare_dirties_only_its_pages(tmp_path: Path) -> None:
    store = SegmentStore(tmp_path, 4 << 20)
    assert store.make_spare()
    fd = os.open(tmp_path / SPARE, os.O_WRONLY)
    try:
        before = dirtied_by_this_thread()
        n = 16
        for i in range(n):  # 8 KiB records at unaligned offsets, as frames land
            os.pwrite(fd, b"r" * 8192, 100_003 * i + 37)
            os.fdatasync(fd)
        per_append = (dirtied_by_this_thread() - before) / n
    finally:
        os.close(fd)
    assert per_append <= 3 * 4096, f"{per_append:.0f} bytes dirtied per 8 KiB append"
