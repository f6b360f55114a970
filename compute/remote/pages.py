"""The compute's PageStore over the page server: a recent-versions overlay and a base cache.

Two layers sit in front of the page server, both relative to a *floor* LSN ``F`` that is
never above what the page server has ingested:

- the overlay: every page version committed above ``F`` (per (db, page) a list of
  (lsn, bytes), plus db-size history). The primary fills it at submit (its own commits are
  readable at once, never waiting on page server ingest); a replica from the log stream.
- the base cache: a bounded LRU of page images valid as of ``F``.

Reading page p at snapshot X >= F: the newest overlay version <= X if any, else the page did
not change in (F, X], so its value is the page at F (base cache, else GetPage@F, which never
waits). A snapshot X < F (a long reader after a forced floor move) reads the page server at
X, uncached. ``advance_floor`` moves F up: the newest version of each page at or below the
new floor becomes its base image and the older versions are dropped.

Page deltas (``strata.wal``, version 2 records): a replica's overlay may hold a version as
a delta against the page's previous version. The follower stores it as it comes (replay
never fetches); a read at X composes the newest full version <= X (overlay, else the base at
the floor, fetched as any miss) with the deltas above it up to X, and keeps the composed
image in place of that delta. ``advance_floor`` applies a collapsing delta to the base image
if it is cached, else drops the key from the base cache (the page server has ingested the
new floor: the next read fetches it there). The primary's overlay holds full images only
(its sink inserts them); ``peek_latest`` gives the sink a page's newest version without
fetching, the base of the deltas it sends.

Sequential reads prefetch: a read of page n right after n-1 (or on a db with nothing
cached) fetches the next K pages in one ``get_pages`` call; K doubles up to 256.

Concurrent misses share calls: ``PageBackend.get_pages`` of several reader threads at the
same (db, LSN) (every read above the floor is at the floor) are merged into one GetPages
call while ``MAX_CALLS_IN_FLIGHT`` calls are out. A GetPage costs the page server ~250 µs
of CPU in grpc whatever it carries, a page in a batch ~40 µs: 8 readers missing at once
make one call, not 8.
"""

from __future__ import annotations

import bisect
import collections
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from strata.storage import PageUnavailableError, StorageError
from strata.wal import PAGE_SIZE, Lsn, PageDelta, WalFormatError, apply_delta

if TYPE_CHECKING:
    from pageserver.client import PageServerClient

log = logging.getLogger("strata.compute.remote.pages")

MAX_BATCH_PAGES = 256
"""Pages per get_pages call (the page server's limit)."""
FIRST_BATCH_PAGES = 8
"""Prefetch window when a sequential run starts; doubles per batch up to MAX_BATCH_PAGES."""
OVERLAY_WAIT_S = 10.0
"""How long a commit waits for the page server to ingest when the overlay is full."""
MAX_CALLS_IN_FLIGHT = 2
"""GetPages calls one compute has out at once; a reader missing while they are out joins
the next call (coalescing) instead of making its own."""
JOIN_WAIT_S = 90.0
"""Bound on a reader waiting for the call it joined (the client's own deadline is 30 s)."""

MAX_READ_TRIES = 8
"""A read that needs the base at the floor to compose a delta fetches it; if the floor
moves meanwhile it starts over, at most this many times."""

Key = tuple[int, int]
Version = bytes | PageDelta
"""An overlay entry: a full page image, or (replica) a delta against the previous one."""


class OverlayFullError(StorageError):
    """The overlay is full and the page server has not ingested enough to free it."""


@dataclass
class PageStats:
    """Counters for tests and status: round trips to the page server and cache hits."""

    get_pages_calls: int = 0
    pages_fetched: int = 0
    uncached_reads: int = 0
    overlay_hits: int = 0
    base_hits: int = 0
    floor_moves: int = 0
    forced_floor_moves: int = 0
    deltas_applied: int = 0
    """Page deltas applied to a base (reads composing, the floor collapsing)."""
    prewarm_calls: int = 0
    prewarmed_pages: int = 0
    """Pages ``prewarm`` put in the base cache (GetPages calls it made: ``prewarm_calls``)."""


