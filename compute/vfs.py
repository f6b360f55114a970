"""The page VFS: SQLite database files served from a PageStore, commits sent to a WalSink.

Each database file is named ``db<ID>`` (the db_id). A connection is a *writer* (at most
one per database holds a write transaction; its snapshot is ``written_lsn`` so it sees its
own commits at once) or a *reader* (opened read-only; snapshot ``durable_lsn`` or an LSN the
session sets). The snapshot is taken and pinned when SQLite takes its SHARED lock and
released at ``xUnlock(NONE)``, so a read transaction sees one LSN from start to end while
the writer commits. Writes are buffered in a per-transaction write set (spilled to a
temporary file past ``spill_bytes``). The commit point is the
``SQLITE_FCNTL_COMMIT_PHASETWO`` file control, which SQLite sends only when a write
transaction commits (``xSync`` is not: SQLite also syncs after playing back a rollback):
the write set becomes WAL records handed to ``WalSink.submit`` and the returned
``CommitTicket`` is kept for the session (``StrataVFS.take_commit_ticket``). Dropping the
lock without that is a rollback: the write set is discarded.

Journal: ``journal_mode=MEMORY``. The write set already makes the database file itself
transactional (nothing reaches the log before the commit, a crash loses only the unsent write
set), so the rollback journal is needed only for ROLLBACK / savepoint / statement rollback
inside a live connection, and memory is the cheapest place for it. See
``docs/compute-storage.md``.
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apsw

from strata.storage import CommitTicket, PageStore, StorageError, WalSink
from strata.wal import (
    MAX_RECORD_BYTES,
    PAGE_SIZE,
    Lsn,
    PageImage,
    WalRecord,
    fits_one_record,
    page_image,
    split_transaction,
)

_PAGE_MASK = PAGE_SIZE - 1
_PAGE_SHIFT = PAGE_SIZE.bit_length() - 1
assert 1 << _PAGE_SHIFT == PAGE_SIZE
_ZERO_PAGE = bytes(PAGE_SIZE)
_NAME = re.compile(r"^db(\d+)(-journal|-wal|-shm)?$")

_LOCK_NONE = apsw.SQLITE_LOCK_NONE
_LOCK_SHARED = apsw.SQLITE_LOCK_SHARED
_LOCK_RESERVED = apsw.SQLITE_LOCK_RESERVED
_FCNTL_COMMIT_PHASETWO = apsw.SQLITE_FCNTL_COMMIT_PHASETWO

DEFAULT_SPILL_BYTES = 64 * 1024 * 1024
DEFAULT_CACHE_KIB = 64 * 1024
RECENT_COMMITS = 16
"""How many of the writer's last commits ``StrataFile.recent`` remembers (size, page 1)."""

_REC_HEADER_BYTES = 28  # strata.wal record header
_REC_PAGE_BYTES = 12  # strata.wal per-page header


def db_file_name(db_id: int) -> str:
    """The SQLite file name of database ``db_id`` inside the VFS."""
    assert db_id >= 0
    return f"db{db_id}"


