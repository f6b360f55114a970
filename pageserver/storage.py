"""Local layer files, on-demand download from object storage, and the ordered upload queue.

The local disk is only a cache: the per-timeline manifest in object storage is the truth.
A layer read from disk is checked against the manifest's SHA-256; a mismatch (bit rot, a
torn write) deletes the local copy and downloads the object again.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import cast

from pageserver import metrics
from pageserver.layers import (
    DecodedBatch,
    LayerCorrupt,
    LayerDesc,
    LoadedLayer,
    sha256,
    write_file_atomic,
)
from strata.objectstore import ObjectNotFound, ObjectStore

log = logging.getLogger("strata.pageserver.storage")


class UploadAbandoned(Exception):
    """An upload task that can never succeed (its data is gone): the queue logs it and moves
    on instead of retrying, so one lost layer cannot block every later upload."""


class LayerUnavailable(Exception):
    """A layer is corrupt or missing both locally and in object storage."""


def timeline_prefix(tenant: str, timeline: str) -> str:
    return f"tenants/{tenant}/timelines/{timeline}/"


def layer_key(tenant: str, timeline: str, name: str) -> str:
    return f"{timeline_prefix(tenant, timeline)}layers/{name}"


def manifest_key(tenant: str, timeline: str) -> str:
    return f"{timeline_prefix(tenant, timeline)}index.json"


def _layer_of(cache_key: Hashable) -> str:
    """The layer a cache entry belongs to: a layer's key, or the first item of a batch's."""
    if isinstance(cache_key, tuple):
        return str(cache_key[0])
    return str(cache_key)


EVICT_TO = 0.875
"""When the layer cache is over its budget, evict least recently used entries until it holds
at most this fraction of it: one sort per pass instead of one scan per evicted entry (the
cache holds thousands of decoded batches)."""


_fp_hits: dict[str, int] = {}


def failpoint(name: str) -> None:
    """Crash-test hook: ``STRATA_PAGESERVER_FAILPOINTS=name=pause[@N]`` blocks forever at the
    Nth hit (default 1st), after printing ``FAILPOINT name`` to stdout, so a test can SIGKILL
    the process at exactly this step; ``exit`` instead of ``pause`` exits at once."""
    spec = os.environ.get("STRATA_PAGESERVER_FAILPOINTS", "")
    if not spec:
        return
    for item in spec.split(","):
        fp, _, action = item.partition("=")
        if fp.strip() != name:
            continue
        action, _, nth = action.partition("@")
        _fp_hits[name] = _fp_hits.get(name, 0) + 1
        if _fp_hits[name] != int(nth or 1):
            return
        print(f"FAILPOINT {name}", flush=True)
        if action == "pause":
            log.warning("FAILPOINT %s hit: pausing", name)
            while True:
                time.sleep(3600)
        elif action == "exit":
            os._exit(77)


class LayerStore:
    """Layer bytes: a bounded in-memory cache over local files over S3.

    The cache (``cache_bytes``) holds two kinds of entries in one LRU: loaded layers (the
    file's bytes and its key/lsn index, ``LoadedLayer``) under ``tenant/timeline/name``, and
    decoded record batches of their data column (``DecodedBatch``) under ``(that, i)``:
    a read of one page decodes one batch, never the whole file."""

    def __init__(self, data_dir: str, remote: ObjectStore, cache_bytes: int) -> None:
        self.data_dir = data_dir
        self.remote = remote
        self.cache_bytes = cache_bytes
        self._cache: dict[Hashable, LoadedLayer | DecodedBatch] = {}
        """Loaded layers and decoded batches; a hit reads this dict without ``_lock`` (one
        atomic dict lookup: reads of every timeline used to take this one lock for an LRU
        move)."""
        self._used: dict[Hashable, int] = {}
        """Last use of each cached entry (``_tick``); written without the lock (a lost update
        only makes the LRU order a little less exact), read when evicting."""
        self._tick = 0
        self._cached = 0
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self.layers_loaded = 0
        self.batches_decoded = 0
        self.batch_bytes_decoded = 0

    def local_dir(self, tenant: str, timeline: str) -> str:
        return os.path.join(self.data_dir, "tenants", tenant, "timelines", timeline, "layers")

    def local_path(self, tenant: str, timeline: str, name: str) -> str:
        return os.path.join(self.local_dir(tenant, timeline), name)

    def write_local(self, tenant: str, timeline: str, name: str, data: bytes) -> None:
        os.makedirs(self.local_dir(tenant, timeline), exist_ok=True)
        write_file_atomic(self.local_path(tenant, timeline, name), data)

    def _forget(self, match: Callable[[str], bool]) -> None:
        """Drop the cached layers (and their batches) whose cache key ``match``es (caller
        holds ``_lock``)."""
        for ck in [k for k in self._cache if match(_layer_of(k))]:
            self._cached -= self._cache.pop(ck).nbytes
            self._used.pop(ck, None)
        metrics.CACHED_LAYER_BYTES.set(self._cached)

    def remove_local(self, tenant: str, timeline: str, name: str) -> None:
        try:
            os.unlink(self.local_path(tenant, timeline, name))
        except FileNotFoundError:
            pass
        gone = f"{tenant}/{timeline}/{name}"
        with self._lock:
            self._forget(lambda ck: ck == gone)

    def forget_timeline(self, tenant: str, timeline: str) -> None:
        """Delete a timeline's local files and drop its decoded layers (timeline deletion)."""
        shutil.rmtree(os.path.dirname(self.local_dir(tenant, timeline)), ignore_errors=True)
        prefix = f"{tenant}/{timeline}/"
        with self._lock:
            self._forget(lambda ck: ck.startswith(prefix))

    def drop_cache(self) -> int:
        with self._lock:
            n = sum(1 for k in self._cache if isinstance(k, str))
            self._cache.clear()
            self._used.clear()
            self._cached = 0
        metrics.CACHED_LAYER_BYTES.set(0)
        return n

    @property
    def cached_bytes(self) -> int:
        return self._cached

    def _remember(self, key: Hashable, value: LoadedLayer | DecodedBatch) -> None:
        """Cache ``value`` and evict down to EVICT_TO of the budget if over it, never the
        entry just added (caller holds ``_lock``)."""
        self._tick += 1
        self._used[key] = self._tick
        self._cache[key] = value
        self._cached += value.nbytes
        if self._cached > self.cache_bytes:
            target = self.cache_bytes * EVICT_TO
            for old in sorted(self._cache, key=lambda k: self._used.get(k, 0)):
                if self._cached <= target:
                    break
                if old != key:
                    self._cached -= self._cache.pop(old).nbytes
                    self._used.pop(old, None)
            for stale in [k for k in self._used if k not in self._cache]:
                self._used.pop(stale, None)  # a hit racing an eviction re-added it
        metrics.CACHED_LAYER_BYTES.set(self._cached)

    def get_batch(self, key: Hashable) -> DecodedBatch | None:
        """``BatchCache``: a decoded batch, if cached (no lock)."""
        hit = self._cache.get(key)
        if hit is None:
            return None
        self._tick += 1
        self._used[key] = self._tick
        return cast(DecodedBatch, hit)  # batch keys are tuples, layer keys strings

    def put_batch(self, key: Hashable, batch: DecodedBatch) -> None:
        with self._lock:
            self.batches_decoded += 1
            self.batch_bytes_decoded += batch.data.nbytes
            metrics.LAYER_BATCHES_DECODED.inc()
            if key not in self._cache:
                self._remember(key, batch)

    def load(self, tenant: str, timeline: str, desc: LayerDesc) -> LoadedLayer:
        """The loaded layer, from memory, else local disk (verified), else object storage."""
        ck = f"{tenant}/{timeline}/{desc.name}"
        hit = self._cache.get(ck)
        if hit is not None:
            self._tick += 1
            self._used[ck] = self._tick
            assert isinstance(hit, LoadedLayer)
            return hit
        with self._lock:
            lk = self._loading.setdefault(ck, threading.Lock())
        with lk:  # one loader per layer; others wait and then hit the cache
            with self._lock:
                hit = self._cache.get(ck)
                if hit is not None:
                    assert isinstance(hit, LoadedLayer)
                    return hit
            layer = self._load_uncached(tenant, timeline, desc, ck)
            with self._lock:
                self.layers_loaded += 1
                self._remember(ck, layer)
                self._loading.pop(ck, None)
            return layer

    def _load_uncached(self, tenant: str, timeline: str, desc: LayerDesc,
                       ck: str) -> LoadedLayer:
        path = self.local_path(tenant, timeline, desc.name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = None
        if data is not None:
            try:
                return LoadedLayer(data, desc.sha256, cache=self, cache_key=ck)
            except LayerCorrupt as exc:
                metrics.CORRUPT_LAYERS.inc()
                if not desc.remote:  # the only copy: keep it (and its upload fails loudly)
                    raise LayerUnavailable(
                        f"local layer {desc.name} is corrupt ({exc}) and was never uploaded"
                    ) from exc
                log.error("local layer %s is corrupt (%s); re-downloading", path, exc)
                os.unlink(path)
        if not desc.remote:
            raise LayerUnavailable(f"layer {desc.name} is not on local disk nor uploaded")
        t0 = time.monotonic()
        try:
            data = self.remote.get(layer_key(tenant, timeline, desc.name))
        except ObjectNotFound:
            raise LayerUnavailable(f"layer {desc.name} missing from object storage") from None
        metrics.DOWNLOADS.inc()
        metrics.DOWNLOAD_SECONDS.observe(time.monotonic() - t0)
        if sha256(data) != desc.sha256:
            raise LayerUnavailable(f"layer {desc.name} in object storage fails its checksum")
        layer = LoadedLayer(data, cache=self, cache_key=ck)
        self.write_local(tenant, timeline, desc.name, data)
        return layer


@dataclass
class _Task:
    seq: int
    what: str
    fn: Callable[[], None]


class UploadQueue:
    """One worker running uploads in FIFO order, so a manifest follows the layers it names.

    Bounded: ``submit`` blocks when ``maxsize`` tasks are pending, which back-pressures
    flushes and therefore ingest.
    """

    def __init__(self, maxsize: int = 64) -> None:
        self._q: queue.Queue[_Task | None] = queue.Queue(maxsize)
        self._cond = threading.Condition()
        self._submitted = 0
        self._done = 0
        self._thread = threading.Thread(target=self._run, name="uploader", daemon=True)
        self._thread.start()

    def submit(self, what: str, fn: Callable[[], None]) -> int:
        with self._cond:
            self._submitted += 1
            seq = self._submitted
        self._q.put(_Task(seq, what, fn))
        metrics.UPLOAD_QUEUE.set(self._q.qsize())
        return seq

    @property
    def depth(self) -> int:
        return self._submitted - self._done

    def wait(self, seq: int | None = None, timeout: float = 60.0) -> bool:
        """Wait until task ``seq`` (default: everything submitted so far) has completed."""
        with self._cond:
            target = self._submitted if seq is None else seq
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    def stop(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            task = self._q.get()
            if task is None:
                return
            delay = 0.1
            while True:
                try:
                    task.fn()
                    break
                except UploadAbandoned as exc:  # can never succeed: do not block the queue
                    metrics.UPLOAD_ERRORS.inc()
                    log.error("upload task %s abandoned: %s", task.what, exc)
                    break
                except Exception:  # keep order: retry this task until it succeeds
                    metrics.UPLOAD_ERRORS.inc()
                    log.exception("upload task %s failed; retrying in %.1fs", task.what, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
            with self._cond:
                self._done = task.seq
                self._cond.notify_all()
            metrics.UPLOAD_QUEUE.set(self._q.qsize())