@dataclass
class _Call:
    """One GetPages call being gathered: the pages every joined reader wants, in order."""

    db_id: int
    lsn: Lsn
    pages: dict[int, None]
    done: threading.Event
    result: dict[int, bytes | None] | None = None
    error: StorageError | None = None


class PageBackend:
    """What RemotePages needs from the page server (one timeline). Thread-safe; concurrent
    ``get_pages`` at one (db, LSN) are coalesced into shared calls (module docstring)."""

    def __init__(
        self, client: PageServerClient, tenant: str, timeline: str, coalesce: bool = True
    ) -> None:
        self.client = client
        self.tenant = tenant
        self.timeline = timeline
        self.coalesce = coalesce
        self.calls = 0
        """GetPages calls made (a call of more than MAX_BATCH_PAGES pages counts once)."""
        self.joined = 0
        """Requests answered by a call another reader made."""
        self._cond = threading.Condition()
        self._open: dict[tuple[int, Lsn], _Call] = {}
        self._in_flight = 0

    def get_pages(self, db_id: int, page_nos: list[int], lsn: Lsn) -> list[bytes | None]:
        if not self.coalesce:
            self.calls += 1
            return self._fetch(db_id, page_nos, lsn)
        key = (db_id, lsn)
        with self._cond:
            call = self._open.get(key)
            if call is not None and len(call.pages.keys() | page_nos) <= MAX_BATCH_PAGES:
                call.pages.update(dict.fromkeys(page_nos))
                self.joined += 1
                leader = False
            else:  # none open, or full: a new one (a full one is still sent by its leader)
                call = _Call(db_id, lsn, dict.fromkeys(page_nos), threading.Event())
                self._open[key] = call
                leader = True
                while self._in_flight >= MAX_CALLS_IN_FLIGHT:
                    self._cond.wait()  # others join `call` meanwhile
                if self._open.get(key) is call:
                    del self._open[key]
                self._in_flight += 1
                self.calls += 1
        if leader:
            nos = list(call.pages)  # closed: nobody adds pages any more
            try:
                call.result = dict(zip(nos, self._fetch(db_id, nos, lsn), strict=True))
            except StorageError as exc:
                call.error = exc
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify()
                call.done.set()
        elif not call.done.wait(JOIN_WAIT_S):
            raise PageUnavailableError(
                f"page server {self.client.addr}: no answer to a GetPages call in {JOIN_WAIT_S}s"
            )
        if call.error is not None:
            if leader:
                raise call.error
            raise PageUnavailableError(str(call.error)) from call.error  # one instance each
        assert call.result is not None
        return [call.result[n] for n in page_nos]

    def _fetch(self, db_id: int, page_nos: list[int], lsn: Lsn) -> list[bytes | None]:
        try:
            return self.client.get_pages(self.tenant, self.timeline, db_id, page_nos, lsn)
        except StorageError as exc:
            raise PageUnavailableError(f"page server {self.client.addr}: {exc}") from exc

    def db_size(self, db_id: int, lsn: Lsn) -> int:
        try:
            return self.client.db_size(self.tenant, self.timeline, db_id, lsn)
        except StorageError as exc:
            raise PageUnavailableError(f"page server {self.client.addr}: {exc}") from exc

    def last_record_lsn(self) -> Lsn:
        return int(self.client.timeline(self.tenant, self.timeline).last_record_lsn)