class _WriteSet:
    """One write transaction's dirty pages, in memory up to ``limit`` bytes, then a temp file.

    ``size`` is the file size in pages as the transaction sees it; ``floor`` the smallest
    size seen, so pages in [floor, size) not in the set are known to be zero (the file was
    truncated below them and grew again).
    """

    __slots__ = ("pages", "size", "floor", "limit", "temp_dir", "fd", "slots", "free")

    def __init__(self, size: int, limit: int, temp_dir: str | None) -> None:
        self.pages: dict[int, bytes] = {}
        self.size = size
        self.floor = size
        self.limit = limit
        self.temp_dir = temp_dir
        self.fd = -1
        self.slots: dict[int, int] = {}  # page_no -> offset in the spill file
        self.free: list[int] = []

    def __len__(self) -> int:
        return len(self.pages) + len(self.slots)

    def get(self, page_no: int) -> bytes | None:
        if self.fd < 0:
            return self.pages.get(page_no)
        off = self.slots.get(page_no)
        if off is None:
            return None
        data = os.pread(self.fd, PAGE_SIZE, off)
        assert len(data) == PAGE_SIZE, "spill file truncated"
        return data

    def put(self, page_no: int, data: bytes) -> None:
        assert len(data) == PAGE_SIZE
        if self.fd < 0:
            self.pages[page_no] = data
            if len(self.pages) * PAGE_SIZE > self.limit:
                self._spill()
            return
        off = self.slots.get(page_no)
        if off is None:
            off = self.free.pop() if self.free else len(self.slots) * PAGE_SIZE
            self.slots[page_no] = off
        n = os.pwrite(self.fd, data, off)
        assert n == PAGE_SIZE

    def _spill(self) -> None:
        """Move the pages to an unlinked temporary file; from now on they live there."""
        fd, path = tempfile.mkstemp(prefix="strata-ws-", dir=self.temp_dir)
        os.unlink(path)
        self.fd = fd
        for i, page_no in enumerate(sorted(self.pages)):
            self.slots[page_no] = i * PAGE_SIZE
        buf = b"".join(self.pages[p] for p in sorted(self.pages))
        view = memoryview(buf)
        pos = 0
        while pos < len(buf):
            pos += os.pwrite(fd, view[pos:], pos)
        self.pages = {}

    @property
    def spilled(self) -> bool:
        return self.fd >= 0

    def truncate(self, n_pages: int) -> None:
        self.size = n_pages
        self.floor = min(self.floor, n_pages)
        if self.fd < 0:
            for p in [p for p in self.pages if p >= n_pages]:
                del self.pages[p]
        else:
            for p in [p for p in self.slots if p >= n_pages]:
                self.free.append(self.slots.pop(p))

    def page_numbers(self) -> list[int]:
        """Pages the commit carries: written ones below size plus zero fill of [floor, size)."""
        keys = self.slots if self.fd >= 0 else self.pages
        pages = {p for p in keys if p < self.size}
        pages.update(range(self.floor, self.size))
        return sorted(pages)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.pages = {}
        self.slots = {}


def iter_records(
    xid: int,
    pages: Iterable[PageImage],
    db_sizes: tuple[tuple[int, int], ...],
    commit_ts_us: int,
    max_bytes: int = MAX_RECORD_BYTES,
) -> Iterator[WalRecord]:
    """``split_transaction`` as a generator: the same chunks, without the whole list in memory."""
    chunk: list[PageImage] = []
    size = _REC_HEADER_BYTES
    for page in pages:
        page_bytes = _REC_PAGE_BYTES + len(page.data)
        if chunk and size + page_bytes > max_bytes:
            yield WalRecord(xid, False, 0, (), tuple(chunk))
            chunk, size = [], _REC_HEADER_BYTES
        chunk.append(page)
        size += page_bytes
    yield WalRecord(xid, True, commit_ts_us, db_sizes, tuple(chunk))


