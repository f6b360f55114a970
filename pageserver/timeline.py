"""A timeline: one line of WAL history materialized as layers, possibly branched off another.

Reads at LSN X walk this timeline's layers from newest to oldest and stop at the first
version of the key at or below X, or at the first image layer at or below X (images hold
every key). Below the branch point (or if nothing was found) the read continues on the
ancestor at ``min(X, ancestor_lsn)``; that is why branching copies nothing.

Ingest rules (``strata.wal``): non-commit records of a transaction are buffered; the commit
record applies all of its pages at the commit's end LSN. The writer is serialized, so a
commit of one xid means any other buffered xid was abandoned (its primary died) and is
dropped. A flush writes only whole transactions: its upper bound is the start of the
oldest still-buffered transaction, so resuming ingest there re-delivers those chunks.

Page deltas (version 2 records): at the commit, a delta applies to the page's version
earlier in the same transaction if any, else to its version at the previous record's end
(``last_record_lsn``, ancestors included). Since session 12 it is kept as it came (a
``Delta`` version) when its base is known to be there, a full page image, fewer than
``MAX_DELTA_CHAIN`` deltas down (``_chain``, the newest version of each key ingested since
this timeline object was made), the page inside its database (``_sizes``), and the key
appears once in the transaction; otherwise it is composed at ingest as before and the image
stored. Reads compose: the newest version at or below the LSN, and if it is a delta, the
versions below it down to an image (``_compose``); compaction folds deltas onto the versions
below them, so image layers hold images only. A delta without a base (page unknown or past
its database's end) is InvalidArgument and nothing of the record is applied: ingest stops
there loudly instead of storing a wrong page.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pageserver import compaction, metrics
from pageserver.layers import (
    PART_SHIFT,
    SIZE_PAGE,
    TS_KEY,
    Delta,
    InMemoryLayer,
    LayerDesc,
    apply_deltas,
    decode_size,
    decode_ts,
    encode_layer,
    encode_size,
    encode_ts,
    image_stats,
    page_key,
    part_ranges,
    part_stats,
    sha256,
    size_key,
    split_key,
)
from pageserver.storage import (
    LayerStore,
    UploadAbandoned,
    UploadQueue,
    failpoint,
    layer_key,
    manifest_key,
)
from strata.wal import PAGE_SIZE, PageDelta, PageImage, WalFormatError, WalRecord, apply_delta

log = logging.getLogger("strata.pageserver.timeline")

MANIFEST_VERSION = 1
MAX_LEASES_PER_TIMELINE = 1024
"""Unexpired LSN leases one timeline holds at most (more: RESOURCE_EXHAUSTED)."""
MAX_LEASE_TTL_S = 600.0
"""Longest lease the server grants; a client keeps a snapshot longer by renewing."""
DEFAULT_LEASE_TTL_S = 60.0


def fmt_lsn(lsn: int) -> str:
    """PostgreSQL's ``X/Y`` hex notation (high and low 32 bits), as in log messages."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


class PageServerError(Exception):
    """An error with a gRPC status code name (see pageserver.proto)."""

    code = "INTERNAL"


class NotFound(PageServerError):
    code = "NOT_FOUND"


class LsnTimeout(PageServerError):
    code = "DEADLINE_EXCEEDED"


class OutOfRange(PageServerError):
    code = "OUT_OF_RANGE"


class FailedPrecondition(PageServerError):
    code = "FAILED_PRECONDITION"


class InvalidArgument(PageServerError):
    code = "INVALID_ARGUMENT"


class AlreadyExists(PageServerError):
    code = "ALREADY_EXISTS"


class ResourceExhausted(PageServerError):
    code = "RESOURCE_EXHAUSTED"


class DataLoss(PageServerError):
    code = "DATA_LOSS"


class TimelineBroken(DataLoss):
    """The timeline cannot be served (unreadable manifest, a layer lost before upload); the
    rest of the server is unaffected. Object storage still holds its last good manifest."""


COMPACTION_IMAGE_RATIO = 1.0
"""Automatic compaction rewrites every page of the timeline, so it waits until the deltas
above the newest image hold at least this fraction of that image's bytes: image writes stay
at most the delta bytes written, whatever the database's size (issue 16: with a fixed count,
a 10-scale pgbench database spent ~1.1 s of CPU per compaction, ~0.35 ms per TPC-B
transaction). The first image (none yet) is made at ``compaction_threshold`` deltas."""
MAX_DELTA_CHAIN = 16
"""A page delta is kept as a ``Delta`` only while fewer than this many deltas sit on the key's
newest image; the next one is composed at ingest and stored whole. Bounds what a read
applies (and walks) to compose a page, while a hot page stores ~1/16 of its versions as
4 KiB images instead of every one (session 12)."""
MAX_CHAIN_KEYS = 1 << 20
"""``Timeline._chain`` is emptied when it would hold more keys (then deltas are composed at
ingest until their keys are seen again): bounds its memory (~100 bytes a key)."""
COMPACTION_MAX_FACTOR = 4
"""...but never more than ``compaction_threshold`` times this many deltas (bounds the layers
a read walks). Since session 13 both rules apply per key partition
(``compaction.due_partitions``), counting the delta layers that hold the partition."""
PARTITION_IMAGE_RATIO = 4.0
"""``COMPACTION_IMAGE_RATIO`` for a partition's image (session 13): its page-delta bytes above
its image reach this many times its bytes in that image. Reads are bounded by the cap below
and by ``MAX_DELTA_CHAIN``; this bounds the bytes of deltas kept above an image. At 1 (the
full image's rule) a `strata up` cluster under TPC-B rewrote each partition every ~22
flushed layers (SQLite's page deltas are ~1/3 of their page's compressed bytes)."""
PARTITION_MAX_FACTOR = 12
"""The cap of ``COMPACTION_MAX_FACTOR`` for a partition's image (session 13): ``compaction_
threshold`` times this many delta layers holding the partition above its newest image. Under
TPC-B every flushed delta layer holds every partition of the accounts table, so this cap is
what sets how often the database is rewritten: 48 layers (~8 minutes at one flush per 10 s)
instead of 16 writes a third of the image bytes, while a page read that walks them all costs
~20% more in process (docs/performance.md, session 13)."""