class RemotePages:
    """``strata.storage.PageStore`` for a compute on shared storage (see module docstring).

    ``head()`` is the newest LSN a new snapshot may use (replay LSN on a replica, durable LSN
    on a primary): the floor never passes it.
    """

    def __init__(
        self,
        backend: PageBackend,
        floor: Lsn,
        *,
        cache_bytes: int,
        overlay_bytes: int,
        head: Callable[[], Lsn],
    ) -> None:
        assert cache_bytes >= 64 * PAGE_SIZE and overlay_bytes >= 64 * PAGE_SIZE
        self.backend = backend
        self.floor = floor
        self.cache_pages = cache_bytes // PAGE_SIZE
        self.overlay_limit = overlay_bytes
        self.head = head
        self.stats = PageStats()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._overlay: dict[Key, list[tuple[Lsn, Version]]] = {}
        self._sizes: dict[int, list[tuple[Lsn, int]]] = {}
        self._commits: collections.deque[tuple[Lsn, list[Key], tuple[tuple[int, int], ...]]] = (
            collections.deque()
        )
        self.overlay_bytes = 0
        self._base: OrderedDict[Key, bytes | None] = OrderedDict()
        self._base_sizes: dict[int, int] = {}
        self._pins: dict[Lsn, int] = {}
        """Pins per LSN (a plain dict: Counter's ``__missing__`` and ``__delitem__`` are
        Python calls, and the writer pins and unpins a few times per transaction)."""
        self._last_read: dict[int, int] = {}  # db -> last page read (sequential detection)
        self._window: dict[int, int] = {}  # db -> current prefetch window
        self.ingested: Lsn = floor

    # ---- PageStore ------------------------------------------------------------------

    def get_page(self, db_id: int, page_no: int, lsn: Lsn) -> bytes | None:
        key = (db_id, page_no)
        for _ in range(MAX_READ_TRIES):
            idx = -1  # >= 0: the overlay version at lsn is a delta needing the floor's base
            with self._lock:
                floor = self.floor
                if lsn < floor:
                    self.stats.uncached_reads += 1
                    break
                versions = self._overlay.get(key)
                if versions:
                    i = bisect.bisect_right(versions, lsn, key=lambda v: v[0])
                    if i:
                        v = versions[i - 1][1]
                        if not isinstance(v, PageDelta):
                            self.stats.overlay_hits += 1
                            return v
                        composed = self._compose(key, versions, i - 1)
                        if composed is not None:
                            self.stats.overlay_hits += 1
                            return composed
                        idx = i - 1
                if idx < 0 and key in self._base:
                    self._base.move_to_end(key)
                    self.stats.base_hits += 1
                    self._last_read[db_id] = page_no
                    return self._base[key]
                batch = self._plan_batch(db_id, page_no)
            size_at_floor = self._size_at_floor(db_id, floor)
            nos = [n for n in range(page_no, page_no + batch) if n < size_at_floor] or [page_no]
            images = self.backend.get_pages(db_id, nos, floor)
            with self._lock:
                self.stats.get_pages_calls += 1
                self.stats.pages_fetched += len(nos)
                if self.floor == floor:  # images are valid at the floor: cache them
                    for n, data in zip(nos, images, strict=True):
                        k = (db_id, n)
                        if k not in self._base:
                            self._base[k] = data
                    while len(self._base) > self.cache_pages:
                        self._base.popitem(last=False)
                self._last_read[db_id] = nos[-1]
                if idx < 0:
                    return images[0]
                versions = self._overlay.get(key)
                if self.floor == floor and versions:  # compose on the base just fetched
                    i = bisect.bisect_right(versions, lsn, key=lambda v: v[0])
                    if i:
                        composed = self._compose(key, versions, i - 1, (images[0],))
                        assert composed is not None
                        self.stats.overlay_hits += 1
                        return composed
            # the floor moved while we fetched: start over
        else:
            raise PageUnavailableError(
                f"page {page_no} of db {db_id} at LSN {lsn}: the overlay floor moved during "
                f"each of {MAX_READ_TRIES} reads of its base"
            )
        return self.backend.get_pages(db_id, [page_no], lsn)[0]

    def _compose(
        self, key: Key, versions: list[tuple[Lsn, Version]], idx: int,
        base: tuple[bytes | None] | None = None,
    ) -> bytes | None:
        """The image of overlay version ``idx`` of ``key`` (caller holds the lock): the
        newest full version at or below it plus the deltas above, up to it; below the
        oldest version, the base at the floor (``base[0]`` if given, else the base cache).
        None when that base is needed but not cached. The composed image replaces the delta
        (later reads start there)."""
        j = idx
        while j >= 0 and isinstance(versions[j][1], PageDelta):
            j -= 1
        img: bytes | None
        if j >= 0:
            full = versions[j][1]
            assert not isinstance(full, PageDelta)
            img = full
        elif base is not None:
            img = base[0]
        elif key in self._base:
            img = self._base[key]
        else:
            return None
        if img is None:
            raise PageUnavailableError(
                f"page {key[1]} of db {key[0]} has a delta at LSN {versions[j + 1][0]} but no "
                "earlier version (the log and the page server disagree)"
            )
        try:
            for k in range(j + 1, idx + 1):
                d = versions[k][1]
                assert isinstance(d, PageDelta)
                img = apply_delta(img, d.delta)
                self.stats.deltas_applied += 1
        except WalFormatError as exc:
            raise PageUnavailableError(f"page {key[1]} of db {key[0]}: {exc}") from exc
        lsn, old = versions[idx]
        if isinstance(old, PageDelta):
            versions[idx] = (lsn, img)
            self.overlay_bytes += len(img) - len(old.delta)
        return img

    def peek_latest(self, db_id: int, page_no: int, *, overlay_only: bool = False) -> bytes | None:
        """The page's newest version (as of the last insert) if the overlay (or, unless
        ``overlay_only``, the base cache) has it, without fetching; None if not cached, or
        if the page was not inside its database then (the sink sends such pages whole)."""
        with self._lock:
            return self._peek_locked((db_id, page_no), overlay_only)

    def peek_latest_many(self, keys: list[Key], *, overlay_only: bool = False
                         ) -> list[bytes | None]:
        """``peek_latest`` of each (db_id, page_no), under one acquisition of the lock (the
        sink's commit: one call per transaction instead of one per page)."""
        with self._lock:
            return [self._peek_locked(key, overlay_only) for key in keys]

    def _peek_locked(self, key: Key, overlay_only: bool) -> bytes | None:
        """``peek_latest`` (caller holds the lock)."""
        db_id, page_no = key
        hist = self._sizes.get(db_id)
        size = hist[-1][1] if hist else self._base_sizes.get(db_id)
        if size is None or page_no >= size:
            return None
        versions = self._overlay.get(key)
        if versions:
            v = versions[-1][1]
            if not isinstance(v, PageDelta):
                return v
            try:
                return self._compose(key, versions, len(versions) - 1)
            except PageUnavailableError:
                return None
        return None if overlay_only else self._base.get(key)

    def _plan_batch(self, db_id: int, page_no: int) -> int:
        """Pages to fetch starting at page_no (caller holds the lock)."""
        last = self._last_read.get(db_id)
        self._last_read[db_id] = page_no
        cold = last is None
        if cold or last == page_no - 1:
            w = self._window.get(db_id, FIRST_BATCH_PAGES // 2) * 2
            w = min(w, MAX_BATCH_PAGES, max(1, self.cache_pages // 4))
            self._window[db_id] = w
            return w
        self._window.pop(db_id, None)
        return 1

    def _size_at_floor(self, db_id: int, floor: Lsn) -> int:
        with self._lock:
            if self.floor == floor and db_id in self._base_sizes:
                return self._base_sizes[db_id]
        n = self.backend.db_size(db_id, floor)
        with self._lock:
            if self.floor == floor:
                self._base_sizes[db_id] = n
        return n

    def db_size(self, db_id: int, lsn: Lsn) -> int:
        with self._lock:
            floor = self.floor
            if lsn >= floor:
                hist = self._sizes.get(db_id)
                if hist:
                    i = bisect.bisect_right(hist, lsn, key=lambda v: v[0])
                    if i:
                        return hist[i - 1][1]
        if lsn >= floor:
            return self._size_at_floor(db_id, floor)
        return self.backend.db_size(db_id, lsn)

    def pin(self, lsn: Lsn, exact: bool = True) -> Lsn:
        pins = self._pins
        with self._lock:
            pins[lsn] = pins.get(lsn, 0) + 1
        return lsn

    def unpin(self, lsn: Lsn) -> None:
        pins = self._pins
        with self._lock:
            n = pins.get(lsn, 0) - 1
            if n > 0:
                pins[lsn] = n
            else:
                pins.pop(lsn, None)

    # ---- filling the overlay --------------------------------------------------------

    def insert(
        self, lsn: Lsn, pages: list[tuple[int, int, Version]],
        db_sizes: tuple[tuple[int, int], ...],
    ) -> None:
        """One committed transaction's pages (images, or deltas against the page's previous
        version), visible from ``lsn`` (its commit end) on."""
        keys: list[Key] = []
        nbytes = 0
        with self._lock:
            assert lsn > self.floor, (lsn, self.floor)
            for db_id, page_no, data in pages:
                key = (db_id, page_no)
                versions = self._overlay.setdefault(key, [])
                if versions and versions[-1][0] == lsn:  # same page twice in one commit
                    prev = versions[-1][1]
                    if isinstance(data, PageDelta):
                        if isinstance(prev, PageDelta):
                            raise StorageError(f"page {page_no} of db {db_id} comes twice as a "
                                               f"delta in the transaction ending at {lsn}")
                        data = apply_delta(prev, data.delta)
                    self.overlay_bytes -= _vlen(prev)
                    versions[-1] = (lsn, data)
                else:
                    assert not versions or versions[-1][0] < lsn
                    versions.append((lsn, data))
                    keys.append(key)
                nbytes += len(data) if type(data) is bytes else _vlen(data)
            for db_id, n in db_sizes:
                self._sizes.setdefault(db_id, []).append((lsn, n))
            self._commits.append((lsn, keys, db_sizes))
            self.overlay_bytes += nbytes

    def make_room(self, timeout_s: float = OVERLAY_WAIT_S) -> None:
        """Before a commit: if the overlay is over its limit, move the floor (forced, past
        pins if needed); if the page server lags, wait for it (bounded), then give up."""
        if self.overlay_bytes <= self.overlay_limit:  # the common case (an int read, no lock)
            return
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                if self.overlay_bytes <= self.overlay_limit:
                    return
            self.poll_ingested()
            self.advance_floor(force=True)
            with self._lock:
                if self.overlay_bytes <= self.overlay_limit:
                    return
            if time.monotonic() >= deadline:
                raise OverlayFullError(
                    f"page server has ingested only up to LSN {self.ingested} and the compute's "
                    f"overlay of recent pages is full ({self.overlay_bytes} bytes): commits wait "
                    "for the page server"
                )
            time.sleep(0.05)

    # ---- the floor ------------------------------------------------------------------

    def poll_ingested(self) -> Lsn:
        """Ask the page server how far it has ingested (one RPC)."""
        lsn = self.backend.last_record_lsn()
        with self._lock:
            self.ingested = max(self.ingested, lsn)
            return self.ingested

    def advance_floor(self, *, force: bool = False) -> Lsn:
        """Move the floor up to what the page server ingested, the head and (unless
        ``force``) the oldest pinned snapshot; returns the floor."""
        head = self.head()
        with self._lock:
            target = min(self.ingested, head)
            if not force and self._pins:
                target = min(target, min(self._pins))
            if target <= self.floor:
                return self.floor
            # Commits at or below the target collapse into the base cache.
            while self._commits and self._commits[0][0] <= target:
                lsn, keys, sizes = self._commits.popleft()
                for key in keys:
                    versions = self._overlay[key]
                    assert versions[0][0] == lsn
                    data = versions.pop(0)[1]
                    self.overlay_bytes -= _vlen(data)
                    if not versions:
                        del self._overlay[key]
                    if isinstance(data, PageDelta):
                        base = self._base.get(key)
                        if base is not None:  # cached at the old floor: compose
                            self._base[key] = apply_delta(base, data.delta)
                            self.stats.deltas_applied += 1
                        else:  # unknown at the new floor: the next read fetches it
                            self._base.pop(key, None)
                    elif key in self._base or len(self._base) < self.cache_pages:
                        self._base[key] = data
                for db_id, n in sizes:
                    hist = self._sizes[db_id]
                    assert hist[0][0] == lsn
                    hist.pop(0)
                    if not hist:
                        del self._sizes[db_id]
                    self._base_sizes[db_id] = n
            if self._pins and min(self._pins) < target:
                self.stats.forced_floor_moves += 1
            self.floor = target
            self.stats.floor_moves += 1
            self._changed.notify_all()
            return target

    def lease_target(self) -> Lsn:
        """The oldest LSN this compute still reads at: min(floor, oldest pin)."""
        with self._lock:
            return min([self.floor, *self._pins])

    def reset(self, floor: Lsn) -> None:
        """Forget everything (after a log rewind): read the page server at ``floor`` on."""
        with self._lock:
            self._overlay.clear()
            self._sizes.clear()
            self._commits.clear()
            self._base.clear()
            self._base_sizes.clear()
            self.overlay_bytes = 0
            self.floor = floor
            self.ingested = max(self.ingested, floor)

    def prewarm(self, db_id: int, stop: threading.Event) -> int:
        """Fill the base cache with database ``db_id``'s pages at the floor, in page order,
        MAX_BATCH_PAGES per GetPages call, while the cache has room; returns the pages it
        cached. Why: a compute starts (or restarts, or is promoted) with an empty cache, and
        each miss is a page server round trip, often inside the writer's hold: a restarted
        cluster ran 2-5x slower for minutes. A guess never evicts what a reader used: pages
        already cached are skipped, and new ones go to the cold end of the LRU. Exact as a
        miss is: images fetched at the floor are kept only if the floor has not moved
        meanwhile (else the batch is fetched again at the new floor, MAX_READ_TRIES times at
        most). Runs on the caller's thread until done, the cache is full, or ``stop``."""
        page = 0
        cached = 0
        tries = 0
        while not stop.is_set():
            with self._lock:
                floor = self.floor
                room = self.cache_pages - len(self._base)
            size = self._size_at_floor(db_id, floor)
            if room <= 0 or page >= size:
                break
            hi = min(size, page + min(room, MAX_BATCH_PAGES))
            with self._lock:
                nos = [n for n in range(page, hi) if (db_id, n) not in self._base]
            if nos:
                images = self.backend.get_pages(db_id, nos, floor)
                with self._lock:
                    self.stats.prewarm_calls += 1
                    if self.floor != floor:  # not valid at the new floor: fetch them there
                        tries += 1
                        if tries < MAX_READ_TRIES:
                            continue
                    else:
                        for n, data in zip(nos, images, strict=True):
                            key = (db_id, n)
                            if key not in self._base and len(self._base) < self.cache_pages:
                                self._base[key] = data
                                self._base.move_to_end(key, last=False)
                                cached += 1
                                self.stats.prewarmed_pages += 1
            tries = 0
            page = hi
        return cached

    def overlay_versions(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._overlay.values())


def _vlen(v: Version) -> int:
    """Bytes an overlay entry holds (what counts against the overlay's limit)."""
    return len(v.delta) if isinstance(v, PageDelta) else len(v)


class FloorKeeper:
    """A background thread that polls the page server and advances the floor."""

    def __init__(self, pages: RemotePages, interval_s: float = 0.2,
                 on_tick: Callable[[], None] | None = None) -> None:
        self.pages = pages
        self.interval_s = interval_s
        self.on_tick = on_tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="overlay-floor", daemon=True)
        self.last_error = ""

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.pages.poll_ingested()
                force = self.pages.overlay_bytes > self.pages.overlay_limit
                self.pages.advance_floor(force=force)
                if self.on_tick is not None:
                    self.on_tick()
                self.last_error = ""
            except Exception as exc:  # the page server may be down for a while
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.debug("floor keeper: %s", self.last_error)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