class StrataFile:
    """One connection's handle on a database file (apsw calls these x-methods by name)."""

    def __init__(self, vfs: StrataVFS, db_id: int, writer: bool) -> None:
        self._vfs = vfs
        self.db_id = db_id
        self.writer = writer
        self._get_page = vfs.store.get_page
        self._db_size = vfs.store.db_size
        self._lock = _LOCK_NONE
        self._snap: Lsn | None = None  # pinned snapshot while SHARED or above
        self._snap_size = 0  # db size in pages at the snapshot
        self._size = 0  # current file size in pages (snapshot size or write set size)
        self._ws: _WriteSet | None = None
        self.snapshot_override: Lsn | None = None
        """Readers: the LSN the next read transaction uses instead of durable_lsn."""
        self.ticket: CommitTicket | None = None
        """The last commit's ticket, until the session takes it."""
        self.recent: dict[Lsn, tuple[int, bytes]] = {}
        """The writer's last ``RECENT_COMMITS`` commits by commit LSN: (the database's size in
        pages, page 1's image) — the store's answers at exactly that LSN (the newest image at
        or before it is the commit's own, the size is its record's). The writer's next SHARED
        lock usually pins its own last commit, and SQLite then reads the change counter and
        page 1: served from here instead of two store lookups (and the catalog's schema
        cookie at a durable LSN, ``Database.durable_schema_version``). Any other LSN asks
        the store."""
        self.commits = 0
        self.closed = False

    # -- snapshots

    def _source_lsn(self) -> Lsn:
        vfs = self._vfs
        if self.writer:
            assert vfs.sink is not None, "a writer needs a WalSink"
            return vfs.sink.written_lsn
        if self.snapshot_override is not None:
            return self.snapshot_override
        return vfs.reader_lsn()

    @property
    def snapshot_lsn(self) -> Lsn | None:
        """The LSN the open transaction reads at (None outside a transaction)."""
        return self._snap

    def snapshot_is_current(self) -> bool:
        """``StrataVFS.snapshot_is_current`` of this file's connection: a reader's open read
        transaction is pinned at exactly the LSN ``xLock`` would pin now (the snapshot
        override, else ``reader_lsn()``, read at each call: a promotion replaces it). False
        outside a transaction, and for the writer."""
        if self.writer:
            return False
        snap = self._snap
        if snap is None:
            return False
        override = self.snapshot_override
        return snap == (override if override is not None else self._vfs.reader_lsn())

    # -- apsw VFSFile methods

    def xRead(self, amount: int, offset: int) -> bytes:
        if amount == PAGE_SIZE and not offset & _PAGE_MASK:
            page_no = offset >> _PAGE_SHIFT
            ws = self._ws
            if ws is not None:
                data = ws.get(page_no)
                if data is not None:
                    return data
                if page_no >= ws.floor:
                    return _ZERO_PAGE if page_no < ws.size else b""
            snap = self._snap
            if snap is None:  # SQLite peeks at the header before locking
                return self._unlocked_read(page_no)
            if page_no >= self._size:
                return b""
            if page_no == 0:
                own = self.recent.get(snap)
                if own is not None:
                    return own[1]
            data = self._get_page(self.db_id, page_no, snap)
            return _ZERO_PAGE if data is None else data
        if offset + amount <= PAGE_SIZE:  # the header / change counter: a slice of page 1
            return self.xRead(PAGE_SIZE, 0)[offset : offset + amount]
        return self._read_range(amount, offset)

    def _unlocked_read(self, page_no: int) -> bytes:
        """A read outside any transaction (SQLite reads the header at open): pin briefly."""
        vfs = self._vfs
        lsn = vfs.pin(self._source_lsn(), False)
        try:
            if page_no >= self._db_size(self.db_id, lsn):
                return b""
            data = self._get_page(self.db_id, page_no, lsn)
            return _ZERO_PAGE if data is None else data
        finally:
            vfs.unpin(lsn)

    def _read_page(self, page_no: int) -> bytes:
        data = self.xRead(PAGE_SIZE, page_no << _PAGE_SHIFT)
        return data if len(data) == PAGE_SIZE else _ZERO_PAGE

    def _read_range(self, amount: int, offset: int) -> bytes:
        """A read not aligned to one page (the header, the change counter)."""
        out = bytearray()
        end = offset + amount
        size_bytes = self.xFileSize()
        end = min(end, size_bytes)
        pos = offset
        while pos < end:
            page_no = pos >> _PAGE_SHIFT
            start = pos & _PAGE_MASK
            take = min(PAGE_SIZE - start, end - pos)
            out += self._read_page(page_no)[start : start + take]
            pos += take
        return bytes(out)

    def xWrite(self, data: Any, offset: int) -> None:
        assert self.writer, "a reader connection never writes"
        assert self._lock > _LOCK_SHARED, "SQLite writes only under an exclusive lock"
        ws = self._ws
        if ws is None:
            ws = self._ws = _WriteSet(self._size, self._vfs.spill_bytes, self._vfs.temp_dir)
        n = len(data)
        if n == PAGE_SIZE and not offset & _PAGE_MASK:
            page_no = offset >> _PAGE_SHIFT
            ws.put(page_no, bytes(data))
            if page_no >= ws.size:
                ws.size = page_no + 1
                self._size = page_no + 1
            return
        # Sub-page or unaligned write: read-modify-write each page it touches.
        view = memoryview(data)
        pos = offset
        end = offset + n
        while pos < end:
            page_no = pos >> _PAGE_SHIFT
            start = pos & _PAGE_MASK
            take = min(PAGE_SIZE - start, end - pos)
            page = bytearray(self._read_page(page_no))
            page[start : start + take] = view[pos - offset : pos - offset + take]
            ws.put(page_no, bytes(page))
            if page_no >= ws.size:
                ws.size = page_no + 1
                self._size = page_no + 1
            pos += take

    def xTruncate(self, newsize: int) -> None:
        assert self.writer and self._lock > _LOCK_SHARED
        assert newsize % PAGE_SIZE == 0, "SQLite truncates at page boundaries"
        ws = self._ws
        if ws is None:
            ws = self._ws = _WriteSet(self._size, self._vfs.spill_bytes, self._vfs.temp_dir)
        ws.truncate(newsize // PAGE_SIZE)
        self._size = ws.size

    def xFileSize(self) -> int:
        if self._snap is None:
            return self._db_size(self.db_id, self._source_lsn()) * PAGE_SIZE
        return self._size * PAGE_SIZE

    def xSync(self, flags: int) -> None:
        """Not the commit point: SQLite also syncs after playing back a rollback."""

    def xFileControl(self, op: int, ptr: int) -> bool:
        if op == _FCNTL_COMMIT_PHASETWO:
            # Sent by pager_end_transaction only when a write transaction commits, before
            # the lock drops; a rollback never sends it.
            ws = self._ws
            if ws is not None and (len(ws) or ws.size != self._snap_size):
                self._commit(ws)
            return True
        return False

    def _commit(self, ws: _WriteSet) -> None:
        """The write set becomes one transaction in the log; the ticket waits for the session."""
        vfs = self._vfs
        sink = vfs.sink
        assert sink is not None and self.writer and self._snap is not None
        db_id = self.db_id
        xid = next(vfs.xids)
        ts = time.time_ns() // 1000
        sizes = ((db_id, ws.size),)
        if ws.spilled:
            numbers = ws.page_numbers()
            get = ws.get

            def images() -> Iterator[PageImage]:
                for p in numbers:
                    data = get(p)
                    yield PageImage(db_id, p, _ZERO_PAGE if data is None else data)

            if vfs.submit_stream is not None:
                ticket = vfs.submit_stream(
                    iter_records(xid, images(), sizes, ts, vfs.max_record_bytes)
                )
            else:
                records = split_transaction(xid, list(images()), sizes, ts, vfs.max_record_bytes)
                ticket = sink.submit(records)
        else:  # the common case: a few pages in memory
            pages = ws.pages
            if ws.floor < ws.size:
                for p in range(ws.floor, ws.size):
                    if p not in pages:
                        pages[p] = _ZERO_PAGE
            size = ws.size
            images_list = [page_image(db_id, p, pages[p]) for p in sorted(pages) if p < size]
            if fits_one_record(len(images_list), vfs.max_record_bytes):
                records = [WalRecord(xid, True, ts, sizes, tuple(images_list))]
            else:
                records = split_transaction(xid, images_list, sizes, ts, vfs.max_record_bytes)
            ticket = sink.submit(records)
            page_one = pages.get(0) if size > 0 else None
            if page_one is not None:  # (SQLite rewrites page 1 at every commit: its counter)
                recent = self.recent
                recent[ticket.lsn] = (size, page_one)
                if len(recent) > RECENT_COMMITS:
                    del recent[next(iter(recent))]
        # Kept until here so that a failed submit leaves the write set for SQLite's rollback.
        assert ticket.lsn >= self._snap, "the log went backwards"
        ws.close()
        self._ws = None
        self.ticket = ticket
        self.commits += 1
        # The writer's snapshot moves to its own commit (reads after commit see it).
        old = self._snap
        if ticket.lsn != old:
            # Not exact: a later LSN shows this database the same (we are its only writer).
            self._snap = vfs.pin(ticket.lsn, False)
            vfs.unpin(old)
        self._snap_size = self._size = sizes[0][1]

    def xLock(self, level: int) -> None:
        if self._lock == _LOCK_NONE:
            assert level == _LOCK_SHARED
            vfs = self._vfs
            own = None
            if self.writer:
                assert vfs.sink is not None
                lsn = vfs.pin(vfs.sink.written_lsn, False)
                own = self.recent.get(lsn)
            elif self.snapshot_override is not None:
                lsn = vfs.pin(self.snapshot_override, True)
            else:
                lsn = vfs.pin(vfs.reader_lsn(), False)
            self._snap = lsn
            self._snap_size = self._size = (own[0] if own is not None
                                             else self._db_size(self.db_id, lsn))
        elif level >= _LOCK_RESERVED and self._lock < _LOCK_RESERVED:
            if not self.writer:
                raise apsw.ReadOnlyError("reader connections never write")
            self._vfs.acquire_writer(self)
        self._lock = level

    def xUnlock(self, level: int) -> None:
        if level <= _LOCK_SHARED and self._lock >= _LOCK_RESERVED:
            if self._ws is not None:  # dropped without xSync: rolled back
                self._ws.close()
                self._ws = None
                self._size = self._snap_size
            self._vfs.release_writer(self)
        if level == _LOCK_NONE and self._snap is not None:
            self._vfs.unpin(self._snap)
            self._snap = None
        self._lock = level

    def xCheckReservedLock(self) -> bool:
        return False  # our journal never lives in a file, so there is never a hot journal

    def xSectorSize(self) -> int:
        return PAGE_SIZE

    def xDeviceCharacteristics(self) -> int:
        return _IOCAP

    def xClose(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._ws is not None:
            self._ws.close()
            self._ws = None
        if self._lock >= _LOCK_RESERVED:
            self._vfs.release_writer(self)
        if self._snap is not None:
            self._vfs.unpin(self._snap)
            self._snap = None
        self._lock = _LOCK_NONE


_IOCAP = (
    apsw.SQLITE_IOCAP_POWERSAFE_OVERWRITE
    | apsw.SQLITE_IOCAP_SAFE_APPEND
    | apsw.SQLITE_IOCAP_SEQUENTIAL
    | apsw.SQLITE_IOCAP_SUBPAGE_READ
)


class StrataVFS(apsw.VFS):
    """An apsw VFS serving ``db<ID>`` files from ``store`` and committing to ``sink``.

    ``sink`` may be None for a read-only compute (a replica); ``reader_lsn`` then says which
    LSN new reader snapshots use (default: ``sink.durable_lsn``).
    """

    def __init__(
        self,
        store: PageStore,
        sink: WalSink | None,
        *,
        name: str | None = None,
        spill_bytes: int = DEFAULT_SPILL_BYTES,
        temp_dir: str | None = None,
        max_record_bytes: int = MAX_RECORD_BYTES,
        reader_lsn: Callable[[], Lsn] | None = None,
        cache_kib: int = DEFAULT_CACHE_KIB,
    ) -> None:
        assert spill_bytes >= PAGE_SIZE and max_record_bytes >= 4 * PAGE_SIZE
        self.vfs_name = name or f"strata-{uuid.uuid4().hex[:12]}"
        super().__init__(self.vfs_name, "")
        self.store = store
        self.sink = sink
        self.spill_bytes = spill_bytes
        self.temp_dir = temp_dir
        self.max_record_bytes = max_record_bytes
        self.cache_kib = cache_kib
        if reader_lsn is None:
            if sink is None:
                raise ValueError("a VFS without a sink needs reader_lsn")
            reader_lsn = lambda: sink.durable_lsn  # noqa: E731
        self.reader_lsn: Callable[[], Lsn] = reader_lsn
        self.submit_stream: Callable[[Iterable[WalRecord]], CommitTicket] | None = getattr(
            sink, "submit_stream", None
        )
        self.pin: Callable[[Lsn, bool], Lsn] = store.pin
        self.unpin: Callable[[Lsn], None] = store.unpin
        self.xids = itertools.count(time.time_ns() // 1000)
        self._mutex = threading.Lock()
        self._writers: dict[int, StrataFile] = {}
        self._access: dict[str, bool] = {}
        self._opening: dict[str, StrataFile] = {}
        self._tokens = itertools.count(1)
        self._files: weakref.WeakKeyDictionary[apsw.Connection, StrataFile] = (
            weakref.WeakKeyDictionary()
        )

    # -- apsw VFS methods

    def xOpen(self, name: str | apsw.URIFilename | None, flags: list[int]) -> Any:
        if name is None or not flags[0] & apsw.SQLITE_OPEN_MAIN_DB:
            # Temp databases, statement journals, ...: ordinary temporary files.
            return apsw.VFSFile("", name, flags)  # type: ignore[arg-type]
        fname = name.filename() if isinstance(name, apsw.URIFilename) else name
        m = _NAME.match(fname)
        if m is None or m.group(2):
            raise apsw.CantOpenError(f"not a Strata database file name: {fname!r}")
        readonly = bool(flags[0] & apsw.SQLITE_OPEN_READONLY)
        role = None
        token = None
        if isinstance(name, apsw.URIFilename):
            role = name.uri_parameter("strata_role")
            token = name.uri_parameter("strata_token")
        writer = (role or ("reader" if readonly else "writer")) == "writer"
        if writer and self.sink is None:
            raise apsw.ReadOnlyError("this compute has no WAL sink (read-only)")
        if writer and readonly:
            raise apsw.CantOpenError("a writer connection must be opened read-write")
        f = StrataFile(self, int(m.group(1)), writer)
        if token is not None:
            with self._mutex:
                self._opening[token] = f
        if readonly or not writer:
            flags[1] = flags[1] | apsw.SQLITE_OPEN_READONLY
        return f

    def xAccess(self, pathname: str, flags: int) -> bool:
        known = self._access.get(pathname)  # asked twice per transaction: keep it cheap
        if known is not None:
            return known
        m = _NAME.match(pathname)
        if m is None:
            return bool(super().xAccess(pathname, flags))
        answer = m.group(2) is None  # no journal or WAL file ever exists
        if len(self._access) < 4096:
            self._access[pathname] = answer
        return answer

    def xFullPathname(self, name: str) -> str:
        if _NAME.match(name):
            return name
        return str(super().xFullPathname(name))

    def xDelete(self, filename: str, syncdir: bool) -> None:
        if _NAME.match(filename):
            return
        super().xDelete(filename, syncdir)

    # -- writer bookkeeping

    def acquire_writer(self, f: StrataFile) -> None:
        with self._mutex:
            holder = self._writers.get(f.db_id)
            if holder is not None and holder is not f:
                raise apsw.BusyError(f"database {f.db_id} already has a writer")
            self._writers[f.db_id] = f

    def release_writer(self, f: StrataFile) -> None:
        with self._mutex:
            if self._writers.get(f.db_id) is f:
                del self._writers[f.db_id]

    # -- session API

    def connect(self, db_id: int, role: str) -> apsw.Connection:
        """``open_connection(self, db_id, role)`` (the engine's ConnectionFactory protocol)."""
        return open_connection(self, db_id, role, cache_kib=self.cache_kib)

    def latest_lsn(self) -> Lsn:
        """The newest commit LSN a writer would see (written, maybe not yet durable)."""
        return self.sink.written_lsn if self.sink is not None else self.reader_lsn()

    def open_raw(self, db_id: int, role: str, flags: int) -> tuple[apsw.Connection, StrataFile]:
        """Open an apsw connection on ``db<db_id>`` (no pragmas) with its file handle."""
        assert role in ("writer", "reader")
        token = str(next(self._tokens))
        uri = f"file:{db_file_name(db_id)}?strata_role={role}&strata_token={token}"
        conn = apsw.Connection(uri, flags=flags | apsw.SQLITE_OPEN_URI, vfs=self.vfs_name)
        with self._mutex:
            f = self._opening.pop(token)
        self._files[conn] = f
        return conn, f

    def file_of(self, conn: apsw.Connection) -> StrataFile:
        """The StrataFile behind a connection opened by ``open_connection``."""
        return self._files[conn]

    def own_commit(self, conn: apsw.Connection, lsn: Lsn) -> tuple[int, bytes] | None:
        """(size in pages, page 1) of ``conn``'s own commit at exactly ``lsn`` if it is one of
        its recent ones (``StrataFile.recent``); None: ask the store."""
        f = self._files.get(conn)
        return None if f is None else f.recent.get(lsn)

    def take_commit_ticket(self, conn: apsw.Connection) -> CommitTicket | None:
        """The ticket of the connection's last commit (None if it committed nothing since).

        Only the newest is kept: the log is ordered, so it being durable implies the older
        ones are too.
        """
        f = self._files[conn]
        ticket, f.ticket = f.ticket, None
        return ticket

    def set_snapshot_lsn(self, conn: apsw.Connection, lsn: Lsn | None) -> None:
        """Make the reader's next read transactions use ``lsn`` (None: back to durable_lsn).

        Takes effect at the next SHARED lock (a transaction already open keeps its snapshot).
        """
        f = self._files[conn]
        if f.writer:
            raise ValueError("the writer always reads at written_lsn")
        f.snapshot_override = lsn

    def snapshot_lsn(self, conn: apsw.Connection) -> Lsn | None:
        """The LSN the connection's open transaction reads at (None when none is open)."""
        return self._files[conn].snapshot_lsn

    def snapshot_is_current(self, conn: apsw.Connection) -> bool:
        """Whether the reader's open read transaction is pinned at exactly the LSN that a read
        transaction begun now would pin (``StrataFile.xLock``'s choice: the snapshot
        override, else ``reader_lsn()``). Then no commit became visible since it began, and a
        statement run in it reads what a fresh transaction would read (compute/engine.py's
        held readers, ``READER_HOLD_MS``). False outside a transaction, and for the writer."""
        f = self._files.get(conn)
        return f is not None and f.snapshot_is_current()

    def snapshot_check(self, conn: apsw.Connection) -> Callable[[], bool] | None:
        """``snapshot_is_current`` of ``conn`` as a call without arguments (its file's own
        check: no lookup of the file per call); None for a connection not of this VFS."""
        f = self._files.get(conn)
        return None if f is None else f.snapshot_is_current

    def close(self) -> None:
        """Unregister the VFS (all its connections must be closed)."""
        self.unregister()


def open_connection(
    vfs: StrataVFS,
    db_id: int,
    role: str = "writer",
    *,
    cache_kib: int | None = None,
) -> apsw.Connection:
    """Open ``db<db_id>`` as the writer or a reader and apply Strata's pragmas.

    page_size 4096 (the WAL page unit), journal_mode=MEMORY (rollback journal only for
    in-connection rollback: the log never sees uncommitted pages), synchronous=OFF
    (durability is the log's job; the commit point is COMMIT_PHASETWO, sent regardless),
    locking_mode=NORMAL (the writer must bump the change counter on every commit so readers
    drop stale caches, and must unlock so rollbacks are seen).
    """
    if role == "writer":
        flags = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    elif role == "reader":
        flags = apsw.SQLITE_OPEN_READONLY
    else:
        raise ValueError(f"unknown role {role!r}")
    conn, _ = vfs.open_raw(db_id, role, flags)
    try:
        if role == "writer":
            conn.execute("PRAGMA page_size=4096")
        mode = conn.execute("PRAGMA journal_mode=MEMORY").fetchall()
        if mode != [("memory",)]:
            raise StorageError(f"could not set journal_mode=MEMORY (got {mode})")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA locking_mode=NORMAL")
        kib = vfs.cache_kib if cache_kib is None else cache_kib
        conn.execute(f"PRAGMA cache_size=-{int(kib)}")
        page_size = conn.execute("PRAGMA page_size").fetchall()[0][0]
        if page_size != PAGE_SIZE:
            raise StorageError(f"database {db_id} has page size {page_size}, want {PAGE_SIZE}")
    except BaseException:
        conn.close()
        raise
    return conn


class VfsConnections:
    """The ``ConnectionFactory`` methods that only delegate to a ``StrataVFS``; the
    standalone and the remote factories share them and add their storage's node methods."""

    vfs: StrataVFS

    def connect(self, db_id: int, role: str) -> apsw.Connection:
        return self.vfs.connect(db_id, role)

    def take_commit_ticket(self, conn: apsw.Connection) -> CommitTicket | None:
        return self.vfs.take_commit_ticket(conn)

    def snapshot_lsn(self, conn: apsw.Connection) -> Lsn | None:
        return self.vfs.snapshot_lsn(conn)

    def snapshot_is_current(self, conn: apsw.Connection) -> bool:
        return self.vfs.snapshot_is_current(conn)

    def snapshot_check(self, conn: apsw.Connection) -> Callable[[], bool] | None:
        return self.vfs.snapshot_check(conn)

    def latest_lsn(self) -> Lsn:
        return self.vfs.latest_lsn()
