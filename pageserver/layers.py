"""Layers: the page server's unit of storage.

A layer holds page versions keyed by ``(key, lsn)`` where ``key = db_id << 32 | page_no``.
A version is a full page image, or (session 12, delta layers and in-memory layers only) a
``Delta``: the WAL's page delta against the key's previous version, kept as it came instead
of composed at ingest. A read takes the newest version at or below its LSN and, if that is a
delta, the versions below it down to an image, and applies them (``Timeline``); chains are
bounded (``MAX_DELTA_CHAIN``), and image layers hold full images only.

- ``InMemoryLayer``: the open (being ingested) or frozen (being flushed) layer; versions
  with ``lo < lsn <= hi``.
- Delta layer file: the same content, immutable, sorted by (key, lsn).
- Image layer file: the newest version of every key of a timeline as of one LSN, made by
  compaction; a read at ``lsn >= L`` never needs anything older than the image.

Database sizes and commit timestamps are stored as ordinary versions under reserved keys,
so flushing, compaction, GC and branching treat them exactly like pages.

Files are Arrow IPC (LZ4 compressed; files written before session 7: zstd) with columns
``key: uint64, lsn: uint64, data: large_binary`` and the layer's kind/range in the schema
metadata. Integrity is a SHA-256 of the whole file, recorded in the timeline manifest.

Reading per key (session 7): a file is written in record batches of about
``LAYER_BATCH_BYTES`` of page data. Loading a layer decodes only the ``key`` and ``lsn``
columns (Arrow IPC reads only the fields asked for: ``IpcReadOptions(included_fields=)``);
a page's bytes come from decoding the one batch that holds it, kept in a bounded cache of
decoded batches (``BatchCache``, the page server's ``LayerStore``). Files written before
(one batch of up to 64k entries) read the same way: their one batch is the whole file. The
format string is unchanged: the layout is the same Arrow IPC file, so the old reader
(``read_all``) reads new files and the new one old files.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import struct
import threading
from array import array
from collections.abc import Hashable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.ipc as ipc

from strata.wal import PAGE_SIZE, WalFormatError

SIZE_PAGE = 0xFFFFFFFF
"""Reserved page number: a version of (db_id, SIZE_PAGE) is the db size in pages (u32 LE)."""
TS_KEY = (0xFFFFFFFF << 32) | 0xFFFFFFFF
"""Reserved key: one version per commit, data = commit timestamp in µs (i64 LE)."""

_SCHEMA = pa.schema([("key", pa.uint64()), ("lsn", pa.uint64()), ("data", pa.large_binary())])
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
FORMAT = "strata-layer-1"
FORMAT_DELTAS = "strata-layer-2"
"""A file holding at least one ``Delta`` version (session 12): each ``data`` value starts with
a kind byte (``_TAG_IMAGE`` or ``_TAG_DELTA``). Files without deltas keep ``FORMAT`` byte for
byte; a page server older than session 12 refuses a ``FORMAT_DELTAS`` file as an unknown
format (DATA_LOSS) instead of serving a delta as a page."""
FORMAT_PARTIAL = "strata-layer-3"
"""An image layer holding only some key partitions (session 13; the manifest names them):
laid out as ``FORMAT``, with its own format string so that a page server older than session
13, which would take it for an image of every key and answer "no such page" for the others,
refuses it as an unknown format (DATA_LOSS) instead."""
_TAG_IMAGE = b"\x00"
_TAG_DELTA = b"\x01"
LAYER_BATCH_BYTES = 64 * 1024
"""Bytes of page data per record batch of a layer file (a batch holds at least one entry):
a read of one page decodes one batch of this size instead of the whole file (an image
layer of a 10-scale pgbench database is ~160 MB decoded). Smaller batches compress a
little worse and cost more per-batch overhead; see docs/decisions/0012-layer-files-read-per-key.md."""
LAYER_CODEC = "lz4"
"""Compression of the files written (any codec reads: Arrow IPC records it per buffer).
LZ4 decodes a 64 KiB batch in ~10 µs where zstd takes ~40 µs (a fixed cost per buffer)
and writes faster; zstd files of pgbench pages are ~2x smaller (docs/decisions/0012)."""
_BATCH_ENTRY_OVERHEAD = 16
"""Bytes a (key, lsn) pair adds to a batch's size when cutting batches."""
_INDEX_BYTES_PER_ENTRY = 80
"""Memory of one entry of a loaded layer's key/lsn lists (two Python ints and pointers)."""
PART_SHIFT = 11
"""Keys are grouped in partitions of ``2**PART_SHIFT`` consecutive keys (2,048 pages, 8 MiB of
one database; a db's size key and the commit timestamps key fall in partitions of their
own). Since session 13 compaction writes image layers per set of partitions: only the
partitions whose deltas call for it are rewritten (``Timeline.compact``)."""