def _drop_past_end(state: dict[int, tuple[int, bytes]], sizes: dict[int, int]) -> None:
    """Remove the pages at or past their database's size from ``state``."""
    for k in [k for k in state if k != TS_KEY]:
        db, pg = split_key(k)
        if pg != SIZE_PAGE and db in sizes and pg >= sizes[db]:
            del state[k]


@dataclass
class TimelineConf:
    checkpoint_bytes: int = 16 * 1024 * 1024
    """Flush the in-memory layer to a delta layer at this size."""
    checkpoint_timeout_s: float = 10.0
    """...or when it has held data this long (so the remote consistent LSN advances)."""
    compaction_threshold: int = 4
    merge_factor: int = 0
    """Merge ``compaction_threshold`` times this many flushed (unmerged) delta layers above the
    newest full image into one delta layer (session 13; 0: never). Each merge counts once
    toward a partition's cap, so images are due that much less often, for one more write of
    every delta byte; under TPC-B that write cost as much as the images it saved
    (docs/performance.md, session 13), so it is off by default."""
    """Make an image layer when this many delta layers sit above the newest image (and, for
    automatic compaction, their bytes reach ``COMPACTION_IMAGE_RATIO`` of that image's, or
    ``COMPACTION_MAX_FACTOR`` times this many deltas pile up)."""
    retention_lsn: int = 256 * 1024 * 1024
    """GC keeps every LSN within this distance of the newest one (0 = no LSN window)."""
    retention_seconds: float = 0.0
    """...and every commit younger than this (0 = no time window). Both set: keep more."""
    wait_lsn_timeout_s: float = 5.0
    lease_grace_s: float = 0.0
    """GC of a timeline loaded at start waits this long, so that computes can renew the
    leases (held only in memory) that the previous process granted."""


def _sort_key(d: LayerDesc) -> tuple[int, int]:
    # newest first; at equal tops an image (complete) comes before a delta
    return (-d.hi, 0 if d.kind == "image" else 1)


