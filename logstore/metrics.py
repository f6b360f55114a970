"""Prometheus metrics of an acceptor, in a registry of their own (one per process).

The append path's counters and its two histograms are plain Python numbers exposed when
scraped (``_Totals``, ``_Histogram``): prometheus_client takes a lock per ``inc`` and per
``observe`` (seven per append with a group commit of one), a few % of an acceptor's Python
per message (issue 16, session 12). Same names and types as before.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector


class _Totals(Collector):
    """Counters of the append path, bumped as plain ints on the loop thread."""

    def __init__(self) -> None:
        self.appends = 0
        self.records = 0
        self.bytes = 0

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("logstore_appends", "Append requests accepted", value=self.appends)
        yield CounterMetricFamily("logstore_append_records", "Records appended", value=self.records)
        yield CounterMetricFamily("logstore_append_bytes", "Payload bytes appended", value=self.bytes)


class _Histogram(Collector):
    """A histogram observed from one thread (the loop) without a lock."""

    def __init__(self, name: str, doc: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.doc = doc
        self.bounds = list(buckets)
        self.counts = [0] * (len(self.bounds) + 1)  # the last: above every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1  # bucket: value <= bound
        self.sum += value

    def collect(self) -> Iterator[Metric]:
        cum = 0
        buckets: list[tuple[str, float]] = []
        for bound, n in zip([*map(str, map(float, self.bounds)), "+Inf"], list(self.counts), strict=True):
            cum += n
            buckets.append((bound, cum))
        yield HistogramMetricFamily(self.name, self.doc, buckets=buckets, sum_value=self.sum)


class AcceptorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.totals = _Totals()
        r.register(self.totals)
        self.refused = Counter(
            "logstore_refused_requests", "Requests refused, by reason", ["reason"], registry=r
        )
        self.fsync_seconds = _Histogram(
            "logstore_fsync_seconds",
            "fdatasync latency of one group commit",
            (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.05, 0.1, 0.5, 1),
        )
        r.register(self.fsync_seconds)
        self.group_size = _Histogram(
            "logstore_group_commit_appends",
            "Append requests covered by one fsync",
            (1, 2, 4, 8, 16, 32, 64, 128),
        )
        r.register(self.group_size)
        per_log = ["tenant", "timeline"]
        self.term = Gauge("logstore_promised_term", "Highest term promised", per_log, registry=r)
        self.flush_lsn = Gauge("logstore_flush_lsn", "End of the durable log", per_log, registry=r)
        self.commit_lsn = Gauge("logstore_commit_lsn", "Commit LSN known here", per_log, registry=r)
        self.disk_bytes = Gauge("logstore_disk_bytes", "Bytes in local segment files", per_log, registry=r)
        self.segments = Gauge("logstore_segments", "Segments, local or offloaded", per_log, registry=r)
        self.logs = Gauge("logstore_logs", "Logs hosted by this acceptor", registry=r)
        self.uploads = Counter("logstore_segment_uploads", "Segments uploaded", registry=r)
        self.deletes = Counter("logstore_segment_deletes", "Local segments deleted", registry=r)

    def forget_log(self, tenant: str, timeline: str) -> None:
        """Drop a deleted log's series (so 1000 logs created and deleted leave nothing behind)."""
        for g in (self.term, self.flush_lsn, self.commit_lsn, self.disk_bytes, self.segments):
            try:
                g.remove(tenant, timeline)
            except KeyError:
                pass

    def serve(self, host: str, port: int) -> None:
        """Expose /metrics over HTTP (a daemon thread)."""
        start_http_server(port, addr=host, registry=self.registry)