def part_of(key: int) -> int:
    return key >> PART_SHIFT


def part_ranges(parts: list[int]) -> list[tuple[int, int]]:
    """Key ranges ``[a, b)`` of sorted ``parts``, adjacent partitions joined."""
    out: list[tuple[int, int]] = []
    for p in parts:
        a, b = p << PART_SHIFT, (p + 1) << PART_SHIFT
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def part_stats(entries: list[tuple[int, int, bytes]]) -> dict[int, int]:
    """Partition -> bytes of page deltas (``Delta`` values) among ``entries``; every partition
    holding an entry is there (0 if it holds only images): a delta layer's ``parts``."""
    out: dict[int, int] = {}
    for k, _, data in entries:
        p = k >> PART_SHIFT
        out[p] = out.get(p, 0) + (len(data) if type(data) is Delta else 0)
    return out


def image_stats(entries: list[tuple[int, int, bytes]]) -> dict[int, int]:
    """Partition -> bytes of the versions among ``entries``: an image layer's ``parts``."""
    out: dict[int, int] = {}
    for k, _, data in entries:
        p = k >> PART_SHIFT
        out[p] = out.get(p, 0) + len(data)
    return out


class Delta(bytes):
    """A page version kept as the delta (``strata.wal.apply_delta`` runs) against the key's
    previous version, as it came in the WAL (session 12): composed only when read, at
    compaction, or when the chain of deltas on a key gets long (``Timeline``). Everything
    else in a layer is a full image (a plain ``bytes``)."""

    __slots__ = ()


_RUN = struct.Struct("<HH")
"""A run header of a page delta (``strata.wal``: offset in the page, length of its bytes)."""


def apply_deltas(base: bytes, deltas: list[bytes]) -> bytes:
    """``base`` with each of ``deltas`` (oldest first) applied, as ``strata.wal.apply_delta``
    one after the other would give, with one copy of the page for the whole chain instead
    of one per delta (a run is a slice assignment). WalFormatError on a base that is not a
    page or a run that does not fit (deltas are checked when their record is decoded)."""
    if len(base) != PAGE_SIZE:
        raise WalFormatError(f"page delta applied to a base of {len(base)} bytes")
    buf = bytearray(base)
    unpack = _RUN.unpack_from
    for delta in deltas:
        view = memoryview(delta)
        pos = 0
        end = len(delta)
        while pos < end:
            off, n = unpack(delta, pos)
            pos += 4
            if pos + n > end or off + n > PAGE_SIZE:
                raise WalFormatError("page delta run does not fit")
            buf[off : off + n] = view[pos : pos + n]
            pos += n
    return bytes(buf)


class LayerCorrupt(Exception):
    """A layer file failed its checksum or does not parse."""


def page_key(db_id: int, page_no: int) -> int:
    assert 0 <= db_id <= 0xFFFFFFFF and 0 <= page_no <= 0xFFFFFFFF
    return (db_id << 32) | page_no


def size_key(db_id: int) -> int:
    return page_key(db_id, SIZE_PAGE)


def split_key(key: int) -> tuple[int, int]:
    return key >> 32, key & 0xFFFFFFFF


def encode_size(pages: int) -> bytes:
    return _U32.pack(pages)


def decode_size(data: bytes) -> int:
    return int(_U32.unpack(data)[0])


def encode_ts(ts_us: int) -> bytes:
    return _I64.pack(ts_us)


def decode_ts(data: bytes) -> int:
    return int(_I64.unpack(data)[0])


