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
