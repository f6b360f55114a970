"""Page-cache folios of preallocated log files: keep them 4 KiB.

Linux sizes a page-cache folio by the write (or readahead) that creates it, up to 2 MiB on
ext4 with large folios, and a later small write dirties the whole folio: every fdatasync of
a 4 KiB commit into a file zero-filled by 1 MiB writes walked a 1-2 MiB folio (measured on
this project's VM: +20 µs wall and +20-30 µs of system CPU per 4 KiB overwrite + fdatasync,
and the kernel counted 2 MiB of write-back for it; the device wrote 4 KiB either way).
Writing the zeros a page per ``pwrite`` gives small folios too, but 4,096 system calls per
16 MiB segment, each taking the GIL back from the serving loop, cost more than the folios
did. So: zero-fill with big writes, fdatasync, drop the file's cache, read it back with
readahead off (which brings pages in one by one). Used by the compute's local store and the
log store for the segments they pre-write (docs/compute-storage.md)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

READ_CHUNK_BYTES = 1 << 20
"""Bytes per ``pread`` of the re-read (readahead is off: each page comes in as its own folio)."""


def open_random(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open`` with readahead off (POSIX_FADV_RANDOM): for files read a page at a time,
    where readahead would also make large folios that later writes land in."""
    fd = os.open(path, flags, mode)
    with contextlib.suppress(OSError, AttributeError):  # advice only (not on every platform)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    return fd


def small_folios(fd: int, size: int) -> None:
    """Make the cached pages of the first ``size`` bytes of an fdatasync'ed file 4 KiB
    folios: drop them, then read them back. ``fd`` must be readable and opened with
    ``open_random`` (else readahead would make large folios again)."""
    with contextlib.suppress(OSError, AttributeError):  # advice only (not on every platform)
        os.posix_fadvise(fd, 0, size, os.POSIX_FADV_DONTNEED)
    pos = 0
    while pos < size:
        n = len(os.pread(fd, min(READ_CHUNK_BYTES, size - pos), pos))
        if n <= 0:
            return
        pos += n