@dataclass
class LayerDesc:
    """What the manifest says about one layer file. Images have ``lo == hi == L``."""

    name: str
    kind: str  # "delta" | "image"
    lo: int
    hi: int
    size: int
    sha256: str
    min_ts: int = 0
    max_ts: int = 0
    entries: int = 0
    remote: bool = False
    parts: dict[int, int] | None = None
    """Session 13. A delta layer: partition -> bytes of page deltas, for every partition it
    holds a version of (None, files written before: it may hold any key). An image layer:
    partition -> bytes of its pages (None: not recorded)."""
    partial: bool = False
    """An image layer holding only the partitions in ``parts`` (every key of those, as of its
    LSN); False: it holds every key of the timeline (every image before session 13)."""
    merged: bool = False
    """A delta layer made by merging delta layers (session 13), never merged again."""
    superseded: bool = field(default=False, compare=False)
    """In memory only: a merged layer holding this one's versions is being uploaded; this one
    leaves the layer list once it is (reads may use either meanwhile)."""

    def touches(self, part: int) -> bool:
        """A delta layer may hold a version of a key of ``part``."""
        return self.parts is None or part in self.parts

    def covers(self, part: int) -> bool:
        """An image layer holds every key of ``part`` as of its LSN."""
        return not self.partial or part in (self.parts or ())

    def to_json(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.parts is not None:
            extra["parts"] = {str(p): n for p, n in sorted(self.parts.items())}
        if self.partial:
            extra["partial"] = True
        if self.merged:
            extra["merged"] = True
        return extra | {
            "name": self.name,
            "kind": self.kind,
            "lo": self.lo,
            "hi": self.hi,
            "size": self.size,
            "sha256": self.sha256,
            "min_ts": self.min_ts,
            "max_ts": self.max_ts,
            "entries": self.entries,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LayerDesc:
        desc = cls(
            name=str(d["name"]),
            kind=str(d["kind"]),
            lo=int(d["lo"]),
            hi=int(d["hi"]),
            size=int(d["size"]),
            sha256=str(d["sha256"]),
            min_ts=int(d.get("min_ts", 0)),
            max_ts=int(d.get("max_ts", 0)),
            entries=int(d.get("entries", 0)),
            remote=True,
            parts=({int(p): int(n) for p, n in d["parts"].items()} if "parts" in d else None),
            partial=bool(d.get("partial", False)),
            merged=bool(d.get("merged", False)),
        )
        assert desc.kind in ("delta", "image"), desc.kind
        assert not (desc.partial and desc.parts is None), "a partial image names its partitions"
        assert desc.lo <= desc.hi
        return desc


@dataclass
class InMemoryLayer:
    """Versions ingested since the last flush. Mutated only under the timeline lock."""

    lo: int
    hi: int | None = None  # set when frozen
    versions: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)
    nbytes: int = 0
    min_ts: int = 0
    max_ts: int = 0

    def put(self, key: int, lsn: int, data: bytes) -> None:
        assert self.hi is None, "frozen layers are immutable"
        assert lsn > self.lo, (lsn, self.lo)
        chain = self.versions.get(key)
        if chain is None:
            self.versions[key] = [(lsn, data)]
        elif chain[-1][0] == lsn:  # same page twice in one transaction: last image wins
            self.nbytes -= len(chain[-1][1])
            chain[-1] = (lsn, data)
        else:
            assert chain[-1][0] < lsn, "versions arrive in LSN order"
            chain.append((lsn, data))
        self.nbytes += len(data) + 32
        if key == TS_KEY:
            ts = decode_ts(data)
            self.min_ts = ts if self.min_ts == 0 else min(self.min_ts, ts)
            self.max_ts = max(self.max_ts, ts)

    def get(self, key: int, lsn: int) -> tuple[int, bytes] | None:
        chain = self.versions.get(key)
        if not chain:
            return None
        i = bisect.bisect_right(chain, lsn, key=lambda v: v[0]) - 1
        return chain[i] if i >= 0 else None

    def versions_of(self, key: int) -> list[tuple[int, bytes]]:
        return list(self.versions.get(key, ()))

    def chain_at(self, key: int, lsn: int) -> list[tuple[int, bytes]]:
        """Versions of ``key`` at or below ``lsn``, newest first, down to the first image
        (included) or this layer's oldest version."""
        chain = self.versions.get(key)
        if not chain:
            return []
        i = bisect.bisect_right(chain, lsn, key=lambda v: v[0]) - 1
        out: list[tuple[int, bytes]] = []
        while i >= 0:
            v = chain[i]
            out.append(v)
            if type(v[1]) is not Delta:
                break
            i -= 1
        return out

    def empty(self) -> bool:
        return not self.versions


def batch_bounds(entries: list[tuple[int, int, bytes]], batch_bytes: int) -> list[int]:
    """Row indexes where the record batches of a layer file start, plus the end (``[0]``: no
    entries, no batch): a batch is closed before the entry that would take it past
    ``batch_bytes``, and never empty."""
    cuts = [0]
    acc = 0
    for i, e in enumerate(entries):
        size = len(e[2]) + _BATCH_ENTRY_OVERHEAD
        if acc and acc + size > batch_bytes:
            cuts.append(i)
            acc = 0
        acc += size
    if len(entries) > cuts[-1]:
        cuts.append(len(entries))
    return cuts


def _binary_column(values: list[bytes], tagged: bool = False) -> pa.LargeBinaryArray:
    """``values`` as a large_binary array over one joined buffer: one allocation and one
    copy (``pa.array`` grows its buffer by doubling; in the page server, with fresh memory
    each flush, that cost ~14% of its CPU under TPC-B: py-spy, session 7). ``tagged``: each
    value preceded by its kind byte (``FORMAT_DELTAS``), in the same one join."""
    if tagged:
        offsets = array("q", accumulate((len(v) + 1 for v in values), initial=0))
        parts: list[bytes] = []
        for v in values:
            parts.append(_TAG_DELTA if type(v) is Delta else _TAG_IMAGE)
            parts.append(v)
        joined = b"".join(parts)
    else:
        offsets = array("q", accumulate(map(len, values), initial=0))
        joined = b"".join(values)
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(joined)]
    )