class Timeline:
    def __init__(
        self,
        tenant: str,
        timeline_id: str,
        *,
        ancestor: Timeline | None,
        ancestor_lsn: int,
        conf: TimelineConf,
        layer_store: LayerStore,
        uploads: UploadQueue,
        wal_source: str = "push",
        log_timeline: str = "",
        layers: list[LayerDesc] | None = None,
        remote_consistent_lsn: int | None = None,
        gc_cutoff_lsn: int = 0,
        last_commit_ts: int = 0,
    ) -> None:
        assert (ancestor is None) == (ancestor_lsn == 0) or ancestor is not None
        self.tenant = tenant
        self.timeline_id = timeline_id
        self.ancestor = ancestor
        self.ancestor_lsn = ancestor_lsn
        self.conf = conf
        self.layer_store = layer_store
        self.uploads = uploads
        self.wal_source = wal_source
        self.log_timeline = log_timeline
        start = ancestor_lsn if remote_consistent_lsn is None else remote_consistent_lsn
        assert start >= ancestor_lsn
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.ingest_lock = threading.Lock()
        self.flush_lock = threading.Lock()
        self.compact_lock = threading.Lock()
        self.open_layer = InMemoryLayer(lo=start)
        self.frozen: list[InMemoryLayer] = []
        self.layers: list[LayerDesc] = sorted(layers or [], key=_sort_key)
        self._view: tuple[tuple[InMemoryLayer, ...], tuple[LayerDesc, ...]] = ((), ())
        """What a read walks, newest first: (in-memory layers, layer files). Immutable tuples
        replaced whole (under ``lock``) whenever a flush, compaction or GC changes the
        layer set, so reads take no lock: the hot read path never waits behind ingest,
        flush or GC, and 8 concurrent readers do not serialize on ``lock``."""
        self._publish_view()
        self.last_record_lsn = start
        self.received_lsn = start
        self.remote_consistent_lsn = start
        self.gc_cutoff_lsn = gc_cutoff_lsn
        self.last_commit_ts = last_commit_ts
        self.pending: dict[int, tuple[int, list[PageImage | PageDelta]]] = {}
        self._chain: dict[int, int] = {}
        """Key -> deltas on top of its newest version's image (0: the newest version is a
        PAGE_SIZE image) for keys ingested since this object was made; only ingest (under
        ``ingest_lock``) reads or writes it. A key not here gets its deltas composed."""
        self._sizes: dict[int, int | None] = {}
        """db -> its size at ``last_record_lsn`` (``db_size``), filled on demand and kept up to
        date by each commit; ingest only."""
        self.last_flush = time.monotonic()
        self._nothing_due: tuple[int, int, int, str] | None = None
        """What the layer list looked like when compaction last found nothing due (it is
        asked again each housekeeping tick; a flush, an upload or GC changes it)."""
        self.on_remote_consistent: Callable[[int], None] | None = None
        self.children: list[Timeline] = []
        self.leases: dict[int, float] = {}  # LSN -> expiry (time.monotonic())
        self.gc_blocked_until = 0.0  # time.monotonic(); see TimelineConf.lease_grace_s
        self.deleted = False
        self.broken = ""
        """Why this timeline stopped (a layer lost before upload); "" while healthy. A broken
        timeline serves nothing, ingests nothing and uploads no manifest, so its last good
        manifest stays the truth for the next start."""
        self.ingest_state = ""
        """Log-fed ingest: "ingesting", "retrying: <error>" or "stopped" ("" for push)."""
        self.ingest_errors_logged: set[str] = set()
        self._labels = (tenant, timeline_id)
        # The LSN gauges read this timeline when scraped (no lock and no set per record);
        # a weak reference, so a deleted timeline is not kept alive by its gauges.
        ref = weakref.ref(self)

        def lsn_of(field: str) -> Callable[[], float]:
            return lambda: float(getattr(ref(), field, 0))

        def lag() -> float:
            tl = ref()
            return float(max(0, tl.received_lsn - tl.last_record_lsn)) if tl is not None else 0.0

        metrics.RECEIVED_LSN.labels(*self._labels).set_function(lsn_of("received_lsn"))
        metrics.APPLIED_LSN.labels(*self._labels).set_function(lsn_of("last_record_lsn"))
        metrics.INGEST_LAG.labels(*self._labels).set_function(lag)
        self.ingested = metrics.INGEST_TOTALS.track(self)

    # ------------------------------------------------------------------ ingest

    def ingest(self, start: int, payload: bytes) -> bool:
        """Apply one WAL record; False if it was already ingested (idempotent resume)."""
        if not payload:
            raise InvalidArgument("empty WAL record")
        end = start + len(payload)
        with self.ingest_lock:
            with self.lock:
                if end <= self.last_record_lsn:
                    return False
                if start != self.last_record_lsn:
                    raise FailedPrecondition(
                        f"WAL record at {start} does not continue timeline "
                        f"{self.timeline_id} at {self.last_record_lsn}"
                    )
            try:
                rec = WalRecord.decode(payload)
            except WalFormatError as exc:
                raise InvalidArgument(f"bad WAL record at LSN {start}: {exc}") from exc
            images: dict[int, bytes] = {}
            if rec.commit:  # deltas resolved before anything changes (ingest_lock held:
                # pending and last_record_lsn stay put; reads of layers take no lock)
                with self.lock:
                    earlier = list(self.pending.get(rec.xid, (start, []))[1])
                images = self._txn_images([*earlier, *rec.pages, *rec.deltas], start)
            with self.lock:
                self.received_lsn = max(self.received_lsn, end)
                if not rec.commit:
                    first, pages = self.pending.setdefault(rec.xid, (start, []))
                    pages.extend(rec.pages)
                    pages.extend(rec.deltas)
                else:
                    self.pending.pop(rec.xid, None)
                    if self.pending:
                        log.warning(
                            "%s: dropping abandoned transactions %s",
                            self.timeline_id,
                            sorted(self.pending),
                        )
                        self.pending.clear()
                    layer = self.open_layer
                    for key, data in images.items():
                        layer.put(key, end, data)
                    for db_id, n in rec.db_sizes:
                        layer.put(size_key(db_id), end, encode_size(n))
                    layer.put(TS_KEY, end, encode_ts(rec.commit_ts_us))
                    self.last_commit_ts = rec.commit_ts_us
                self.last_record_lsn = end
                self.cond.notify_all()
                need_flush = self.open_layer.nbytes >= self.conf.checkpoint_bytes
            if rec.commit:
                self._note_commit(images, rec.db_sizes)
            self.ingested.bytes += len(payload)
            self.ingested.records += 1
        if need_flush:
            self.flush()
        return True

    def _note_commit(self, images: dict[int, bytes], db_sizes: tuple[tuple[int, int], ...]) -> None:
        """Keep ``_chain`` and ``_sizes`` describing ``last_record_lsn`` (caller holds
        ``ingest_lock``, the commit applied)."""
        chain = self._chain
        if len(chain) + len(images) > MAX_CHAIN_KEYS:
            chain.clear()
        for key, data in images.items():
            if type(data) is Delta:
                n = chain.get(key)  # None only if just cleared
                if n is not None:
                    chain[key] = n + 1
            elif len(data) == PAGE_SIZE:
                chain[key] = 0
            else:  # not a page a delta can apply to: compose (and fail) as before
                chain.pop(key, None)
        for db_id, n in db_sizes:
            old = self._sizes.get(db_id, -1)
            self._sizes[db_id] = n
            if old is None or old < 0 or n < old:  # shrunk (or not known): pages past the
                # new end are no base any more (an image layer leaves them out)
                gone = [k for k in chain if k >> 32 == db_id and k & 0xFFFFFFFF >= n]
                for k in gone:
                    del chain[k]

    def _size_at(self, db_id: int, at: int) -> int | None:
        """``db_size(db_id, at)`` where ``at`` is ``last_record_lsn`` (ingest only)."""
        if db_id in self._sizes:
            return self._sizes[db_id]
        size = self._sizes[db_id] = self.db_size(db_id, at)
        return size

    def _txn_images(self, entries: list[PageImage | PageDelta], at: int) -> dict[int, bytes]:
        """Key -> version of a committing transaction's pages in order (caller holds
        ``ingest_lock``): a delta applies to the page's image earlier in the transaction,
        else to its version at ``at``, the previous record's end. Such a delta is kept as a
        ``Delta`` when that version is known to be a page a short chain above an image
        (``_chain``) inside its database and the key comes once in the transaction;
        otherwise it is composed here. InvalidArgument (nothing applied) if a delta has no
        base there."""
        out: dict[int, bytes] = {}
        once: set[int] | None = None
        """Keys that come once in the transaction (only those may stay a delta)."""
        chain = self._chain
        for e in entries:
            key = page_key(e.db_id, e.page_no)
            if isinstance(e, PageImage):
                out[key] = e.data
                continue
            base = out.get(key)
            if base is None:
                size = self._size_at(e.db_id, at)
                n = chain.get(key)
                if n is not None and n < MAX_DELTA_CHAIN and size is not None and e.page_no < size:
                    if once is None:
                        keys = [page_key(x.db_id, x.page_no) for x in entries]
                        once = set(keys) if len(set(keys)) == len(keys) else {
                            k for k, c in Counter(keys).items() if c == 1}
                    if key in once:
                        out[key] = Delta(e.delta)
                        continue
                v = self.get_version(key, at) if size is not None and e.page_no < size else None
                if v is None:
                    raise InvalidArgument(
                        f"WAL record at LSN {fmt_lsn(at)} on timeline {self.timeline_id}: "
                        f"a delta of page {e.page_no} of db {e.db_id}, which has no version "
                        f"at {fmt_lsn(at)} (database size {size})"
                    )
                base = v[1]
            try:
                out[key] = apply_delta(base, e.delta)
            except WalFormatError as exc:
                raise InvalidArgument(
                    f"page {e.page_no} of db {e.db_id} at {fmt_lsn(at)}: {exc}"
                ) from exc
        return out

    def note_received(self, lsn: int) -> None:
        with self.lock:
            self.received_lsn = max(self.received_lsn, lsn)

    def consistent_lsn(self) -> int:
        """Highest LSN such that every transaction committed at or below it is applied
        and no buffered transaction started below it (a safe resume point)."""
        with self.lock:
            if self.pending:
                return min(s for s, _ in self.pending.values())
            return self.last_record_lsn

    def flush_due(self) -> bool:
        with self.lock:
            if self.open_layer.nbytes >= self.conf.checkpoint_bytes:
                return True
            idle = time.monotonic() - self.last_flush >= self.conf.checkpoint_timeout_s
            return idle and self.consistent_lsn() > self.open_layer.lo

    def flush(self) -> int | None:
        """Freeze the open layer, write it as a delta layer, queue its upload.

        Returns the upload queue sequence number to wait on (None if nothing to do)."""
        with self.flush_lock:
            with self.lock:
                if self.deleted or self.broken:
                    return None
                hi = self.consistent_lsn()
                mem = self.open_layer
                self.last_flush = time.monotonic()
                if hi <= mem.lo:
                    return None
                mem.hi = hi
                self.frozen.append(mem)
                self.open_layer = InMemoryLayer(lo=hi)
                self._publish_view()
            desc: LayerDesc | None = None
            if not mem.empty():
                entries: list[tuple[int, int, bytes]] = []
                for key in sorted(mem.versions):
                    for lsn, data in mem.versions[key]:
                        assert mem.lo < lsn <= hi, (mem.lo, lsn, hi)
                        entries.append((key, lsn, data))
                data = encode_layer("delta", mem.lo, hi, entries)
                name = f"D_{mem.lo:016X}_{hi:016X}_{uuid.uuid4().hex[:8]}"
                desc = LayerDesc(
                    name, "delta", mem.lo, hi, len(data), sha256(data),
                    mem.min_ts, mem.max_ts, len(entries), parts=part_stats(entries),
                )  # fmt: skip
                self.layer_store.write_local(self.tenant, self.timeline_id, name, data)
            with self.lock:
                self.frozen.remove(mem)
                if desc is not None:
                    self._add_layer(desc)
                self._publish_view()
            metrics.FLUSHES.inc()
            what = f"{self.timeline_id} delta {desc.name if desc else '(empty)'} to {hi}"
            return self.uploads.submit(what, lambda: self._upload_layer(desc, hi))

    def _add_layer(self, desc: LayerDesc) -> None:
        self.layers.append(desc)
        self.layers.sort(key=_sort_key)
        self._publish_view()

    def _publish_view(self) -> None:
        """Rebuild the lock-free read view (caller holds ``lock``, or is ``__init__``).

        Order matters for a reader racing a flush: a frozen layer is dropped from the view
        only in the same assignment that adds its delta file, so every version is always
        reachable through one of them."""
        self._view = (
            (self.open_layer, *reversed(self.frozen)),
            tuple(self.layers),
        )

    # ------------------------------------------------------------------ uploads

    def _upload_layer(self, desc: LayerDesc | None, consistent: int | None) -> None:
        """Upload task: the layer object first, then the manifest that names it.

        A layer whose only copy is gone or corrupt can never be uploaded: retrying would block
        the FIFO queue (every timeline's uploads, then ingest) forever. The timeline is marked
        broken instead and the task abandoned."""
        if self.deleted or self.broken:
            return
        if desc is not None and not desc.remote:
            failpoint("before-layer-upload")
            path = self.layer_store.local_path(self.tenant, self.timeline_id, desc.name)
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                data = None
            if data is None or sha256(data) != desc.sha256:
                why = "is missing" if data is None else "fails its checksum"
                self.mark_broken(f"local layer {desc.name} {why} before its upload")
                raise UploadAbandoned(f"{self.timeline_id}: layer {desc.name} {why}")
            self.layer_store.remote.put(layer_key(self.tenant, self.timeline_id, desc.name), data)
            metrics.UPLOADS.labels(desc.kind).inc()
            metrics.UPLOAD_BYTES.inc(len(data))
            failpoint("after-layer-upload")
            with self.lock:
                desc.remote = True
        if consistent is not None:
            with self.lock:
                self.remote_consistent_lsn = max(self.remote_consistent_lsn, consistent)
        self.upload_manifest()
        metrics.REMOTE_CONSISTENT_LSN.labels(*self._labels).set(self.remote_consistent_lsn)
        cb = self.on_remote_consistent
        if cb is not None and consistent is not None:
            try:
                cb(self.remote_consistent_lsn)
            except Exception:  # a retention hint must never stall uploads
                log.exception("reporting remote consistent LSN failed")

    def manifest(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": MANIFEST_VERSION,
                "tenant": self.tenant,
                "timeline": self.timeline_id,
                "ancestor_timeline": self.ancestor.timeline_id if self.ancestor else "",
                "ancestor_lsn": self.ancestor_lsn,
                "remote_consistent_lsn": self.remote_consistent_lsn,
                "gc_cutoff_lsn": self.gc_cutoff_lsn,
                "last_commit_ts": self.last_commit_ts,
                "wal_source": self.wal_source,
                "log_timeline": self.log_timeline,
                "layers": [d.to_json() for d in self.layers if d.remote],
            }

    def mark_broken(self, why: str) -> None:
        """Stop serving, ingesting and uploading this timeline (see ``broken``)."""
        with self.lock:
            if not self.broken:
                log.error("timeline %s/%s is broken: %s", self.tenant, self.timeline_id, why)
                self.broken = why
            self.cond.notify_all()

    def upload_manifest(self) -> None:
        if self.deleted or self.broken:  # never resurrect a deleted one or hide a lost layer
            return
        m = self.manifest()
        failpoint("before-manifest-upload")
        data = json.dumps(m, indent=1, sort_keys=True).encode()
        self.layer_store.remote.put(manifest_key(self.tenant, self.timeline_id), data)
        metrics.UPLOADS.labels("manifest").inc()

    # ------------------------------------------------------------------ reads

    def wait_for_lsn(self, lsn: int, timeout_s: float) -> None:
        with self.cond:
            if self.cond.wait_for(lambda: self.last_record_lsn >= lsn, timeout_s):
                return
            have = self.last_record_lsn
        raise LsnTimeout(
            f"timed out after {timeout_s:.1f}s waiting for LSN {lsn} on timeline "
            f"{self.timeline_id}; ingested up to {have}"
        )

    def _own_lookup(self, key: int, lsn: int) -> tuple[bool, tuple[int, bytes] | None]:
        """(definitive, version) from this timeline's own layers only (no lock: ``_view``)."""
        mems, layers = self._view
        load = self.layer_store.load
        for m in mems:
            if m.lo >= lsn:
                continue
            v = m.get(key, lsn)
            if v is not None:
                return True, v
        part = key >> PART_SHIFT
        for d in layers:
            if d.kind == "image":
                if d.hi > lsn or not d.covers(part):
                    continue
                return True, load(self.tenant, self.timeline_id, d).get(key, lsn)
            if d.lo >= lsn or not d.touches(part):
                continue
            v = load(self.tenant, self.timeline_id, d).get(key, lsn)
            if v is not None:
                return True, v
        return False, None

    def _own_chain(self, key: int, lsn: int) -> tuple[bool, list[tuple[int, bytes]]]:
        """``_own_lookup``, but the newest version and the deltas under it in the same layer
        down to an image (newest first): a composition walks each layer once."""
        mems, layers = self._view
        load = self.layer_store.load
        for m in mems:
            if m.lo >= lsn:
                continue
            chain = m.chain_at(key, lsn)
            if chain:
                return True, chain
        part = key >> PART_SHIFT
        for d in layers:
            if d.kind == "image":
                if d.hi > lsn or not d.covers(part):
                    continue
                v = load(self.tenant, self.timeline_id, d).get(key, lsn)
                return True, [] if v is None else [v]
            if d.lo >= lsn or not d.touches(part):
                continue
            chain = load(self.tenant, self.timeline_id, d).chain_at(key, lsn)
            if chain:
                return True, chain
        return False, []

    def check_readable(self, lsn: int) -> None:
        if lsn < self.gc_cutoff_lsn:
            raise FailedPrecondition(
                f"LSN {lsn} is below the GC cutoff {self.gc_cutoff_lsn} of timeline "
                f"{self.timeline_id} (outside the retention window)"
            )

    def _find(self, key: int, lsn: int, check: bool = True) -> tuple[int, bytes] | None:
        """Newest stored version of ``key`` at or below ``lsn``, following ancestors: an
        image or a ``Delta``. ``check``: refuse an LSN below a GC cutoff (a read's own LSN;
        not the steps of a composition, which never go below the newest image under it)."""
        tl: Timeline = self
        at = lsn
        if check:
            tl.check_readable(at)
        while True:
            if tl.ancestor is None or at > tl.ancestor_lsn:
                definitive, v = tl._own_lookup(key, at)
                if definitive:
                    return v
            if tl.ancestor is None:
                return None
            if check and at < tl.ancestor_lsn:
                tl.ancestor.check_readable(at)  # below the branch point: ancestor's history
            at = min(at, tl.ancestor_lsn)
            tl = tl.ancestor

    def _chain_below(self, key: int, lsn: int) -> list[tuple[int, bytes]]:
        """``_own_chain`` following ancestors, like ``_find`` without the GC check (the steps
        of a composition never go below the newest image under the read's LSN)."""
        tl: Timeline = self
        at = lsn
        while True:
            if tl.ancestor is None or at > tl.ancestor_lsn:
                definitive, chain = tl._own_chain(key, at)
                if definitive:
                    return chain
            if tl.ancestor is None:
                return []
            at = min(at, tl.ancestor_lsn)
            tl = tl.ancestor

    def _compose(self, key: int, top: tuple[int, bytes]) -> tuple[int, bytes]:
        """The page image of version ``top`` (a ``Delta``): the versions below it down to an
        image, with the deltas applied oldest first."""
        deltas = [top[1]]
        at = top[0] - 1
        base: bytes | None = None
        while base is None:
            chain = self._chain_below(key, at)
            if not chain:
                raise DataLoss(
                    f"page key {key:#x} on timeline {self.timeline_id}: the delta at LSN "
                    f"{fmt_lsn(top[0])} has no image below it"
                )
            for v_lsn, data in chain:
                if type(data) is Delta:
                    deltas.append(data)
                    at = v_lsn - 1
                else:
                    base = data
                    break
        deltas.reverse()
        try:
            return top[0], apply_deltas(base, deltas)
        except WalFormatError as exc:
            raise DataLoss(f"page key {key:#x} at LSN {fmt_lsn(top[0])}: {exc}") from exc

    def get_version(self, key: int, lsn: int) -> tuple[int, bytes] | None:
        """Newest version of ``key`` at or below ``lsn``, following ancestors, composed."""
        v = self._find(key, lsn)
        if v is not None and type(v[1]) is Delta:
            return self._compose(key, v)
        return v

    def db_size(self, db_id: int, lsn: int) -> int | None:
        v = self.get_version(size_key(db_id), lsn)
        return None if v is None else decode_size(v[1])

    def _own_lookup_many(
        self, keys: list[int], lsn: int
    ) -> dict[int, tuple[int, bytes] | None]:
        """Definitive answers for those of ``keys`` this timeline's own layers settle: one
        pass over the layers (newest first), each loaded once for the whole batch."""
        mems, layers = self._view
        load = self.layer_store.load
        found: dict[int, tuple[int, bytes] | None] = {}
        left = list(keys)
        for m in mems:
            if m.lo >= lsn or not left:
                continue
            for k in left:
                v = m.get(k, lsn)
                if v is not None:
                    found[k] = v
            left = [k for k in left if k not in found]
        for d in layers:
            if not left:
                break
            if (d.kind == "image" and d.hi > lsn) or (d.kind == "delta" and d.lo >= lsn):
                continue
            if d.kind == "image":  # it holds every key of the partitions it covers
                mine = [k for k in left if d.covers(k >> PART_SHIFT)]
            else:
                mine = [k for k in left if d.touches(k >> PART_SHIFT)]
            if not mine:
                continue
            loaded = load(self.tenant, self.timeline_id, d)
            for k in mine:
                v = loaded.get(k, lsn)
                if v is not None or d.kind == "image":
                    found[k] = v
            left = [k for k in left if k not in found]
        return found

    def get_versions(self, keys: list[int], lsn: int) -> dict[int, tuple[int, bytes] | None]:
        """``get_version`` for many keys at one LSN, following ancestors once."""
        tl: Timeline = self
        at = lsn
        tl.check_readable(at)
        out: dict[int, tuple[int, bytes] | None] = {}
        left = list(dict.fromkeys(keys))
        while left:
            if tl.ancestor is None or at > tl.ancestor_lsn:
                out.update(tl._own_lookup_many(left, at))
                left = [k for k in left if k not in out]
            if tl.ancestor is None or not left:
                break
            if at < tl.ancestor_lsn:
                tl.ancestor.check_readable(at)
            at = min(at, tl.ancestor_lsn)
            tl = tl.ancestor
        for k in left:
            out[k] = None
        for k, v in out.items():
            if v is not None and type(v[1]) is Delta:
                out[k] = self._compose(k, v)
        return out

    def get_pages(
        self, db_id: int, page_nos: list[int], lsn: int
    ) -> list[tuple[int, bytes] | None]:
        """Pages at ``lsn`` in request order; a page past the db's end reads as None."""
        for p in page_nos:
            if p >= SIZE_PAGE:
                raise InvalidArgument(f"page number {p} is reserved")
        size = self.db_size(db_id, lsn)
        wanted = [p for p in page_nos if size is None or p < size]
        got = self.get_versions([page_key(db_id, p) for p in wanted], lsn)
        return [
            got[page_key(db_id, p)] if size is None or p < size else None for p in page_nos
        ]

    def get_page(self, db_id: int, page_no: int, lsn: int) -> tuple[int, bytes] | None:
        if page_no >= SIZE_PAGE:
            raise InvalidArgument(f"page number {page_no} is reserved")
        size = self.db_size(db_id, lsn)
        if size is not None and page_no >= size:
            raise OutOfRange(
                f"page {page_no} is past the end of database {db_id} ({size} pages) at LSN {lsn}"
            )
        return self.get_version(page_key(db_id, page_no), lsn)

    # ------------------------------------------------------------------ compaction

    def materialize(self, lsn: int) -> dict[int, tuple[int, bytes]]:
        """Every key's newest version at or below ``lsn`` (pages past a db's end dropped):
        the newest full image, then (by LSN) the partial images and delta layers above it."""
        if self.ancestor is not None and lsn <= self.ancestor_lsn:
            return self.ancestor.materialize(lsn)
        with self.lock:
            mems = [*self.frozen, self.open_layer]
            layers = list(self.layers)
        base = compaction.newest_full_image(layers, lsn)
        load = self.layer_store.load
        state: dict[int, tuple[int, bytes]]
        if base is not None:
            state = load(self.tenant, self.timeline_id, base).latest_at(lsn)
            base_lsn = base.hi
        elif self.ancestor is not None:
            state = self.ancestor.materialize(self.ancestor_lsn)
            base_lsn = self.ancestor_lsn
        else:
            state, base_lsn = {}, 0
        above = [d for d in compaction.live_deltas(layers, base_lsn, 1 << 64) if d.lo < lsn]
        above += [d for d in layers if d.kind == "image" and d.partial and base_lsn < d.hi <= lsn]
        try:
            for d in sorted(above, key=compaction.fold_order):
                entries = load(self.tenant, self.timeline_id, d).entries_upto(lsn)
                if d.kind == "image":
                    compaction.fold_image(state, d, entries)
                else:
                    compaction.fold(state, entries)
            for m in mems:  # frozen (oldest first), then the open layer
                if m.lo < lsn:
                    compaction.fold(state, [(k, v_lsn, data) for k in sorted(m.versions)
                                            for v_lsn, data in m.versions[k] if v_lsn <= lsn])
        except compaction.FoldError as exc:
            raise DataLoss(f"timeline {self.timeline_id}: {exc}") from exc
        _drop_past_end(state, {
            split_key(k)[0]: decode_size(v[1])
            for k, v in state.items()
            if k != TS_KEY and split_key(k)[1] == SIZE_PAGE
        })
        return state

    def materialize_parts(self, due: dict[int, LayerDesc], at: int) -> dict[int, tuple[int, bytes]]:
        """Every key of the partitions in ``due`` (partition -> its newest image) at ``at``:
        only those partitions' rows of that image and of the delta layers above it are read
        (the cost of a compaction follows what changed, not the database's size)."""
        with self.lock:
            layers = list(self.layers)
        load = self.layer_store.load
        state: dict[int, tuple[int, bytes]] = {}
        by_base: dict[str, list[int]] = {}
        for p, base in due.items():
            by_base.setdefault(base.name, []).append(p)
        for p_list in by_base.values():
            base = due[p_list[0]]
            ranges = part_ranges(sorted(p_list))
            for k, v_lsn, data in load(self.tenant, self.timeline_id, base).entries_in(ranges, at):
                state[k] = (v_lsn, data)
        floor = {p: base.hi for p, base in due.items()}
        try:
            for d in sorted(compaction.live_deltas(layers, min(floor.values()), at),
                            key=compaction.fold_order):
                mine = sorted(p for p in due if d.touches(p) and d.hi > floor[p])
                if mine:
                    entries = load(self.tenant, self.timeline_id, d).entries_in(
                        part_ranges(mine), at)
                    compaction.fold(state, entries, floor)
        except compaction.FoldError as exc:
            raise DataLoss(f"timeline {self.timeline_id}: {exc}") from exc
        dbs = {k >> 32 for k in state if k != TS_KEY}
        sizes = {db: self.db_size(db, at) for db in dbs}
        _drop_past_end(state, {db: n for db, n in sizes.items() if n is not None})
        return state

    def _compaction_due(self, img: LayerDesc | None, above: list[LayerDesc]) -> bool:
        """Automatic full compaction: enough deltas above the full image ``img`` (None:
        none yet), and either as many bytes as the image or COMPACTION_MAX_FACTOR times the
        threshold."""
        threshold = self.conf.compaction_threshold
        if len(above) < threshold:
            return False
        if len(above) >= threshold * COMPACTION_MAX_FACTOR:
            return True
        image_bytes = img.size if img is not None else 0
        return sum(d.size for d in above) >= image_bytes * COMPACTION_IMAGE_RATIO

    def compact(self, force: bool = False) -> str | None:
        """Write an image layer at the remote consistent LSN when deltas pile up: of the
        whole timeline (forced, the first, or above layers of before session 13), else of
        the partitions that are due (``compaction.due_partitions``), after merging the
        unmerged delta layers once ``merge_factor`` times the threshold of them are uploaded.
        Returns the new image layer's name (None: no image written)."""
        with self.compact_lock:
            with self.lock:
                if self.deleted:
                    return None
                at = self.remote_consistent_lsn
                layers = list(self.layers)
                if at <= self.ancestor_lsn:
                    return None
            full = compaction.newest_full_image(layers, at)
            deltas = compaction.live_deltas(layers, full.hi if full else -1, at)
            if force or full is None or any(d.parts is None for d in deltas):
                above = [d for d in deltas if d.remote]
                if full is not None and at <= full.hi or not above:
                    return None
                if not force and not self._compaction_due(full, above):
                    return None
                state = self.materialize(at)
                return self._write_image(at, state, None)
            horizon = self._pressure_horizon(int(time.time() * 1e6))
            seen = (at, horizon, len(layers), layers[0].name if layers else "")
            if seen == self._nothing_due:  # housekeeping asks twice a second
                return None
            merge = compaction.merge_candidates(
                layers, full.hi, self.conf.compaction_threshold * self.conf.merge_factor
            ) if self.conf.merge_factor > 0 else []
            if merge:
                self._merge(merge)
                with self.lock:
                    layers = list(self.layers)
            due = compaction.due_partitions(
                layers, at, threshold=self.conf.compaction_threshold,
                cap=self.conf.compaction_threshold * PARTITION_MAX_FACTOR,
                ratio=PARTITION_IMAGE_RATIO, horizon=horizon,
            )  # fmt: skip
            if not due:
                if not merge:
                    self._nothing_due = seen
                return None
            return self._write_image(at, self.materialize_parts(due, at), sorted(due))

    def _pressure_horizon(self, now_us: int) -> int:
        """The GC horizon of a retention window twice as long (0: none): a partition with a
        delta layer older than this is due (``compaction.due_partitions``), so that no delta
        layer waits forever on a partition that rarely changes. Twice the window, not the
        window: under TPC-B the cluster's WAL leaves a 256 MiB window in ~60k transactions,
        and the window's own horizon made every partition due that often (session 13)."""
        c = self.conf
        h = self.gc_horizon(now_us - int(c.retention_seconds * 1_000_000))
        if c.retention_lsn > 0:
            h = min(h, max(0, self.last_record_lsn - 2 * c.retention_lsn))
        return h

    def _write_image(
        self, at: int, state: dict[int, tuple[int, bytes]], parts: list[int] | None
    ) -> str:
        """Write and queue the upload of an image layer at ``at`` holding ``state``: every key
        (``parts`` None) or every key of ``parts`` (caller holds ``compact_lock``)."""
        failpoint("compaction-before-write")
        entries = sorted((k, v[0], v[1]) for k, v in state.items())
        data = encode_layer("image", at, at, entries, partial=parts is not None)
        name = f"I_{at:016X}_{uuid.uuid4().hex[:8]}"
        ts = [decode_ts(v[1]) for k, v in state.items() if k == TS_KEY]
        stats = image_stats(entries)
        if parts is not None:
            stats = {p: stats.get(p, 0) for p in parts}
        desc = LayerDesc(
            name, "image", at, at, len(data), sha256(data),
            ts[0] if ts else 0, ts[0] if ts else 0, len(entries),
            parts=stats, partial=parts is not None,
        )  # fmt: skip
        self.layer_store.write_local(self.tenant, self.timeline_id, name, data)
        failpoint("compaction-after-write")
        with self.lock:
            self._add_layer(desc)
        metrics.COMPACTIONS.inc()
        metrics.COMPACTION_BYTES.labels("partial" if parts is not None else "full").inc(len(data))
        self.uploads.submit(
            f"{self.timeline_id} image {name}", lambda: self._upload_layer(desc, None)
        )
        return name

    def _merge(self, run: list[LayerDesc]) -> None:
        """Merge the uploaded delta layers ``run`` (contiguous, oldest first) into one: it
        joins the layer list at once (reads may find a version in either) and replaces them
        in the manifest once uploaded; then their objects are deleted. A crash before that
        leaves them named and the merged object an orphan."""
        load = self.layer_store.load
        entries: list[tuple[int, int, bytes]] = []
        for d in run:
            entries.extend(load(self.tenant, self.timeline_id, d).entries_upto(1 << 64))
        entries.sort(key=lambda e: (e[0], e[1]))
        lo, hi = run[0].lo, run[-1].hi
        failpoint("merge-before-write")
        data = encode_layer("delta", lo, hi, entries)
        name = f"D_{lo:016X}_{hi:016X}_{uuid.uuid4().hex[:8]}"
        tss = [d for d in run if d.min_ts]
        desc = LayerDesc(
            name, "delta", lo, hi, len(data), sha256(data),
            min((d.min_ts for d in tss), default=0), max((d.max_ts for d in tss), default=0),
            len(entries), parts=part_stats(entries), merged=True,
        )  # fmt: skip
        self.layer_store.write_local(self.tenant, self.timeline_id, name, data)
        with self.lock:
            self._add_layer(desc)
        metrics.MERGE_BYTES.inc(len(data))
        names = {d.name for d in run}

        def task() -> None:
            self._upload_layer(desc, None)  # the object, then a manifest naming both
            with self.lock:
                if self.deleted or self.broken or not desc.remote:
                    return
                gone = [d for d in self.layers if d.name in names]
                self.layers = [d for d in self.layers if d.name not in names]
                self._publish_view()
            self.upload_manifest()  # first stop naming them, then delete
            for d in gone:
                self.layer_store.remote.delete(layer_key(self.tenant, self.timeline_id, d.name))
                self.layer_store.remove_local(self.tenant, self.timeline_id, d.name)

        self.uploads.submit(f"{self.timeline_id} merged delta {name}", task)

    # ------------------------------------------------------------------ gc

    def lease(self, lsn: int, ttl_s: float) -> float:
        """Keep ``lsn`` readable for ``ttl_s`` (renewing extends); returns the expiry
        (``time.monotonic()``). A lease below the branch point also leases the ancestor,
        whose history such reads use."""
        now = time.monotonic()
        with self.lock:
            self.check_readable(lsn)
            self.leases = {k: v for k, v in self.leases.items() if v > now}
            if lsn not in self.leases and len(self.leases) >= MAX_LEASES_PER_TIMELINE:
                raise ResourceExhausted(
                    f"timeline {self.timeline_id} holds {len(self.leases)} leases "
                    f"(limit {MAX_LEASES_PER_TIMELINE})"
                )
            if self.ancestor is not None and lsn < self.ancestor_lsn:
                self.ancestor.lease(lsn, ttl_s)
            expiry = max(self.leases.get(lsn, 0.0), now + ttl_s)
            self.leases[lsn] = expiry
            return expiry

    def oldest_lease(self) -> int | None:
        now = time.monotonic()
        with self.lock:
            live = [k for k, v in self.leases.items() if v > now]
            return min(live) if live else None

    def gc_horizon(self, now_us: int) -> int:
        """Lowest LSN the retention window still needs (0 = keep everything), held back by
        leases, and not moved at all during the lease grace period after a start."""
        with self.lock:
            if time.monotonic() < self.gc_blocked_until:
                return self.gc_cutoff_lsn
            cands: list[int] = []
            if self.conf.retention_lsn > 0:
                cands.append(max(0, self.last_record_lsn - self.conf.retention_lsn))
            if self.conf.retention_seconds > 0:
                cutoff = now_us - int(self.conf.retention_seconds * 1_000_000)
                old = [
                    d.hi
                    for d in self.layers
                    if d.kind == "delta" and d.remote and d.max_ts and d.max_ts <= cutoff
                ]
                cands.append(max(old, default=0))
            if not cands:
                return 0
            leased = self.oldest_lease()
            if leased is not None:
                cands.append(leased)
            return min(min(cands), self.remote_consistent_lsn)

    def gc(self, now_us: int | None = None) -> dict[str, Any]:
        """Drop layers no read inside the retention window or at a child's branch point
        needs; the manifest without them is uploaded before any object is deleted."""
        now_us = now_us if now_us is not None else int(time.time() * 1_000_000)
        with self.compact_lock:
            with self.lock:
                horizon = self.gc_horizon(now_us)
                branch_points = sorted(c.ancestor_lsn for c in self.children)
                removable = compaction.gc_removable(self.layers, horizon, branch_points)
                new_cutoff = max(self.gc_cutoff_lsn, horizon)
                changed = bool(removable) or new_cutoff != self.gc_cutoff_lsn
                self.gc_cutoff_lsn = new_cutoff
                gone = {d.name for d in removable}
                self.layers = [d for d in self.layers if d.name not in gone]
                self._publish_view()
        metrics.GC_RUNS.inc()
        if changed:

            def task() -> None:
                if self.deleted:
                    return
                self.upload_manifest()  # first stop naming them, then delete
                for d in removable:
                    self.layer_store.remote.delete(layer_key(self.tenant, self.timeline_id, d.name))
                    self.layer_store.remove_local(self.tenant, self.timeline_id, d.name)

            self.uploads.submit(f"{self.timeline_id} gc", task)
        metrics.GC_LAYERS_REMOVED.inc(len(removable))
        metrics.GC_BYTES_REMOVED.inc(sum(d.size for d in removable))
        return {
            "horizon": horizon,
            "gc_cutoff_lsn": self.gc_cutoff_lsn,
            "removed": sorted(gone),
            "removed_bytes": sum(d.size for d in removable),
            "branch_points": branch_points,
        }

    # ------------------------------------------------------------------ PITR

    def lsn_for_timestamp(self, ts_us: int, upper: int | None = None) -> int | None:
        """End LSN of the last commit at or before ``ts_us`` (None: no such commit)."""
        with self.lock:
            upper = self.last_record_lsn if upper is None else upper
            mems = [self.open_layer, *self.frozen]
            layers = list(self.layers)
        best: int | None = None

        def consider(versions: list[tuple[int, bytes]]) -> None:
            nonlocal best
            for lsn, data in versions:
                if lsn <= upper and decode_ts(data) <= ts_us and (best is None or lsn > best):
                    best = lsn

        for m in mems:
            consider(m.versions_of(TS_KEY))
        for d in layers:
            if d.lo >= upper or (best is not None and d.hi <= best):
                continue
            if d.kind == "delta" and (d.min_ts == 0 or d.min_ts > ts_us):
                continue
            consider(self.layer_store.load(self.tenant, self.timeline_id, d).versions_of(TS_KEY))
        if best is None and self.ancestor is not None:
            return self.ancestor.lsn_for_timestamp(ts_us, min(upper, self.ancestor_lsn))
        return best

    # ------------------------------------------------------------------ info

    def info(self) -> dict[str, Any]:
        with self.lock:
            return {
                "tenant": self.tenant,
                "timeline": self.timeline_id,
                "ancestor_timeline": self.ancestor.timeline_id if self.ancestor else "",
                "ancestor_lsn": self.ancestor_lsn,
                "last_record_lsn": self.last_record_lsn,
                "received_lsn": self.received_lsn,
                "remote_consistent_lsn": self.remote_consistent_lsn,
                "gc_cutoff_lsn": self.gc_cutoff_lsn,
                "wal_source": self.wal_source,
                "log_timeline": self.log_timeline,
                "layers_delta": sum(1 for d in self.layers if d.kind == "delta"),
                "layers_image": sum(1 for d in self.layers if d.kind == "image"),
                "last_commit_ts_us": self.last_commit_ts,
                "ingest_state": self.ingest_state,
                "consistent_lsn": self.consistent_lsn(),
            }
