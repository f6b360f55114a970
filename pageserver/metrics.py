"""Prometheus metrics of the page server (served by ``--metrics-listen``)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

_TL = ["tenant", "timeline"]

RECEIVED_LSN = Gauge(
    "strata_pageserver_received_lsn", "End LSN of the last WAL record received", _TL
)
APPLIED_LSN = Gauge("strata_pageserver_applied_lsn", "End LSN of the last WAL record applied", _TL)
INGEST_LAG = Gauge("strata_pageserver_ingest_lag_bytes", "received_lsn - applied_lsn", _TL)
REMOTE_CONSISTENT_LSN = Gauge(
    "strata_pageserver_remote_consistent_lsn", "LSN durable in object storage", _TL
)
INGEST_FAILURES = Counter(
    "strata_pageserver_ingest_failures_total",
    "Failed attempts to read a log-fed timeline's WAL (each one is retried)",
    _TL,
)
INGEST_HEALTHY = Gauge(
    "strata_pageserver_ingest_healthy", "1 while a log-fed timeline ingests, 0 while retrying", _TL
)


class IngestCounts:
    """One timeline's WAL bytes and records ingested: plain ints its ingest adds to (under
    the timeline's ingest lock), summed when scraped (``IngestTotals``) instead of two
    locked ``Counter.inc`` per record."""

    __slots__ = ("bytes", "records", "__weakref__")

    def __init__(self) -> None:
        self.bytes = 0
        self.records = 0


class IngestTotals(Collector):
    """``strata_pageserver_ingest_bytes_total`` and ``_records_total``: the live timelines'
    ``IngestCounts`` plus those of timelines gone since."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[IngestCounts] = set()
        self._gone = IngestCounts()

    def track(self, owner: object) -> IngestCounts:
        """Counts for ``owner`` (a timeline), kept in the totals after it is gone."""
        c = IngestCounts()
        with self._lock:
            self._live.add(c)
        weakref.finalize(owner, self._retire, c)
        return c

    def _retire(self, c: IngestCounts) -> None:
        with self._lock:
            self._live.discard(c)
            self._gone.bytes += c.bytes
            self._gone.records += c.records

    def totals(self) -> tuple[int, int]:
        with self._lock:
            live = list(self._live)
            b, r = self._gone.bytes, self._gone.records
        return b + sum(c.bytes for c in live), r + sum(c.records for c in live)

    def collect(self) -> Iterator[CounterMetricFamily]:
        b, r = self.totals()
        yield CounterMetricFamily("strata_pageserver_ingest_bytes", "WAL bytes ingested", value=b)
        yield CounterMetricFamily("strata_pageserver_ingest_records", "WAL records ingested", value=r)


INGEST_TOTALS = IngestTotals()
REGISTRY.register(INGEST_TOTALS)

GETPAGE_SECONDS = Histogram(
    "strata_pageserver_getpage_seconds",
    "GetPage latency inside the server (includes LSN wait and layer loads)",
    buckets=(5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1, 0.5, 1, 5),
)
GETPAGE_ERRORS = Counter("strata_pageserver_getpage_errors_total", "Failed GetPage calls", ["code"])

LAYERS = Gauge("strata_pageserver_layers", "Layer files", ["kind", "location"])
LAYER_BYTES = Gauge("strata_pageserver_layer_bytes", "Layer file bytes", ["location"])
CACHED_LAYER_BYTES = Gauge(
    "strata_pageserver_cached_layer_bytes", "Loaded layers and decoded layer batches in memory"
)
LAYER_BATCHES_DECODED = Counter(
    "strata_pageserver_layer_batches_decoded_total",
    "Record batches of layer files decoded (a page read decodes its batch, not the file)",
)
UPLOAD_QUEUE = Gauge("strata_pageserver_upload_queue", "Pending upload tasks")
UPLOADS = Counter("strata_pageserver_uploads_total", "Objects uploaded", ["kind"])
UPLOAD_BYTES = Counter("strata_pageserver_upload_bytes_total", "Bytes uploaded")
UPLOAD_ERRORS = Counter("strata_pageserver_upload_errors_total", "Upload attempts that failed")
DOWNLOADS = Counter("strata_pageserver_downloads_total", "Layers downloaded on demand")
DOWNLOAD_SECONDS = Histogram("strata_pageserver_download_seconds", "Layer download time")
CORRUPT_LAYERS = Counter(
    "strata_pageserver_corrupt_layers_total", "Local layer files that failed their checksum"
)
FLUSHES = Counter("strata_pageserver_flushes_total", "In-memory layers flushed")
COMPACTIONS = Counter("strata_pageserver_compactions_total", "Image layers created")
COMPACTION_BYTES = Counter(
    "strata_pageserver_compaction_bytes_total",
    "Bytes of image layers written by compaction (kind: full = every key, partial = some partitions)",
    ["kind"],
)
MERGE_BYTES = Counter(
    "strata_pageserver_merge_bytes_total", "Bytes of merged delta layers written by compaction"
)
GC_RUNS = Counter("strata_pageserver_gc_runs_total", "GC passes")
GC_LAYERS_REMOVED = Counter("strata_pageserver_gc_layers_removed_total", "Layers removed by GC")
GC_BYTES_REMOVED = Counter("strata_pageserver_gc_bytes_removed_total", "Bytes removed by GC")