def encode_layer(
    kind: str,
    lo: int,
    hi: int,
    entries: list[tuple[int, int, bytes]],
    batch_bytes: int | None = None,
    partial: bool = False,
) -> bytes:
    """Serialize sorted (key, lsn, data) entries as an Arrow IPC file, in record batches of
    about ``batch_bytes`` (default ``LAYER_BATCH_BYTES``) of page data. ``FORMAT_DELTAS`` if
    any data is a ``Delta`` (only delta layers may hold one), ``FORMAT_PARTIAL`` for an
    image of some partitions (``partial``), else ``FORMAT``."""
    assert kind in ("delta", "image")
    deltas = any(type(e[2]) is Delta for e in entries)
    assert not (deltas and kind == "image"), "an image layer holds full pages only"
    assert all(
        (entries[i][0], entries[i][1]) < (entries[i + 1][0], entries[i + 1][1])
        for i in range(len(entries) - 1)
    ), "entries must be strictly sorted by (key, lsn)"
    assert not (partial and kind != "image")
    fmt = FORMAT_DELTAS if deltas else FORMAT_PARTIAL if partial else FORMAT
    schema = _SCHEMA.with_metadata({"format": fmt, "kind": kind, "lo": str(lo), "hi": str(hi)})
    batch = pa.record_batch(
        [
            pa.array([e[0] for e in entries], pa.uint64()),
            pa.array([e[1] for e in entries], pa.uint64()),
            _binary_column([e[2] for e in entries], deltas),
        ],
        schema=schema,
    )
    cuts = batch_bounds(entries, LAYER_BATCH_BYTES if batch_bytes is None else batch_bytes)
    sink = pa.BufferOutputStream()
    opts = ipc.IpcWriteOptions(compression=LAYER_CODEC)
    with ipc.new_file(sink, schema, options=opts) as writer:
        for a, b in zip(cuts, cuts[1:], strict=False):
            writer.write_batch(batch.slice(a, b - a))
    return bytes(sink.getvalue().to_pybytes())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class DecodedBatch:
    """The ``data`` column of one record batch of a layer file, decoded."""

    __slots__ = ("offsets", "data", "nbytes")

    def __init__(self, col: pa.LargeBinaryArray) -> None:
        bufs = col.buffers()
        assert bufs[1] is not None
        self.offsets = memoryview(bufs[1]).cast("q")[col.offset : col.offset + len(col) + 1]
        self.data = memoryview(bufs[2]) if bufs[2] is not None else memoryview(b"")
        self.nbytes = self.data.nbytes + 8 * len(col) + 200

    def at(self, j: int) -> bytes:
        return bytes(self.data[self.offsets[j] : self.offsets[j + 1]])

    def at_tagged(self, j: int) -> bytes:
        """Value ``j`` of a ``FORMAT_DELTAS`` file: a ``Delta`` or an image (``bytes``)."""
        a = self.offsets[j]
        body = self.data[a + 1 : self.offsets[j + 1]]
        return Delta(body) if self.data[a] == _TAG_DELTA[0] else bytes(body)


