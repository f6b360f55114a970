"""Layers: the page server's unit of storage.

A layer holds page versions keyed by ``(key, lsn)`` where ``key = db_id << 32 | page_no``.
Every version is a full page image (the WAL carries full pages), so a read needs only the
newest version at or below its LSN — never a chain of deltas to replay.

- ``InMemoryLayer``: the open (being ingested) or frozen (being flushed) layer; versions
  with ``lo < lsn <= hi``.
- Delta layer file: the same content, immutable, sorted by (key, lsn).
- Image layer file: the newest version of every key of a timeline as of one LSN, made by
  compaction; a read at ``lsn >= L`` never needs anything older than the image.

Database sizes and commit timestamps are stored as ordinary versions under reserved keys,
so flushing, compaction, GC and branching treat them exactly like pages.

Files are Arrow IPC (zstd compressed) with columns ``key: uint64, lsn: uint64, data:
large_binary`` and the layer's kind/range in the schema metadata. Integrity is a SHA-256 of
the whole file, recorded in the timeline manifest.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

SIZE_PAGE = 0xFFFFFFFF
"""Reserved page number: a version of (db_id, SIZE_PAGE) is the db size in pages (u32 LE)."""
TS_KEY = (0xFFFFFFFF << 32) | 0xFFFFFFFF
"""Reserved key: one version per commit, data = commit timestamp in µs (i64 LE)."""

_SCHEMA = pa.schema([("key", pa.uint64()), ("lsn", pa.uint64()), ("data", pa.large_binary())])
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
FORMAT = "strata-layer-1"


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

    def to_json(self) -> dict[str, Any]:
        return {
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
        )
        assert desc.kind in ("delta", "image"), desc.kind
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

    def empty(self) -> bool:
        return not self.versions


def encode_layer(kind: str, lo: int, hi: int, entries: list[tuple[int, int, bytes]]) -> bytes:
    """Serialize sorted (key, lsn, data) entries as an Arrow IPC file."""
    assert kind in ("delta", "image")
    assert all(
        (entries[i][0], entries[i][1]) < (entries[i + 1][0], entries[i + 1][1])
        for i in range(len(entries) - 1)
    ), "entries must be strictly sorted by (key, lsn)"
    table = pa.table(
        {
            "key": pa.array([e[0] for e in entries], pa.uint64()),
            "lsn": pa.array([e[1] for e in entries], pa.uint64()),
            "data": pa.array([e[2] for e in entries], pa.large_binary()),
        },
        schema=_SCHEMA.with_metadata(
            {"format": FORMAT, "kind": kind, "lo": str(lo), "hi": str(hi)}
        ),
    )
    sink = pa.BufferOutputStream()
    opts = ipc.IpcWriteOptions(compression="zstd")
    with ipc.new_file(sink, table.schema, options=opts) as writer:
        writer.write_table(table, max_chunksize=64 * 1024)
    return bytes(sink.getvalue().to_pybytes())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LoadedLayer:
    """A layer file decoded for random access: sorted key/lsn lists plus one data buffer."""

    def __init__(self, data: bytes, expect_sha256: str | None = None) -> None:
        if expect_sha256 is not None and sha256(data) != expect_sha256:
            raise LayerCorrupt("checksum mismatch")
        try:
            reader = ipc.open_file(pa.BufferReader(data))
            meta = {k.decode(): v.decode() for k, v in (reader.schema.metadata or {}).items()}
            table = reader.read_all()
        except (pa.ArrowInvalid, pa.ArrowException, UnicodeDecodeError) as exc:
            raise LayerCorrupt(f"unreadable layer: {exc}") from exc
        if meta.get("format") != FORMAT:
            raise LayerCorrupt(f"unknown layer format {meta.get('format')!r}")
        self.kind = meta["kind"]
        self.lo = int(meta["lo"])
        self.hi = int(meta["hi"])
        self.keys: list[int] = table.column("key").to_pylist()
        self.lsns: list[int] = table.column("lsn").to_pylist()
        col = table.column("data").combine_chunks()
        assert isinstance(col, pa.LargeBinaryArray)
        bufs = col.buffers()
        assert bufs[1] is not None
        self._offsets = memoryview(bufs[1]).cast("q")[col.offset : col.offset + len(col) + 1]
        self._data = memoryview(bufs[2]) if bufs[2] is not None else memoryview(b"")
        self.nbytes = len(data) + len(self.keys) * 80 + self._data.nbytes

    def __len__(self) -> int:
        return len(self.keys)

    def data_at(self, i: int) -> bytes:
        return bytes(self._data[self._offsets[i] : self._offsets[i + 1]])

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

    def versions_of(self, key: int) -> list[tuple[int, bytes]]:
        lo = bisect.bisect_left(self.keys, key)
        hi = bisect.bisect_right(self.keys, key, lo)
        return [(self.lsns[i], self.data_at(i)) for i in range(lo, hi)]

    def latest_at(self, lsn: int) -> dict[int, tuple[int, bytes]]:
        """Every key's newest version at or below ``lsn`` (for compaction)."""
        out: dict[int, tuple[int, bytes]] = {}
        keys, lsns = self.keys, self.lsns
        for i in range(len(keys)):
            if lsns[i] <= lsn:
                out[keys[i]] = (lsns[i], self.data_at(i))
        return out


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
