"""Prometheus metrics of an acceptor, in a registry of their own (one per process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class AcceptorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.appends = Counter("logstore_appends", "Append requests accepted", registry=r)
        self.append_records = Counter("logstore_append_records", "Records appended", registry=r)
        self.append_bytes = Counter("logstore_append_bytes", "Payload bytes appended", registry=r)
        self.refused = Counter(
            "logstore_refused_requests", "Requests refused, by reason", ["reason"], registry=r
        )
        self.fsync_seconds = Histogram(
            "logstore_fsync_seconds",
            "fdatasync latency of one group commit",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.05, 0.1, 0.5, 1),
            registry=r,
        )
        self.group_size = Histogram(
            "logstore_group_commit_appends",
            "Append requests covered by one fsync",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=r,
        )
        self.term = Gauge("logstore_promised_term", "Highest term promised", registry=r)
        self.flush_lsn = Gauge("logstore_flush_lsn", "End of the durable log", registry=r)
        self.commit_lsn = Gauge("logstore_commit_lsn", "Commit LSN known here", registry=r)
        self.disk_bytes = Gauge("logstore_disk_bytes", "Bytes in local segment files", registry=r)
        self.segments = Gauge("logstore_segments", "Segments, local or offloaded", registry=r)
        self.uploads = Counter("logstore_segment_uploads", "Segments uploaded", registry=r)
        self.deletes = Counter("logstore_segment_deletes", "Local segments deleted", registry=r)

    def serve(self, host: str, port: int) -> None:
        """Expose /metrics over HTTP (a daemon thread)."""
        start_http_server(port, addr=host, registry=self.registry)