class BatchCache(Protocol):
    """Where a loaded layer keeps its decoded batches (the page server's ``LayerStore``:
    bounded, shared by every layer; hits take no lock)."""

    def get_batch(self, key: Hashable) -> DecodedBatch | None: ...

    def put_batch(self, key: Hashable, batch: DecodedBatch) -> None: ...


class _OwnBatches:
    """A layer's own unbounded batch cache (a layer loaded outside a ``LayerStore``)."""

    def __init__(self) -> None:
        self._d: dict[Hashable, DecodedBatch] = {}

    def get_batch(self, key: Hashable) -> DecodedBatch | None:
        return self._d.get(key)

    def put_batch(self, key: Hashable, batch: DecodedBatch) -> None:
        self._d[key] = batch


def _ipc_reader(buf: pa.Buffer, fields: list[int]) -> ipc.RecordBatchFileReader:
    # no thread pool: a batch is small, and handing its buffers to threads costs more
    opts = ipc.IpcReadOptions(use_threads=False, included_fields=fields)
    return ipc.open_file(pa.BufferReader(buf), options=opts)


class LoadedLayer:
    """A layer file opened for random access: sorted key/lsn lists in memory, each page's
    bytes decoded with its record batch on first use (``BatchCache``)."""

    def __init__(
        self,
        data: bytes,
        expect_sha256: str | None = None,
        *,
        cache: BatchCache | None = None,
        cache_key: Hashable = "",
    ) -> None:
        if expect_sha256 is not None and sha256(data) != expect_sha256:
            raise LayerCorrupt("checksum mismatch")
        self._buf = pa.py_buffer(data)
        try:
            reader = _ipc_reader(self._buf, [0, 1])  # the data column stays compressed
            meta = {k.decode(): v.decode() for k, v in (reader.schema.metadata or {}).items()}
            index = reader.read_all()  # one chunk per record batch
            key_col = index.column(0)
            if key_col.num_chunks != reader.num_record_batches:
                raise LayerCorrupt(f"{key_col.num_chunks} chunks for "
                                   f"{reader.num_record_batches} record batches")
            starts = [0]
            for chunk in key_col.chunks:
                starts.append(starts[-1] + len(chunk))
            keys: list[int] = key_col.to_pylist()
            lsns: list[int] = index.column(1).to_pylist()
            self._data_reader = _ipc_reader(self._buf, [2])
        except (pa.ArrowInvalid, pa.ArrowException, UnicodeDecodeError) as exc:
            raise LayerCorrupt(f"unreadable layer: {exc}") from exc
        if meta.get("format") not in (FORMAT, FORMAT_DELTAS, FORMAT_PARTIAL):
            raise LayerCorrupt(f"unknown layer format {meta.get('format')!r}")
        self.has_deltas = meta["format"] == FORMAT_DELTAS
        self.kind = meta["kind"]
        self.lo = int(meta["lo"])
        self.hi = int(meta["hi"])
        self.keys = keys
        self.lsns = lsns
        self._starts = starts
        """Row index where each record batch starts, plus the row count."""
        self._cache: BatchCache = cache if cache is not None else _OwnBatches()
        self._cache_key = cache_key
        self._read_lock = threading.Lock()
        self.batches_decoded = 0
        self.nbytes = len(data) + len(keys) * _INDEX_BYTES_PER_ENTRY + 8 * len(starts)
        """Memory held for this layer (the file and its index); decoded batches are counted
        by the cache that holds them."""

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def n_batches(self) -> int:
        return len(self._starts) - 1

    def _decode(self, b: int) -> DecodedBatch:
        """Decode batch ``b``'s data column and give it to the cache."""
        batch = self._batch_uncached(b)
        self.batches_decoded += 1
        self._cache.put_batch((self._cache_key, b), batch)
        return batch

    def data_at(self, i: int) -> bytes:
        starts = self._starts
        b = bisect.bisect_right(starts, i) - 1
        batch = self._cache.get_batch((self._cache_key, b))
        if batch is None:
            batch = self._decode(b)
        if self.has_deltas:
            return batch.at_tagged(i - starts[b])
        return batch.at(i - starts[b])

    def get(self, key: int, lsn: int) -> tuple[int, bytes] | None:
        """The newest version of ``key`` at or below ``lsn`` in this layer."""
        lo = bisect.bisect_left(self.keys, key)
        hi = bisect.bisect_right(self.keys, key, lo)
        if lo == hi:
            return None
        i = bisect.bisect_right(self.lsns, lsn, lo, hi) - 1
        if i < lo:
            return None
        return self.lsns[i], self.data_at(i)

    def chain_at(self, key: int, lsn: int) -> list[tuple[int, bytes]]:
        """``InMemoryLayer.chain_at`` of this file."""
        lo = bisect.bisect_left(self.keys, key)
        hi = bisect.bisect_right(self.keys, key, lo)
        i = bisect.bisect_right(self.lsns, lsn, lo, hi) - 1
        out: list[tuple[int, bytes]] = []
        while i >= lo:
            data = self.data_at(i)
            out.append((self.lsns[i], data))
            if type(data) is not Delta:
                break
            i -= 1
        return out

    def versions_of(self, key: int) -> list[tuple[int, bytes]]:
        lo = bisect.bisect_left(self.keys, key)
        hi = bisect.bisect_right(self.keys, key, lo)
        return [(self.lsns[i], self.data_at(i)) for i in range(lo, hi)]

    def _whole(self) -> DecodedBatch:
        """The whole data column decoded once, not through the batch cache (compaction: it
        would evict every hot batch)."""
        try:
            col = _ipc_reader(self._buf, [2]).read_all().column(0).combine_chunks()
        except (pa.ArrowInvalid, pa.ArrowException) as exc:
            raise LayerCorrupt(f"unreadable layer: {exc}") from exc
        assert isinstance(col, pa.LargeBinaryArray) and len(col) == len(self.keys)
        return DecodedBatch(col)

    def latest_at(self, lsn: int) -> dict[int, tuple[int, bytes]]:
        """Every key's newest version at or below ``lsn`` (a ``Delta`` stays one)."""
        if not self.keys:
            return {}
        whole = self._whole()
        at = whole.at_tagged if self.has_deltas else whole.at
        out: dict[int, tuple[int, bytes]] = {}
        keys, lsns = self.keys, self.lsns
        for i in range(len(keys)):
            if lsns[i] <= lsn:
                out[keys[i]] = (lsns[i], at(i))
        return out

    def _batch_uncached(self, b: int) -> DecodedBatch:
        """Batch ``b`` decoded, not through the batch cache (compaction; ``_decode`` caches it)."""
        try:
            with self._read_lock:  # one reader object: one batch read at a time
                rb = self._data_reader.get_batch(b)
        except (pa.ArrowInvalid, pa.ArrowException) as exc:
            raise LayerCorrupt(f"unreadable batch {b} of layer: {exc}") from exc
        col = rb.column(0)
        if len(col) != self._starts[b + 1] - self._starts[b]:
            raise LayerCorrupt(f"batch {b} has {len(col)} pages, its index says otherwise")
        assert isinstance(col, pa.LargeBinaryArray)
        return DecodedBatch(col)

    def entries_in(self, ranges: list[tuple[int, int]], lsn: int) -> list[tuple[int, int, bytes]]:
        """Every (key, lsn, data) with the key in one of the sorted, disjoint ``ranges``
        (``[a, b)``) and at or below ``lsn``, sorted by (key, lsn): only the record batches
        holding those rows are decoded (compaction of some partitions)."""
        keys, lsns, starts = self.keys, self.lsns, self._starts
        out: list[tuple[int, int, bytes]] = []
        batch: DecodedBatch | None = None
        bno = -1
        for a, b in ranges:
            i = bisect.bisect_left(keys, a)
            j = bisect.bisect_left(keys, b, i)
            for r in range(i, j):
                if lsns[r] > lsn:
                    continue
                if batch is None or not starts[bno] <= r < starts[bno + 1]:
                    bno = bisect.bisect_right(starts, r) - 1
                    batch = self._batch_uncached(bno)
                j0 = r - starts[bno]
                data = batch.at_tagged(j0) if self.has_deltas else batch.at(j0)
                out.append((keys[r], lsns[r], data))
        return out

    def entries_upto(self, lsn: int) -> list[tuple[int, int, bytes]]:
        """Every (key, lsn, data) at or below ``lsn``, sorted by (key, lsn): compaction folds
        a layer's deltas onto the versions below them."""
        if not self.keys:
            return []
        whole = self._whole()
        at = whole.at_tagged if self.has_deltas else whole.at
        keys, lsns = self.keys, self.lsns
        return [(keys[i], lsns[i], at(i)) for i in range(len(keys)) if lsns[i] <= lsn]


def write_file_atomic(path: str, data: bytes) -> None:
    """Write, fsync, rename: a crash leaves either no file or the whole file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
